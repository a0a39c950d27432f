"""Ingest series frames from Prometheus (or Thanos, Mimir, VictoriaMetrics), exactly, at any range.

:func:`fetch` is the notebook and command-line entry point; :func:`fetch_cached` is the nightly job's. Both
cut the range into chunks under Prometheus's 11,000-points limit (:mod:`~capforecast.ingest.chunks`), send
them concurrently with retries (:mod:`~capforecast.ingest.client`), merge them with no duplicated and no
missing sample, and optionally keep an incremental parquet cache (:mod:`~capforecast.ingest.cache`).
Where Prometheus has no value there is no row: nothing is filled in.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd

from capforecast._units import parse_duration, parse_time
from capforecast.errors import IngestError
from capforecast.frames import validate
from capforecast.ingest import cache as _cache
from capforecast.ingest.chunks import MAX_POINTS, align, assemble, empty_frame, plan_chunks
from capforecast.ingest.client import RangeClient, describe_range
from capforecast.ingest.connection import Connection

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from capforecast.config import PrometheusConfig, SeriesConfig

__all__ = ["fetch", "fetch_cached"]

logger = logging.getLogger(__name__)

Source = Any  # str URL | Connection | prometheus_api_client.PrometheusConnect | RangeClient
TimeLike: TypeAlias = str | int | float | pd.Timestamp | _dt.datetime  # RFC 3339 text or Unix seconds
DurationLike: TypeAlias = str | int | float | pd.Timedelta | _dt.timedelta  # "1m", "5m", "1h", seconds


def _client(source: Source) -> RangeClient:
    """A RangeClient for a URL, a Connection, prometheus-api-client's PrometheusConnect or a RangeClient."""
    if isinstance(source, RangeClient):
        return source
    if isinstance(source, Connection):
        return RangeClient(source)
    if isinstance(source, str):
        return RangeClient(Connection(source))
    if hasattr(source, "url") and hasattr(source, "custom_query_range"):  # PrometheusConnect
        auth = getattr(source, "auth", None)
        user, password = auth if isinstance(auth, tuple) and len(auth) == 2 else (None, None)
        session = getattr(source, "_session", None)
        conn = Connection(
            source.url,
            headers=dict(getattr(source, "headers", None) or {}),
            username=user,
            password=password,
            verify_tls=getattr(session, "verify", True) is not False,
            ca_file=verify if isinstance(verify := getattr(session, "verify", None), str) else None,
            timeout=getattr(source, "_timeout", None) or 30.0,
        )
        return RangeClient(conn)
    raise IngestError(
        f"cannot ingest from a {type(source).__name__}; pass a URL such as 'http://prometheus:9090', a "
        "capforecast.ingest.Connection or a prometheus_api_client.PrometheusConnect"
    )


def _pull(client: RangeClient, query: str, first_ms: int, last_ms: int, step_ms: int, max_points: int,
          id_labels: Sequence[str] | None) -> pd.DataFrame:
    """Every chunk of ``[first_ms, last_ms]``, fetched concurrently, merged into one frame (maybe empty)."""
    chunks = plan_chunks(first_ms, last_ms, step_ms, max_points)
    step_s = step_ms / 1000
    logger.debug("prometheus: %s in %d chunk(s)", describe_range(query, first_ms / 1000, last_ms / 1000, step_s),
                 len(chunks))

    def one(chunk: tuple[int, int]) -> list:
        return client.query_range(query, chunk[0] / 1000, chunk[1] / 1000, step_s)

    return assemble(client.map(one, chunks), id_labels, query)


