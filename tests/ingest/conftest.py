"""Fixtures for the ingest tests: one real Prometheus per session, backfilled with known data, and a chaos proxy.

The server holds (all timestamps in Unix seconds, steps of one minute):

* ``gpu_used{pool}`` for three pools over 30 days (43,201 points each, four times Prometheus's limit);
* ``DCGM_FI_DEV_GPU_UTIL{Hostname,gpu}`` for 2 hosts x 2 GPUs over the same 30 days;
* ``gpu_hole{pool="a100"}``: one day with a two-hour hole;
* ``jobs_total{pool="a100"}``: a counter rising 1 per second that resets once;
* kube-state-metrics, Kueue and vLLM series for the presets (one day).

``vm`` serves the same data from a real VictoriaMetrics (``tests/vmserver.py``), seeded through its import API.
"""

from __future__ import annotations

import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from ..promserver import INSTALL_HINT, PrometheusServer, Series
from ..vmserver import BINARY as VM_BINARY
from ..vmserver import INSTALL_HINT as VM_INSTALL_HINT
from ..vmserver import VictoriaMetricsServer

START = 1_777_593_600  # 2026-05-01T00:00:00Z
DAYS = 30
END = START + DAYS * 86_400
MINUTE_TS = np.arange(START, END + 1, 60, dtype=np.int64)  # 43,201 points
POOLS = ("a100", "h100", "l4")
GPUS = (("host-1", "0"), ("host-1", "1"), ("host-2", "0"), ("host-2", "1"))
DAY_TS = MINUTE_TS[MINUTE_TS <= START + 86_400]
HOLE = (START + 6 * 3600, START + 8 * 3600)  # samples in [HOLE[0], HOLE[1]) are absent
RESET_AT = START + 12 * 3600


def _values(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.gamma(4.0, 8.0, n), 3)


def pool_values(pool: str) -> np.ndarray:
    return _values(POOLS.index(pool), len(MINUTE_TS))


def gpu_values(host: str, gpu: str) -> np.ndarray:
    return np.round(_values(10 + GPUS.index((host, gpu)), len(MINUTE_TS)) % 100, 3)


def _kube_series() -> list[Series]:
    """Three pods on two nodes of two pools: a (2 GPUs, running all day), b (4 GPUs, pending then running
    from 06:00), c (1 GPU, running until 12:00 then gone from kube-state-metrics)."""
    ts, n = DAY_TS, len(DAY_TS)
    six, noon = ts < START + 6 * 3600, ts < START + 12 * 3600
    out = []
    # pod: (node, GPUs requested, running at each step, known to kube-state-metrics at each step)
    pods = {"a": ("node-1", 2.0, np.ones(n, bool), np.ones(n, bool)),
            "b": ("node-2", 4.0, ~six, np.ones(n, bool)),
            "c": ("node-1", 1.0, noon, noon)}
    for pod, (node, gpus, running, keep) in pods.items():
        base = {"namespace": "ml", "pod": pod}
        out.append(Series("kube_pod_container_resource_requests",
                          {**base, "node": node, "container": "main", "resource": "nvidia_com_gpu",
                           "unit": "integer"}, ts[keep], np.full(int(keep.sum()), gpus)))
        for phase in ("Running", "Pending"):
            on = running if phase == "Running" else ~running
            out.append(Series("kube_pod_status_phase", {**base, "phase": phase, "uid": pod},
                              ts[keep], on[keep].astype(float)))
    for node, pool in (("node-1", "a100"), ("node-2", "h100")):
        out.append(Series("kube_node_labels", {"node": node, "label_pool": pool}, ts, np.ones(n)))
    out.append(Series("kueue_pending_workloads", {"cluster_queue": "team-a", "status": "active"}, ts,
                      np.arange(n, dtype=float) % 7))
    out.append(Series("vllm:num_requests_waiting", {"model_name": "llama", "instance": "v-0"}, ts,
                      np.arange(n, dtype=float) % 5))
    return out


