"""``capforecast exporter``: serve a nightly run's plan and forecast as Prometheus metrics."""

from __future__ import annotations

import argparse
import errno
import signal
import threading
from pathlib import Path

DEFAULT_RUN_DIR = Path("/var/lib/capforecast/latest")  # output.latest of deploy/nightly.example.yaml

DESCRIPTION = f"""\
Serve the run directory's plan and forecast on http://HOST:PORT/metrics for Prometheus, computed for the time
of each scrape: per pool the planned nodes, GPUs and spare GPUs of the reservation window in force, the
forecast (yhat and quantiles) for now and for now + the pool's lead time, the champion model, and the realised
busy share when the run has realised.json. When 'latest' is pointed at a new run, the next scrape serves it.

RUN_DIR defaults to output.latest of --config, else {DEFAULT_RUN_DIR}. Every metric: docs/exporter.md."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``exporter`` sub-command."""
    parser = subparsers.add_parser(
        "exporter",
        help="serve a nightly run's plan and forecast as Prometheus metrics",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run-dir", metavar="RUN_DIR", help="the run directory, usually the nightly job's "
                        f"OUTPUT/latest (default: output.latest of --config, else {DEFAULT_RUN_DIR})")
    parser.add_argument("--config", metavar="FILE", help="the nightly job's YAML config, to find its 'latest'")
    parser.add_argument("--port", type=int, default=9109, help="port to listen on (default: 9109; 0: any free one)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0, every "
                        "interface, as a pod behind a Service needs; 127.0.0.1 keeps it on this machine)")
    parser.add_argument("--at", metavar="TIME", help="serve the values for this fixed time instead of each "
                        "scrape's (RFC 3339 or Unix seconds) — to inspect a past or future window, or in tests")
    parser.set_defaults(func=run)


def _run_dir(args: argparse.Namespace) -> Path:
    if args.run_dir:
        return Path(args.run_dir)
    if args.config:
        from capforecast.config import load_config

        return load_config(args.config).output.latest
    return DEFAULT_RUN_DIR


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C) or terminated (SIGTERM); return 0 on SIGTERM."""
    from capforecast._units import parse_time
    from capforecast.errors import ConfigError
    from capforecast.exporter import serve

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port; give one from 1 to 65535 (or 0 for any free one)")
    at = parse_time(args.at, name="--at") if args.at else None
    run_dir = _run_dir(args)
    try:
        server, _thread = serve(run_dir, port=args.port, host=args.host, clock=(lambda: at) if at else None)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}; choose another --port "
                              "or --host") from None
        raise
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"exporter: serving {run_dir} on http://{host}:{server.server_port}/metrics"
          + (f" for {at:%Y-%m-%dT%H:%M:%SZ}" if at else ""), flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
    return 0