def _fetch(
    source: Source, query: str, start: TimeLike, end: TimeLike, step: DurationLike, *,
    id_labels: Sequence[str] | None,
    cache: str | Path | None, max_points: int, allow_empty: bool, prune: bool = False,
    reread_steps: int = _cache.REREAD_STEPS,
) -> tuple[pd.DataFrame, int]:
    if not isinstance(query, str) or not query.strip():
        raise IngestError("the PromQL query is empty; pass --query 'sum by (pool) (...)' or --preset NAME")
    step_td = parse_duration(step, name="step")
    step_ms = int(round(step_td.total_seconds() * 1000))
    if step_ms <= 0:
        raise IngestError("step must be positive, e.g. '1m' or '1h'")
    t0, t1 = parse_time(start, name="start"), parse_time(end, name="end")
    if t1 < t0:
        raise IngestError(f"end {t1} is before start {t0}; swap them or fix the range")
    first, last = align(t0.value // 10**6, t1.value // 10**6, step_ms)
    if last < first:
        raise IngestError(
            f"the range {t0} .. {t1} holds no multiple of the step {step}; widen it or use a smaller step"
        )
    labels = None if id_labels is None else tuple(id_labels)
    client = _client(source)
    if cache is None:
        frame = _pull(client, query, first, last, step_ms, max_points, labels)
        new_rows = len(frame)
    else:
        store = _cache.QueryCache(cache)
        key = _cache.CacheKey(client.connection.display_url, query, step_ms, labels)
        merged, new_rows = _cache.refresh(
            store.load(key), first, last, step_ms,
            lambda lo, hi: _pull(client, query, lo, hi, step_ms, max_points, labels), reread_steps=reread_steps,
        )
        if merged is None:
            merged = empty_frame()
        lo_ts, hi_ts = pd.Timestamp(first, unit="ms", tz="UTC"), pd.Timestamp(last, unit="ms", tz="UTC")
        old = int((merged["ds"] < lo_ts).sum()) if prune else 0
        if old:  # the nightly job never asks for these again: keep the cache the size of its window
            merged = merged[merged["ds"] >= lo_ts].reset_index(drop=True)
        if new_rows or old:
            store.save(key, merged)
            logger.info("ingest cache: %d new or changed rows into %s, %d rows before %s dropped", new_rows,
                        store.path(key), old, lo_ts)
        frame = merged[(merged["ds"] >= lo_ts) & (merged["ds"] <= hi_ts)].reset_index(drop=True)
    if frame.empty:
        if allow_empty:
            return empty_frame(), new_rows
        raise IngestError(
            f"Prometheus at {client.connection.display_url} returned no data for "
            f"{describe_range(query, first / 1000, last / 1000, step_ms / 1000)}; check the metric name, the "
            "selectors and the time range (try the query in the Prometheus UI)"
        )
    return validate(frame, name=f"ingested series of {query!r}"), new_rows


def fetch(
    source: Source,
    query: str,
    start: TimeLike,
    end: TimeLike,
    step: DurationLike,
    *,
    id_labels: Sequence[str] | None = None,
    cache: str | Path | None = None,
    max_points: int = MAX_POINTS,
    reread_steps: int = _cache.REREAD_STEPS,
) -> pd.DataFrame:
    """Run a PromQL range query of any length and return a series frame.

    Parameters
    ----------
    source : str, Connection, PrometheusConnect or RangeClient
        The server: a URL, a :class:`~capforecast.ingest.connection.Connection` (auth, TLS, retries,
        workers), or prometheus-api-client's ``PrometheusConnect`` (its URL, headers, auth and TLS are used).
    query : str
        PromQL; for a preset use ``capforecast.ingest.queries.render("gpu_util", by=["pool"])``.
    start, end : str, int, float or Timestamp
        RFC 3339 text or Unix seconds (UTC). The range is aligned to the step grid (multiples of ``step``
        since the Unix epoch) inside ``[start, end]``, both ends included.
    step : str, int or Timedelta
        Resolution, e.g. ``"1m"``, ``"5m"``, ``"1h"``.
    id_labels : sequence of str, optional
        Labels whose values, joined by ``/``, form ``unique_id``; default: every label but ``__name__``.
    cache : path, optional
        Directory of the incremental parquet cache; only steps after the last cached sample are pulled (and
        a series the cache does not hold yet over the whole cached span).
    max_points : int
        Points per series per request (Prometheus allows at most 11,000).
    reread_steps : int
        With a cache, the newest cached steps pulled again on every run, because late scrapes and
        recording rules still change them (default 2; 0 never re-reads).

    Returns
    -------
    pandas.DataFrame
        ``unique_id`` (str), ``ds`` (UTC), ``y`` (float64), sorted, one row per sample Prometheus returned.

    Raises
    ------
    IngestError
        No data, a refused query, an unreachable server after the retries, or labels that do not identify
        the series; the message names the query and the time range.

    Examples
    --------
    >>> frame = fetch("http://prometheus:9090", "sum by (pool) (gpu_used)",  # doctest: +SKIP
    ...               "2026-05-01T00:00:00Z", "2026-05-31T00:00:00Z", "1m", id_labels=["pool"])
    """
    frame, _ = _fetch(source, query, start, end, step, id_labels=id_labels, cache=cache,
                      max_points=max_points, allow_empty=False, reread_steps=reread_steps)
    return frame


def fetch_cached(
    prometheus: PrometheusConfig | Connection,
    series: SeriesConfig,
    pools: Sequence[tuple[str, str | None]],
    *,
    start: TimeLike,
    end: TimeLike,
    cache_dir: str | Path | None,
    reread_steps: int = _cache.REREAD_STEPS,
) -> tuple[pd.DataFrame, int]:
    """The nightly job's ingest: one frame with a series per pool, and how many rows were new or changed.

    ``series.query`` (or ``series.preset``) returns one series per pool, named by ``series.id_labels``; a
    pool with its own query gets that query's single series, named after the pool. Pools Prometheus knows
    nothing about are simply absent (the caller decides what that means). The cache keeps only the window
    asked for: rows before ``start`` are dropped from it (``fetch`` with a cache never drops anything).
    """
    from capforecast.ingest.queries import render

    conn = prometheus if isinstance(prometheus, Connection) else Connection.from_config(prometheus)
    frames, new_rows = [], 0
    with RangeClient(conn) as client:
        if any(q is None for _, q in pools):
            query = series.query
            if query is None and series.preset is not None:
                params = dict(series.preset)
                query = render(str(params.pop("name")), **params)
            if query is None:
                raise IngestError("series.query (or series.preset) is needed for pools without their own query")
            frame, n = _fetch(client, query, start, end, series.step, id_labels=series.id_labels,
                              cache=cache_dir, max_points=MAX_POINTS, allow_empty=True, prune=True,
                              reread_steps=reread_steps)
            frames.append(frame)
            new_rows += n
        for name, query in pools:
            if query is None:
                continue
            frame, n = _fetch(client, query, start, end, series.step, id_labels=None, cache=cache_dir,
                              max_points=MAX_POINTS, allow_empty=True, prune=True, reread_steps=reread_steps)
            if frame["unique_id"].nunique() > 1:
                raise IngestError(
                    f"pool {name}: its query returned {frame['unique_id'].nunique()} series; aggregate it to "
                    f"one, e.g. sum({query})"
                )
            frames.append(frame.assign(unique_id=name))
            new_rows += n
    out = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    out = out.drop_duplicates(["unique_id", "ds"], keep="last")  # a pool's own query wins
    out = out.sort_values(["unique_id", "ds"], ignore_index=True, kind="stable")
    return (validate(out, name="ingested pools") if not out.empty else out), new_rows
