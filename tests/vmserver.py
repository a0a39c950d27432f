"""A real, throw-away VictoriaMetrics server seeded with known samples, for tests.

Start Debian's single-node ``victoria-metrics`` on 127.0.0.1 on a free port with a temporary storage
directory, seed it through its import API (``POST /api/v1/import/prometheus``: Prometheus text exposition with
millisecond timestamps), make the samples searchable at once (``GET /internal/force_flush``), and stop it after.
Nothing is mocked: the query API, MetricsQL's look-back and the per-query limits are VictoriaMetrics's own.

Examples
--------
>>> import numpy as np
>>> from tests.promserver import Series
>>> from tests.vmserver import VictoriaMetricsServer
>>> ts = np.arange(1_700_000_000, 1_700_003_600, 60)
>>> series = [Series("gpu_used", {"pool": "a100"}, ts, np.ones(len(ts)))]
>>> with VictoriaMetricsServer(tmp_path).start().seed(series) as server:  # doctest: +SKIP
...     requests.get(server.url + "/api/v1/query_range", params={"query": "gpu_used", ...})

The series are the same :class:`tests.promserver.Series` that :class:`tests.promserver.PrometheusServer`
backfills, so one data set can be served by both.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .promserver import Series, ServerProcess, _free_port, _label_text, _value_text

__all__ = ["BINARY", "INSTALL_HINT", "VictoriaMetricsServer", "exposition_lines"]

BINARY = "victoria-metrics"
INSTALL_HINT = (
    "`victoria-metrics` is not on PATH: run `make test`, which installs Debian's victoria-metrics package "
    "(or: apt-get install -y --no-install-recommends victoria-metrics)"
)
# Flags every test server gets: keep data of any age (the default keeps one month, and the fixtures' data is
# from May 2026), and no background self-scraping or telemetry.
BASE_FLAGS = ("-retentionPeriod=100y", "-loggerLevel=WARN")


def exposition_lines(series: Iterable[Series]) -> Iterator[str]:
    """Prometheus text exposition lines, ``name{labels} value timestamp_ms``, one per sample."""
    for s in series:
        ts = np.asarray(s.timestamps, dtype=np.int64)
        values = np.asarray(s.values, dtype=np.float64)
        if len(values) != len(ts):
            raise ValueError(f"{s.name}{_label_text(s.labels)}: {len(ts)} timestamps but {len(values)} values")
        prefix = s.name + _label_text(s.labels) + " "
        for t, v in zip((ts * 1000).tolist(), values.tolist(), strict=True):
            yield f"{prefix}{_value_text(v)} {t}\n"


class VictoriaMetricsServer(ServerProcess):
    """A local single-node ``victoria-metrics`` process; use as a context manager.

    Parameters
    ----------
    directory : path
        Holds the storage (``directory/data``) and the server's log (``directory/victoria-metrics.log``).
    extra_args : list of str, optional
        More flags, e.g. ``["-search.maxPointsPerTimeseries=4000"]``.
    """

    def __init__(self, directory: str | Path, extra_args: Iterable[str] = ()) -> None:
        self.directory = Path(directory)
        self.extra_args = list(extra_args)
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self.port is None:
            raise RuntimeError("server not started; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        """The end of the server's log, for failure messages."""
        path = self.directory / "victoria-metrics.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def start(self, timeout: float = 60.0) -> VictoriaMetricsServer:
        """Start ``victoria-metrics`` and wait until ``/health`` answers 200."""
        if shutil.which(BINARY) is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.directory.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            self.port = _free_port()
            self._log = open(self.directory / "victoria-metrics.log", "ab")  # noqa: SIM115
            self._proc = subprocess.Popen(
                [
                    BINARY,
                    f"-storageDataPath={self.directory / 'data'}",
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    *BASE_FLAGS,
                    *self.extra_args,
                ],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"victoria-metrics did not become ready; its log ends:\n{self.log}")

    def _wait_ready(self, timeout: float) -> bool:
        return self._poll(self.url + "/health", timeout)

    def seed(self, series: Iterable[Series], batch_lines: int = 200_000) -> VictoriaMetricsServer:
        """Import ``series`` through ``/api/v1/import/prometheus``, then ``/internal/force_flush`` so that
        every sample is searchable when this returns."""
        batch: list[str] = []
        for line in exposition_lines(series):
            batch.append(line)
            if len(batch) >= batch_lines:
                self._post("/api/v1/import/prometheus", "".join(batch).encode())
                batch.clear()
        if batch:
            self._post("/api/v1/import/prometheus", "".join(batch).encode())
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=60) as resp:
            if resp.status != 200:
                raise RuntimeError(f"victoria-metrics force_flush answered HTTP {resp.status}")
        return self

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(self.url + path, data=body, method="POST",
                                         headers={"Content-Type": "text/plain"})
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"victoria-metrics import failed: HTTP {exc.code} {exc.read()[:500]!r}") from None
        if status not in (200, 204):
            raise RuntimeError(f"victoria-metrics import answered HTTP {status}")
