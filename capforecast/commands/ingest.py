"""``capforecast ingest``: pull a series frame from Prometheus into a ``.parquet`` or ``.csv`` file."""

from __future__ import annotations

import argparse
import os

from capforecast.errors import ConfigError

URL_ENV = "CAPFORECAST_PROMETHEUS_URL"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="pull GPU usage or task counts from Prometheus into a series file",
        description=(
            "Run a PromQL range query (or a metric preset) of any length against Prometheus, Thanos, Mimir or "
            "VictoriaMetrics and write a series frame (unique_id, ds, y). Long ranges are split into chunks "
            "under Prometheus's 11,000-points limit and merged exactly; failures are retried with backoff. "
            "A failed run leaves an existing output file as it was. Secrets are read from environment "
            "variables or files, never from the command line."
        ),
        epilog=(
            "example: capforecast ingest --url http://prometheus:9090 --preset gpus_requested --by pool "
            "--since 30d --step 5m --out gpus.parquet"
        ),
    )
    src = parser.add_argument_group("server")
    src.add_argument("--url", default=os.environ.get(URL_ENV),
                     help=f"Prometheus base URL, e.g. http://prometheus:9090 (default: ${URL_ENV})")
    src.add_argument("--token-env", metavar="VAR", help="read a bearer token from this environment variable")
    src.add_argument("--token-file", metavar="PATH", help="read a bearer token from this file")
    src.add_argument("--user", help="basic-auth user name (with --password-env or --password-file)")
    src.add_argument("--password-env", metavar="VAR", help="read the basic-auth password from this variable")
    src.add_argument("--password-file", metavar="PATH", help="read the basic-auth password from this file")
    src.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                     help="extra request header, e.g. 'X-Scope-OrgID: team-a' (repeatable)")
    src.add_argument("--ca-file", metavar="PATH", help="CA bundle that signed the server's TLS certificate")
    src.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate (tests only)")
    src.add_argument("--timeout", default="30s", help="per-request timeout (default: 30s)")
    src.add_argument("--retries", type=int, default=3, help="retries after 429/5xx/timeouts (default: 3)")
    src.add_argument("--workers", type=int, default=4, help="chunk requests in flight at once (default: 4)")
    src.add_argument("--compress", action="store_true",
                     help="ask for gzip answers (for slow links; costs the server CPU)")
    src.add_argument("--max-points", type=int, default=11_000, help="points per series per request (default: 11000)")

    what = parser.add_argument_group("what to ingest")
    one = what.add_mutually_exclusive_group()
    one.add_argument("--query", help="PromQL returning the series, e.g. 'sum by (pool) (gpu_used)'")
    one.add_argument("--preset", help="a metric preset instead of --query (see --list-presets)")
    one.add_argument("--list-presets", action="store_true", help="list the metric presets and exit")
    what.add_argument("--selector", help="label matchers for a preset, e.g. 'cluster=\"prod\",namespace=~\"ml-.*\"'")
    what.add_argument("--by", help="labels a preset aggregates by, comma separated (e.g. pool or Hostname,gpu)")
    what.add_argument("--agg", help="a preset's aggregation: sum, avg, max, min or count")
    what.add_argument("--node-label", help="gpus_requested: node label (from kube_node_labels) naming the pool")
    what.add_argument("--id-labels", help="labels forming unique_id, comma separated (default: all labels)")

    when = parser.add_argument_group("time range")
    start = when.add_mutually_exclusive_group()
    start.add_argument("--start", help="RFC 3339 time or Unix seconds, e.g. 2026-05-01T00:00:00Z")
    start.add_argument("--since", help="a duration before --end, e.g. 30d (with --end defaulting to now)")
    when.add_argument("--end", help="RFC 3339 time or Unix seconds (default: now)")
    when.add_argument("--step", help="resolution, e.g. 1m, 5m, 1h")

    out = parser.add_argument_group("output")
    out.add_argument("--out", help="output file, .parquet or .csv")
    out.add_argument("--cache", metavar="DIR", help="incremental parquet cache directory (pull only new steps)")
    parser.set_defaults(func=run)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def _connection(args: argparse.Namespace):  # -> Connection
    from pathlib import Path

    from capforecast.config import SecretRef
    from capforecast.ingest.connection import Connection

    if not args.url:
        raise ConfigError(f"--url is required (e.g. --url http://prometheus:9090), or export {URL_ENV}")
    if args.token_env and args.token_file:
        raise ConfigError("give either --token-env or --token-file, not both")
    if args.password_env and args.password_file:
        raise ConfigError("give either --password-env or --password-file, not both")
    token = SecretRef(env=args.token_env) if args.token_env else (
        SecretRef(file=Path(args.token_file)) if args.token_file else None)
    password = SecretRef(env=args.password_env) if args.password_env else (
        SecretRef(file=Path(args.password_file)) if args.password_file else None)
    if (args.user is None) != (password is None):
        raise ConfigError("basic auth needs --user together with --password-env or --password-file")
    headers = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"--header {item.split(':')[0]!r}...: write it as 'Name: value'")
        headers[name.strip()] = value.strip()
    return Connection(
        args.url, token=token, username=args.user, password=password, headers=headers, ca_file=args.ca_file,
        verify_tls=not args.insecure, timeout=args.timeout, retries=args.retries, workers=args.workers,
        compress=args.compress,
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from capforecast._owned import check_not_inputs, outputs, precheck
    from capforecast._units import format_duration, parse_duration, parse_time
    from capforecast.ingest.files import write_series
    from capforecast.ingest.prometheus import fetch
    from capforecast.ingest.queries import PRESETS, render

    if args.list_presets:
        for p in PRESETS.values():
            print(f"{p.name:15} {p.description}\n{'':15} {p.render()}")
        return 0
    if args.preset:
        params: dict[str, object] = {"selector": args.selector, "by": _split(args.by), "agg": args.agg}
        if args.node_label:
            params["node_label"] = args.node_label
        query = render(args.preset, **params)
    elif args.query:
        if args.selector or args.by or args.agg or args.node_label:
            raise ConfigError("--selector/--by/--agg/--node-label apply to --preset; write them into --query")
        query = args.query
    else:
        raise ConfigError("give --query PROMQL or --preset NAME (see --list-presets)")
    for option in ("step", "out"):
        if not getattr(args, option):
            raise ConfigError(f"--{option} is required (e.g. --step 5m --out gpus.parquet)")
    if not str(args.out).lower().endswith((".parquet", ".csv")):
        raise ConfigError(f"--out {args.out}: use a file name ending in .parquet or .csv")
    out = Path(args.out)
    check_not_inputs([out], {"--cache": args.cache, "--token-file": args.token_file,
                             "--password-file": args.password_file, "--ca-file": args.ca_file})
    precheck(out.parent, [out.name])  # before pulling anything
    end = parse_time(args.end, name="--end") if args.end else pd.Timestamp.now(tz="UTC")
    if args.since:
        start = end - parse_duration(args.since, name="--since")
    elif args.start:
        start = parse_time(args.start, name="--start")
    else:
        raise ConfigError("give --start TIME or --since DURATION (e.g. --since 30d)")
    frame = fetch(_connection(args), query, start, end, args.step, id_labels=_split(args.id_labels),
                  cache=args.cache, max_points=args.max_points)
    with outputs(out.parent, [out.name]) as stage:  # replaces only a file capforecast wrote
        write_series(frame, stage / out.name)
    path = out
    span = format_duration(frame["ds"].max() - frame["ds"].min())
    print(f"wrote {len(frame)} rows of {frame['unique_id'].nunique()} series ({span} at {args.step}) to {path}")
    return 0