def all_series() -> list[Series]:
    series = [Series("gpu_used", {"pool": p}, MINUTE_TS, pool_values(p)) for p in POOLS]
    series += [Series("DCGM_FI_DEV_GPU_UTIL", {"Hostname": h, "gpu": g, "UUID": f"GPU-{h}-{g}"}, MINUTE_TS,
                      gpu_values(h, g)) for h, g in GPUS]
    hole = DAY_TS[(DAY_TS < HOLE[0]) | (DAY_TS >= HOLE[1])]
    series.append(Series("gpu_hole", {"pool": "a100"}, hole, np.full(len(hole), 5.0)))
    # a counter rising 60 per minute; the process restarts at RESET_AT and has counted 60 since
    counter = (DAY_TS - START).astype(float)
    counter[DAY_TS >= RESET_AT] = (DAY_TS[DAY_TS >= RESET_AT] - RESET_AT + 60).astype(float)
    series.append(Series("jobs_total", {"pool": "a100"}, DAY_TS, counter, kind="unknown"))
    return series + _kube_series()


def require_prometheus() -> None:
    """Fail the test (never skip it) when prometheus or promtool is not installed."""
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.fail(INSTALL_HINT, pytrace=False)


@pytest.fixture(scope="session")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """The session's Prometheus; fails (never skips) when prometheus is not installed."""
    require_prometheus()
    with PrometheusServer.from_samples(all_series(), tmp_path_factory.mktemp("prom")) as server:
        yield server


def require_victoria_metrics() -> None:
    """Skip the test, saying how to install it, when Debian's victoria-metrics is not installed."""
    if shutil.which(VM_BINARY) is None:
        pytest.skip(VM_INSTALL_HINT)


@pytest.fixture(scope="session")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    """The session's VictoriaMetrics with the same data as ``prom``, default query flags; skips when absent."""
    require_victoria_metrics()
    with VictoriaMetricsServer(tmp_path_factory.mktemp("vm")) as server:
        yield server.seed(all_series())


# ------------------------------------------------------------------------------------------------ chaos proxy
@dataclass
class Proxy:
    """A local HTTP proxy in front of Prometheus that can fail on purpose.

    ``mode``: ``forward``, ``hang`` or an HTTP status to answer with (``500``, ``429``, ...) and ``body``;
    ``fail_first`` requests get ``mode`` and later ones are forwarded (``None``: all of them);
    ``requests`` records (path, headers) of every request.
    """

    upstream: str
    mode: str = "forward"
    fail_first: int | None = None
    hang_seconds: float = 3.0
    retry_after: str | None = None
    body: bytes = b'{"status":"error","errorType":"internal","error":"injected failure"}'
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    after_request: object = None  # callable(index) run after a forwarded answer
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            index = len(self.requests)
            self.requests.append((handler.path, dict(handler.headers)))
        failing = self.mode != "forward" and (self.fail_first is None or index < self.fail_first)
        if failing and self.mode == "hang":
            time.sleep(self.hang_seconds)
            return
        if failing:
            status = int(self.mode)
            body = self.body
            handler.send_response(status)
            if self.retry_after is not None:
                handler.send_header("Retry-After", self.retry_after)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        try:
            with urllib.request.urlopen(self.upstream + handler.path, timeout=30) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except (urllib.error.URLError, OSError):
            handler.send_response(502)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        if callable(self.after_request):
            self.after_request(index)


@contextmanager
def serve_proxy(upstream: str) -> Iterator[Proxy]:
    """A running :class:`Proxy` in front of ``upstream`` (stopped on exit)."""
    state = Proxy(upstream)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            state.handle(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy(prom: PrometheusServer) -> Iterator[Proxy]:
    """A chaos proxy in front of the session's Prometheus (see :class:`Proxy`)."""
    with serve_proxy(prom.url) as state:
        yield state


@pytest.fixture
def vm_proxy(vm: VictoriaMetricsServer) -> Iterator[Proxy]:
    """The same proxy in front of the session's VictoriaMetrics: records every request's headers."""
    with serve_proxy(vm.url) as state:
        yield state
