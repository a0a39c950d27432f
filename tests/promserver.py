"""A real, throw-away Prometheus server with backfilled data, for tests and benchmarks.

Write the samples you want as OpenMetrics text, backfill them with ``promtool tsdb create-blocks-from
openmetrics`` and start Debian's ``prometheus`` on 127.0.0.1 on a free port. Nothing is mocked: the HTTP API,
PromQL, lookback and staleness are Prometheus's own.

Examples
--------
>>> import numpy as np
import pandas as pd
>>> from tests.promserver import PrometheusServer, Series
>>> ts = np.arange(1_700_000_000, 1_700_003_600, 60)
>>> series = [Series("gpu_used", {"pool": "a100"}, ts, np.ones(len(ts)))]
>>> with PrometheusServer.from_samples(series, tmp_path) as server:  # doctest: +SKIP
...     requests.get(server.url + "/api/v1/query", params={"query": "gpu_used"})

The API (``Series``, ``write_openmetrics``, ``PrometheusServer.from_samples/start/stop/url``) is kept stable
for other test suites (the nightly job's) to reuse.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PrometheusNotInstalled", "PrometheusServer", "Series", "write_openmetrics"]

INSTALL_HINT = (
    "`prometheus` and `promtool` are not on PATH: run `make test`, which installs Debian's prometheus package "
    "(or: apt-get install -y --no-install-recommends prometheus)"
)


class PrometheusNotInstalled(RuntimeError):
    """``prometheus`` or ``promtool`` is missing; the message says how to get them."""


@dataclass(frozen=True)
class Series:
    """One time series to backfill: metric name, labels, Unix-seconds timestamps and values.

    Timestamps must be whole seconds and strictly increasing; NaN values are written as ``NaN`` samples
    (leave a timestamp out to make a hole). ``kind`` is the OpenMetrics type line; for a counter named
    ``x_total`` use ``"unknown"`` (OpenMetrics' ``counter`` wants the family name without ``_total``).
    """

    name: str
    labels: Mapping[str, str]
    timestamps: np.ndarray
    values: np.ndarray
    kind: str = field(default="gauge")


def unix_seconds(ds: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Whole Unix seconds of UTC timestamps (what :class:`Series` and promtool take)."""
    return np.asarray((ds - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1), dtype=np.int64)


def _label_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    parts = []
    for key in sorted(labels):
        value = str(labels[key]).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{value}"')
    return "{" + ",".join(parts) + "}"


def _value_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def write_openmetrics(series: Iterable[Series], path: str | Path) -> Path:
    """Write ``series`` as OpenMetrics text (seconds timestamps, in order, ending ``# EOF``) to ``path``."""
    path = Path(path)
    families: dict[str, list[Series]] = {}
    kinds: dict[str, str] = {}
    for s in series:
        families.setdefault(s.name, []).append(s)
        kinds[s.name] = s.kind
    with path.open("w", encoding="utf-8") as out:
        for name, members in families.items():
            out.write(f"# TYPE {name} {kinds[name]}\n")
            for s in members:
                ts = np.asarray(s.timestamps, dtype=np.int64)
                if len(ts) > 1 and np.any(np.diff(ts) <= 0):
                    raise ValueError(f"{name}{_label_text(s.labels)}: timestamps must be strictly increasing")
                prefix = name + _label_text(s.labels) + " "
                values = np.asarray(s.values, dtype=np.float64)
                if len(values) != len(ts):
                    raise ValueError(f"{name}{_label_text(s.labels)}: {len(ts)} timestamps but {len(values)} values")
                lines = zip(ts.tolist(), values.tolist(), strict=True)
                out.write("".join(f"{prefix}{_value_text(v)} {t}\n" for t, v in lines))
        out.write("# EOF\n")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binaries() -> None:
    """Raise :class:`PrometheusNotInstalled` unless both ``prometheus`` and ``promtool`` are on PATH."""
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        raise PrometheusNotInstalled(INSTALL_HINT)


class ServerProcess:
    """A test server run as a child process (``self._proc``, its log ``self._log``); subclasses define
    ``start()``. Stopping is the same for every server: SIGTERM, then SIGKILL after 10 s."""

    _proc: subprocess.Popen[bytes] | None = None
    _log: Any = None

    def start(self) -> ServerProcess:  # pragma: no cover - defined by each server
        raise NotImplementedError

    def _poll(self, url: str, timeout: float, context: ssl.SSLContext | None = None) -> bool:
        """Whether ``url`` answers 200 within ``timeout`` seconds while the process runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Any:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # a forgotten server must not outlive the test run
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class PrometheusServer(ServerProcess):
    """A local ``prometheus`` process serving a TSDB directory; use as a context manager.

    Parameters
    ----------
    data_dir : path
        TSDB directory (e.g. filled by :meth:`from_samples`).
    extra_args : list of str, optional
        More ``prometheus`` flags, e.g. ``["--query.lookback-delta=1m"]``.
    web_config : mapping, optional
        Prometheus's ``--web.config.file`` contents, e.g. ``{"tls_server_config": {"cert_file": ...,
        "key_file": ...}}``; with ``tls_server_config`` the server speaks HTTPS only and :attr:`url` is
        ``https://``. Default: none (plain HTTP).
    scrape_configs : list of mappings, optional
        Prometheus's ``scrape_configs`` (e.g. a job scraping an exporter on 127.0.0.1); default: none, the
        server only serves what was backfilled.
    """

    def __init__(
        self, data_dir: str | Path, extra_args: Iterable[str] = (), web_config: Mapping[str, object] | None = None,
        scrape_configs: Iterable[Mapping[str, object]] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.web_config = None if web_config is None else dict(web_config)
        self.scrape_configs = [dict(c) for c in scrape_configs]
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @classmethod
    def from_samples(
        cls, series: Iterable[Series], directory: str | Path, extra_args: Iterable[str] = (),
        web_config: Mapping[str, object] | None = None, scrape_configs: Iterable[Mapping[str, object]] = (),
    ) -> PrometheusServer:
        """Backfill ``series`` into ``directory/tsdb`` with promtool and return a (not yet started) server."""
        require_binaries()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        text = write_openmetrics(series, directory / "samples.om.txt")
        tsdb = directory / "tsdb"
        tsdb.mkdir(exist_ok=True)
        done = subprocess.run(
            [
                "promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                # the default 2h blocks make promtool re-read the whole input once per block (minutes for
                # 30 days); big blocks take seconds. Hidden flag of promtool 2.x.
                "--max-block-duration=720h",
                str(text), str(tsdb),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"promtool backfill failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        text.unlink()
        return cls(tsdb, extra_args, web_config, scrape_configs)

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:40123`` (``https://`` with TLS)."""
        if self.port is None:
            raise RuntimeError("server not started; call start() or use it as a context manager")
        scheme = "https" if self.web_config and "tls_server_config" in self.web_config else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        """Start ``prometheus`` and wait until ``/-/ready`` answers 200."""
        require_binaries()
        config = self.data_dir.parent / "prometheus.yml"
        settings = {"global": {"scrape_interval": "1m"}, "scrape_configs": self.scrape_configs}
        config.write_text(json.dumps(settings, default=str), encoding="utf-8")  # JSON is YAML
        web_args = []
        if self.web_config is not None:  # JSON is YAML
            web = self.data_dir.parent / "web.yml"
            web.write_text(json.dumps(self.web_config, default=str), encoding="utf-8")
            web_args = [f"--web.config.file={web}"]
        for _attempt in range(3):
            self.port = _free_port()
            self._log = open(self.data_dir.parent / "prometheus.log", "ab")  # noqa: SIM115
            self._proc = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.data_dir}",
                    "--storage.tsdb.retention.time=100y",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    *web_args,
                    *self.extra_args,
                ],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir.parent,
            )
            if self._wait_ready(timeout):
                return self
            self.stop()
        log = (self.data_dir.parent / "prometheus.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"prometheus did not become ready; its log ends:\n{log}")

    def _wait_ready(self, timeout: float) -> bool:
        # readiness only: whether the certificate verifies is for the tests to check, not for this wait
        context = ssl._create_unverified_context() if self.url.startswith("https") else None
        return self._poll(self.url + "/-/ready", timeout, context)

