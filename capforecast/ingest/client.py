"""The one place that talks HTTP to Prometheus: timeouts, retries with backoff, bounded concurrency.

:class:`RangeClient` sends ``/api/v1/query_range`` requests over a :class:`~capforecast.ingest.connection.
Connection`'s ``requests`` session (the session prometheus-api-client's ``PrometheusConnect`` uses too).
A 429, a 5xx, a timeout or a refused connection is retried ``retries`` times with exponential backoff
(``Retry-After`` is honoured, in seconds or as an HTTP-date) and a random extra wait of up to 25 % per
chunk, so workers that hit a 429 together do not come back together; anything else, or exhausted retries,
raises :class:`~capforecast.errors.IngestError` naming the query, the time range, the server and what it
said. Secrets are scrubbed from every message and log line.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from capforecast._units import format_duration, format_time
from capforecast.errors import IngestError
from capforecast.ingest.chunks import Decoded, decode, decode_body
from capforecast.ingest.connection import Connection

if TYPE_CHECKING:  # pragma: no cover
    import requests

__all__ = ["RangeClient", "describe_range"]

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")
R = TypeVar("R")


def _short(promql: str, limit: int = 160) -> str:
    text = " ".join(promql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_range(promql: str, start: float, end: float, step: float) -> str:
    """``query 'x' from 2026-05-01T00:00:00Z to ... step 1m`` for error messages."""
    return (
        f"query {_short(promql)!r} from {format_time(start)} to {format_time(end)} step "
        f"{format_duration(pd.Timedelta(seconds=step))}"
    )


class _Retryable(Exception):
    def __init__(self, said: str, wait: float | None = None) -> None:
        super().__init__(said)
        self.said = said
        self.wait = wait


class RangeClient:
    """Run range queries against one server with retries, timeouts and a bound on concurrent requests.

    Parameters
    ----------
    connection : Connection
        Where and how to connect (also holds ``timeout``, ``retries``, ``backoff`` and ``workers``).
    session : requests.Session, optional
        Reuse this session (e.g. a ``PrometheusConnect``'s); by default ``connection.session()``.

    Examples
    --------
    >>> client = RangeClient(Connection("http://prometheus:9090"))  # doctest: +SKIP
    >>> client.query_range("sum by (pool) (gpu_used)", 1777593600, 1777597200, 60)  # doctest: +SKIP
    [((('pool', 'a100'),), array([1777593600000, ...]), array([12., ...]))]
    """

    def __init__(self, connection: Connection, session: requests.Session | None = None) -> None:
        self.connection = connection
        self._session = session
        self._abort = threading.Event()  # set when one chunk failed for good: the others stop retrying
        self.requests_sent = 0

    @property
    def session(self) -> requests.Session:
        """The HTTP session (built on first use, so a missing secret is reported when it is needed)."""
        if self._session is None:
            self._session = self.connection.session()
        return self._session

    def close(self) -> None:
        """Close the session (only if this client built it)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> RangeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ one request
    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Decoded]:
        """One ``/api/v1/query_range`` call (retried as configured); returns ``(labels, ts_ms, y)`` per series."""
        conn = self.connection
        params = {"query": promql, "start": _num(start), "end": _num(end), "step": _num(step)}
        attempts = conn.retries + 1
        said, attempt = "", 0
        jitter = random.Random(f"{promql}|{start}|{end}|{step}")  # each chunk its own: workers do not retry in step
        for attempt in range(1, attempts + 1):  # noqa: B007 - the last value goes into the message
            try:
                return self._once(params)
            except _Refused as exc:
                raise IngestError(conn.scrub(f"{exc}; {describe_range(promql, start, end, step)}")) from None
            except _Retryable as exc:
                said = exc.said
                if attempt == attempts or self._abort.is_set():
                    break
                pause = retry_pause(conn.backoff, conn.max_backoff, attempt, exc.wait, jitter)
                logger.warning(
                    "prometheus: %s; retry %d of %d in %.2fs (%s)",
                    conn.scrub(said), attempt, conn.retries, pause, describe_range(promql, start, end, step),
                )
                time.sleep(pause)
        raise IngestError(conn.scrub(
            f"Prometheus at {conn.display_url} failed after {attempt} attempt(s): {said}; "
            f"{describe_range(promql, start, end, step)}; check that the server is up and reachable, "
            "or retry later with more --retries or a longer --timeout"
        ))

    def _once(self, params: dict[str, str]) -> list[Decoded]:
        import requests

        conn = self.connection
        url = f"{conn.url}/api/v1/query_range"
        kwargs: dict[str, Any] = {"data": params} if conn.method == "POST" else {"params": params}
        self.requests_sent += 1
        session = self.session
        try:
            # verify= per request: left out, requests replaces the session's CA file or verify=False by
            # $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE when they are set (psf/requests#3829)
            resp = session.request(conn.method, url, timeout=conn.timeout, verify=session.verify, **kwargs)
        except requests.exceptions.SSLError as exc:
            if _CERT_FAILED.search(str(exc)):
                raise _Refused(_tls_hint(conn, str(exc))) from None
            raise _Retryable(f"TLS handshake failed ({_ssl_reason(str(exc))})") from None
        except requests.Timeout:
            raise _Retryable(f"no answer within the {conn.timeout:g}s timeout") from None
        except requests.ConnectionError as exc:
            if "timed out" in str(exc).lower():
                raise _Retryable(f"no answer within the {conn.timeout:g}s timeout") from None
            raise _Retryable(f"cannot connect ({type(exc).__name__})") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise _Retryable("the connection broke in the middle of the answer") from None
        except requests.RequestException as exc:
            raise IngestError(conn.scrub(
                f"request to Prometheus at {conn.display_url} failed: {exc}; check the URL and TLS settings"
            )) from None
        try:
            return _result(resp, conn)
        finally:
            resp.close()

    # ------------------------------------------------------------------------------------------ many at once
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]`` with at most ``connection.workers`` running at once, results in order.

        The first error stops the rest: queued calls are cancelled and the error is raised.
        """
        if self.connection.workers == 1 or len(items) <= 1:
            return [fn(x) for x in items]
        _ = self.session  # build it once, before the threads share it
        self._abort.clear()
        with ThreadPoolExecutor(max_workers=self.connection.workers, thread_name_prefix="capforecast-ingest") as ex:
            futures = [ex.submit(fn, x) for x in items]
            done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
            for fut in futures:
                if fut in done and fut.exception() is not None:
                    self._abort.set()
                    ex.shutdown(wait=True, cancel_futures=True)
                    raise fut.exception()  # type: ignore[misc]
            return [f.result() for f in futures]


_VM_MAX_POINTS = re.compile(r"cannot exceed -search\.maxPointsPerTimeseries=(\d+)")
_CERT_FAILED = re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed", re.IGNORECASE)


def _ssl_reason(error: str) -> str:
    """``certificate verify failed: unable to get local issuer certificate`` out of a requests SSLError."""
    found = re.search(r"\[SSL(?:: [A-Z_]+)?\] (.+?)\.?\s*\(_ssl\.c:\d+\)", error)
    return found.group(1) if found else error.rsplit("(Caused by ", 1)[-1].rstrip(")")[:200]


def _tls_hint(conn: Connection, error: str) -> str:
    said = f"TLS certificate verification failed for Prometheus at {conn.display_url} ({_ssl_reason(error)})"
    if conn.ca_file is None:
        return (f"{said}; give the CA bundle that signed the server's certificate with --ca-file PATH "
                "(ca_file), or turn verification off with --insecure (verify_tls=False; test clusters only)")
    return (f"{said} with the CA bundle {conn.ca_file}; check that it holds the CA that signed the server's "
            "certificate and that the certificate names the host in the URL, or turn verification off with "
            "--insecure (verify_tls=False; test clusters only)")


def _num(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def _server_said(resp: requests.Response) -> str:
    try:
        body = resp.json()
        said = str(body.get("error") or body)
    except ValueError:
        said = resp.text.strip()
    said = " ".join(said.split())
    return f"HTTP {resp.status_code}" + (f" {said[:300]!r}" if said else "")


def retry_pause(backoff: float, max_backoff: float, attempt: int, wait: float | None, rng: random.Random) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): ``backoff * 2**(attempt - 1)``, at least the server's
    ``Retry-After`` ``wait``, at most ``max_backoff``; then up to 25 % later at random (``rng``), never earlier.

    Examples
    --------
    >>> 2.0 <= retry_pause(0.5, 30.0, 3, None, random.Random(0)) <= 2.5
    True
    """
    base = backoff * 2 ** (attempt - 1)
    if wait is not None:
        base = max(base, wait)
    return min(max_backoff, base) * (1.0 + 0.25 * rng.random())


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delay-seconds (``120``) or an HTTP-date (``Fri, 31 Dec 1999
    23:59:59 GMT``, counted from ``now``, 0 when past); ``None`` when absent or unreadable.

    Examples
    --------
    >>> retry_after_seconds("1.5"), retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", now=0.0)
    (1.5, 60.0)
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _result(resp: requests.Response, conn: Connection) -> list[Decoded]:
    if resp.status_code in RETRY_STATUS:
        raise _Retryable(_server_said(resp), retry_after_seconds(resp.headers.get("Retry-After")))
    if resp.status_code != 200:
        hint = {
            401: "check the credentials (--token-env/--token-file, --user/--password-env)",
            403: "the credentials lack permission to query; ask for read access",
            404: "the URL does not serve the Prometheus HTTP API; use the base URL, e.g. http://host:9090",
        }.get(resp.status_code, "fix the query or the time range")
        if "HTTP request to an HTTPS server" in resp.text:
            hint = "the server speaks HTTPS: write the URL as https://..."
        if "maximum resolution" in resp.text:
            hint = "lower --max-points (max_points) to 11000 or less, the most Prometheus accepts per series"
        if limit := _VM_MAX_POINTS.search(resp.text):  # VictoriaMetrics: "cannot exceed -search.max...=30000"
            hint = (f"lower --max-points (max_points) to {limit.group(1)} or less, the most this VictoriaMetrics "
                    "accepts per series (its -search.maxPointsPerTimeseries)")
        raise _Refused(f"Prometheus at {conn.display_url} refused the request: {_server_said(resp)}; {hint}")
    fast = decode_body(resp.content)
    if fast is not None:
        return fast
    try:
        body = resp.json()
    except ValueError:
        raise _Refused(
            f"Prometheus at {conn.display_url} answered 200 but not with JSON ({resp.text[:80]!r}); "
            "check that the URL points at the Prometheus HTTP API"
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("data", {}), dict):
        raise _Refused(f"Prometheus at {conn.display_url} answered JSON that is not a query_range answer "
                       f"({resp.text[:80]!r}); check that the URL points at the Prometheus HTTP API")
    if body.get("status") != "success" or "data" not in body:
        raise _Refused(f"Prometheus at {conn.display_url} reported an error: {body.get('error', body)}")
    data = body["data"]
    if data.get("resultType") != "matrix":
        raise _Refused(f"expected a range vector (matrix) from query_range, got {data.get('resultType')!r}")
    try:
        return decode(data.get("result") or [])
    except IngestError as exc:
        raise _Refused(f"Prometheus at {conn.display_url} answered a result capforecast cannot read: {exc}; check "
                       "that the URL points at the Prometheus HTTP API") from None


class _Refused(IngestError):
    """A non-retryable answer; :func:`RangeClient.query_range` adds the query and range to its message."""
