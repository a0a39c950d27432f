"""How to reach a Prometheus-compatible server: URL, credentials, TLS, timeout, retries, concurrency.

:class:`Connection` holds the settings; secrets (bearer token, basic-auth password) are given as a
:class:`~capforecast.config.SecretRef` (an environment variable or a file, read only when the session is
built) or as a plain string in a notebook; they never appear in a ``repr``, a log line or an error
(:meth:`Connection.scrub`). :meth:`Connection.client` builds prometheus-api-client's ``PrometheusConnect`` on
the same ``requests`` session, for anything else you want to ask the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from capforecast._units import parse_duration
from capforecast.config import SecretRef
from capforecast.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import requests
    from prometheus_api_client import PrometheusConnect

    from capforecast.config import PrometheusConfig

__all__ = ["Connection", "SecretRef"]

_SECRET_HEADER = re.compile(r"authorization|token|key|secret|cookie|password", re.IGNORECASE)


def _resolve(secret: SecretRef | str | None) -> str | None:
    if secret is None or isinstance(secret, str):
        return secret
    return secret.resolve()


@dataclass(frozen=True, repr=False)
class Connection:
    """Settings for one Prometheus (or Thanos, Mimir, VictoriaMetrics) HTTP API.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``http://prometheus:9090`` (a path prefix such as ``/prometheus`` is kept).
    token : SecretRef or str, optional
        Bearer token, e.g. ``SecretRef(env="PROM_TOKEN")`` or ``SecretRef(file=Path("/var/run/token"))``.
    username, password : str and SecretRef or str, optional
        HTTP basic auth (not together with ``token``).
    headers : mapping, optional
        Extra request headers, e.g. ``{"X-Scope-OrgID": "team-a"}`` for Mimir.
    ca_file : path, optional
        CA bundle to verify the server's TLS certificate.
    verify_tls : bool
        ``False`` turns TLS verification off (test clusters only).
    timeout : duration
        Per-request timeout (``"30s"``, seconds, Timedelta).
    retries : int
        Extra attempts after a 429, a 5xx, a timeout or a refused connection.
    backoff : duration
        First wait between attempts; doubled each time, at least the server's ``Retry-After``, capped at
        ``max_backoff``, then up to 25 % longer at random (per chunk, so workers do not retry in step).
    workers : int
        Chunk requests in flight at once.
    method : {"GET", "POST"}
        HTTP method for ``/api/v1/query_range`` (POST for very long PromQL).
    compress : bool
        Ask for gzip answers: 4x fewer bytes, but Prometheus spends several times longer compressing than
        answering, so turn it on only for a slow link (across regions), not inside the cluster.

    Examples
    --------
    >>> conn = Connection("http://prometheus:9090", token=SecretRef(env="PROM_TOKEN"), timeout="10s")
    >>> conn
    Connection(url='http://prometheus:9090', token=SecretRef(env='PROM_TOKEN'), timeout=10.0s)
    """

    url: str
    token: SecretRef | str | None = None
    username: str | None = None
    password: SecretRef | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_file: str | Path | None = None
    verify_tls: bool = True
    timeout: Any = 30.0
    retries: int = 3
    backoff: Any = 0.5
    max_backoff: Any = 30.0
    workers: int = 4
    method: str = "GET"
    compress: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(str(self.url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"Prometheus URL {self.display_url!r} is not an http(s) URL; write e.g. http://prometheus:9090"
            )
        if self.token is not None and (self.username is not None or self.password is not None):
            raise ConfigError("Prometheus connection: use either a bearer token or basic auth, not both")
        if (self.username is None) != (self.password is None):
            raise ConfigError("Prometheus connection: basic auth needs both a username and a password")
        for name in ("timeout", "backoff", "max_backoff"):
            seconds = parse_duration(getattr(self, name), name=name).total_seconds()
            object.__setattr__(self, name, seconds)
        if self.timeout <= 0:
            raise ConfigError("Prometheus connection: timeout must be positive, e.g. '30s'")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigError(f"Prometheus connection: retries must be an integer >= 0, got {self.retries!r}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"Prometheus connection: workers must be an integer >= 1, got {self.workers!r}")
        method = str(self.method).upper()
        if method not in ("GET", "POST"):
            raise ConfigError(f"Prometheus connection: method must be GET or POST, got {self.method!r}")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "url", str(self.url).rstrip("/"))
        object.__setattr__(self, "headers", dict(self.headers))

    @classmethod
    def from_config(cls, cfg: PrometheusConfig, **overrides: Any) -> Connection:
        """Build from the nightly job's ``prometheus:`` section (:class:`capforecast.config.PrometheusConfig`)."""
        kwargs: dict[str, Any] = {
            "url": cfg.url,
            "token": cfg.token,
            "username": cfg.username,
            "password": cfg.password,
            "headers": dict(cfg.headers),
            "ca_file": cfg.ca_file,
            "verify_tls": cfg.verify_tls,
            "timeout": cfg.timeout,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def display_url(self) -> str:
        """The URL without any ``user:password@`` part, safe to print."""
        parts = urlsplit(str(self.url))
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    def secrets(self) -> list[str]:
        """Every secret value this connection may send (resolved now), for :meth:`scrub`."""
        found: list[str] = []
        for secret in (self.token, self.password):
            try:
                value = _resolve(secret)
            except ConfigError:
                value = None
            if value:
                found.append(value)
        parts = urlsplit(str(self.url))
        found += [v for v in (parts.password, parts.username) if v]
        found += [str(v) for k, v in self.headers.items() if _SECRET_HEADER.search(k) and v]
        return sorted(set(found), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """Replace every secret value in ``text`` by ``***``."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text

    def session(self) -> requests.Session:
        """A ``requests`` session with auth, headers and TLS set; reads the secrets now (ConfigError if absent)."""
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        session = requests.Session()
        if not self.compress:
            session.headers["Accept-Encoding"] = "identity"
        session.headers.update(self.headers)
        token = _resolve(self.token)
        if token is not None:
            session.headers["Authorization"] = f"Bearer {token}"
        if self.username is not None:
            session.auth = (self.username, _resolve(self.password) or "")
        session.verify = str(self.ca_file) if self.ca_file is not None and self.verify_tls else self.verify_tls
        if self.ca_file is not None and not Path(self.ca_file).is_file():
            raise ConfigError(f"Prometheus connection: CA bundle {self.ca_file} does not exist; fix the path")
        # retries happen in capforecast.ingest.client only, where they are counted, logged and reported
        no_retry = Retry(total=0, read=False, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=no_retry, pool_maxsize=max(10, self.workers))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def client(self, session: requests.Session | None = None) -> PrometheusConnect:
        """prometheus-api-client's ``PrometheusConnect`` on this connection's session (same auth and TLS)."""
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        return PrometheusConnect(
            url=self.url,
            session=session or self.session(),
            retry=Retry(total=0, read=False, raise_on_status=False),
            timeout=self.timeout,
            method=self.method,
        )

    def __repr__(self) -> str:
        shown = [f"url={self.display_url!r}"]
        if self.token is not None:
            shown.append(f"token={self.token!r}" if isinstance(self.token, SecretRef) else "token='***'")
        if self.username is not None:
            shown.append(f"username={self.username!r}, password=" + (
                repr(self.password) if isinstance(self.password, SecretRef) else "'***'"))
        if self.headers:
            shown.append("headers={" + ", ".join(
                f"{k!r}: " + ("'***'" if _SECRET_HEADER.search(k) else repr(v)) for k, v in self.headers.items()
            ) + "}")
        if self.ca_file is not None:
            shown.append(f"ca_file={str(self.ca_file)!r}")
        if not self.verify_tls:
            shown.append("verify_tls=False")
        shown.append(f"timeout={self.timeout}s")
        return "Connection(" + ", ".join(shown) + ")"
