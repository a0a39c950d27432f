"""The exporter's HTTP server: ``prometheus_client``'s, with the run collector in its own registry."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

import pandas as pd
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.process_collector import ProcessCollector

from capforecast.exporter.collector import RunCollector

__all__ = ["serve"]


def serve(
    run_dir: str | os.PathLike[str],
    *,
    port: int = 9109,
    host: str = "0.0.0.0",
    clock: Callable[[], pd.Timestamp] | None = None,
) -> tuple[WSGIServer, threading.Thread]:
    """Start serving ``run_dir``'s metrics on ``http://host:port/metrics`` in a daemon thread.

    The run directory is read before the port is opened, so a bad one raises
    :class:`~capforecast.errors.OutputError` and nothing listens. Returns the server (``server.server_port`` is
    the port, useful with ``port=0``) and its thread; ``server.shutdown()`` stops it.
    """
    registry = CollectorRegistry()
    registry.register(RunCollector(run_dir, clock=clock))
    ProcessCollector(registry=registry)
    return start_http_server(port, addr=host, registry=registry)
