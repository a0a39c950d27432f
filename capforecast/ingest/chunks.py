"""Split a long range query into chunks Prometheus accepts, and merge the answers into one series frame.

Pure functions, no HTTP. Times are integer **milliseconds** since the epoch so that chunk edges are exact.
A range ``[first, last]`` on a step grid (``first`` and ``last`` multiples of ``step``) is cut into chunks
of at most ``max_points`` evaluation points each (Prometheus refuses more than 11,000 per series); chunk
``i+1`` starts one step after chunk ``i`` ends, so no sample is asked for twice and none is skipped.

Series identity: the values of the ``id_labels`` joined by ``/`` (``a100-train``, ``host-3/gpu-1``); by default
every label but ``__name__``, in label-name order; a series without labels is ``all``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from capforecast.errors import IngestError

__all__ = ["MAX_POINTS", "Decoded", "align", "assemble", "decode", "decode_body", "plan_chunks", "series_id"]

MAX_POINTS = 11_000  # Prometheus: "exceeded maximum resolution of 11,000 points per timeseries"

Decoded = tuple[tuple[tuple[str, str], ...], np.ndarray, np.ndarray]  # (labels, ts_ms int64, y float64)


def align(start_ms: int, end_ms: int, step_ms: int) -> tuple[int, int]:
    """The first and last multiples of ``step_ms`` inside ``[start_ms, end_ms]``.

    Steps are aligned to the Unix epoch, so every run asks for the same timestamps and a cache can resume.

    Examples
    --------
    >>> align(1_000, 125_000, 60_000)
    (60000, 120000)
    """
    if step_ms <= 0:
        raise IngestError("step must be positive, e.g. '1m'; got a zero step")
    first = -(-start_ms // step_ms) * step_ms
    last = end_ms // step_ms * step_ms
    return first, last


def plan_chunks(first_ms: int, last_ms: int, step_ms: int, max_points: int = MAX_POINTS) -> list[tuple[int, int]]:
    """Cut ``[first_ms, last_ms]`` (on the step grid) into inclusive chunks of at most ``max_points`` points.

    Examples
    --------
    >>> plan_chunks(0, 9, 1, max_points=4)
    [(0, 3), (4, 7), (8, 9)]
    """
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise IngestError(f"max_points must be a whole number >= 1, got {max_points!r}")
    chunks = []
    span = (max_points - 1) * step_ms
    lo = first_ms
    while lo <= last_ms:
        hi = min(lo + span, last_ms)
        chunks.append((lo, hi))
        lo = hi + step_ms
    return chunks


def decode(result: Iterable[dict[str, Any]]) -> list[Decoded]:
    """Turn Prometheus's ``data.result`` (a matrix) into ``(labels, ts_ms, y)`` arrays, dropping the JSON.

    Raises :class:`IngestError` for a result that is not laid out as a matrix (``[{"metric": {...}, "values":
    [[t, "v"], ...]}, ...]``) or holds a time or value that is not a number.
    """
    out: list[Decoded] = []
    try:
        for item in result:
            values = item.get("values") or []
            n = len(values)
            ts = np.fromiter((float(p[0]) for p in values), dtype=np.float64, count=n)
            y = np.array([float(p[1]) for p in values], dtype=np.float64) if n else np.empty(0, dtype=np.float64)
            labels = tuple(sorted((str(k), str(v)) for k, v in (item.get("metric") or {}).items()))
            if not np.isfinite(ts).all():
                raise ValueError("a time that is not finite")
            out.append((labels, np.rint(ts * 1000).astype(np.int64), y))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise IngestError(f"the answer is not a matrix of [time, \"value\"] pairs ({type(exc).__name__}: "
                          f"{str(exc)[:120]})") from None
    return out


_MATRIX_HEAD = b'{"status":"success","data":{"resultType":"matrix","result":['
_VALUES = ',"values":['
_STRIP = str.maketrans("", "", '[]"')


def decode_body(body: bytes) -> list[Decoded] | None:
    """Decode a ``query_range`` answer straight from its bytes; ``None`` if it is not laid out as expected.

    Prometheus writes ``{"metric":{...},"values":[[t,"v"],...]}`` per series. The label object is read with
    the JSON decoder; the numbers are parsed by NumPy in one pass, without building a Python list per
    sample (several times faster than ``json.loads`` on big answers, and the same float64 values). Anything
    unusual (other servers' spacing, extra keys) returns ``None`` and the caller falls back to ``json``.
    """
    if not body.startswith(_MATRIX_HEAD):
        return None
    text = body.decode("utf-8")
    decoder = json.JSONDecoder()
    pos, out = len(_MATRIX_HEAD), []
    while text.startswith('{"metric":', pos):
        try:
            metric, pos = decoder.raw_decode(text, pos + len('{"metric":'))
        except ValueError:
            return None
        if not text.startswith(_VALUES, pos):
            return None
        lo = pos + len(_VALUES)
        if text.startswith("]}", lo):  # a series without samples
            pos = lo + 2 + (1 if text.startswith(",", lo + 2) else 0)
            continue
        hi = text.find("]]", lo)
        if hi < 0 or not text.startswith("]]}", hi):
            return None
        flat = text[lo:hi].translate(_STRIP)
        # numpy 2.4 raises on text it cannot read to its end; older numpy only warns and stops early, so
        # the count of fields is checked too (no warning filter is touched: this runs in worker threads)
        try:
            nums = np.fromstring(flat, dtype=np.float64, sep=",") if flat else np.empty(0)
        except (ValueError, DeprecationWarning):
            return None
        if (len(nums) != (flat.count(",") + 1 if flat else 0) or len(nums) % 2
                or len(nums) // 2 != text.count("],[", lo, hi) + (1 if flat else 0)):
            return None
        labels = tuple(sorted((str(k), str(v)) for k, v in metric.items()))
        out.append((labels, np.rint(nums[0::2] * 1000).astype(np.int64), nums[1::2].copy()))
        pos = hi + 3
        if text.startswith(",", pos):
            pos += 1
    return out if text.startswith("]", pos) else None


def series_id(labels: Sequence[tuple[str, str]], id_labels: Sequence[str] | None, query: str = "") -> str:
    """The ``unique_id`` of a series with these labels (see the module docstring).

    Examples
    --------
    >>> series_id((("gpu", "1"), ("Hostname", "host-3")), ["Hostname", "gpu"])
    'host-3/1'
    >>> series_id((("__name__", "up"), ("pool", "a100")), None)
    'a100'
    """
    have = dict(labels)
    if id_labels is None:
        names = sorted(k for k in have if k != "__name__")
        return "/".join(have[k] for k in names) if names else "all"
    missing = [k for k in id_labels if k not in have]
    if missing:
        shown = "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"
        raise IngestError(
            f"a series of query {query!r} has no label {missing[0]!r} (labels: {shown}); choose --id-labels "
            "that every series carries, or aggregate so it does, e.g. sum by (pool) (...)"
        )
    return "/".join(have[k] for k in id_labels)


def assemble(
    parts: Iterable[list[Decoded]], id_labels: Sequence[str] | None, query: str = ""
) -> pd.DataFrame:
    """Merge decoded chunks (in time order) into a series frame sorted by ``(unique_id, ds)``.

    Duplicate timestamps of a series (a server that answers beyond a chunk's edges) are kept once, the
    later chunk winning; two label sets that map to the same ``unique_id`` are an error.
    """
    by_labels: dict[tuple[tuple[str, str], ...], list[tuple[np.ndarray, np.ndarray]]] = {}
    for part in parts:
        for labels, ts, y in part:
            by_labels.setdefault(labels, []).append((ts, y))
    owners: dict[str, tuple[tuple[str, str], ...]] = {}
    for labels in by_labels:
        uid = series_id(labels, id_labels, query)
        if uid in owners:
            raise IngestError(
                f"two series of query {query!r} get the same unique_id {uid!r}: {dict(owners[uid])} and "
                f"{dict(labels)}; add a label to --id-labels that tells them apart, or aggregate them"
            )
        owners[uid] = labels
    ids, ts_all, y_all, counts = [], [], [], []
    for uid in sorted(owners):
        pieces = by_labels[owners[uid]]
        ts = np.concatenate([p[0] for p in pieces]) if len(pieces) > 1 else pieces[0][0]
        y = np.concatenate([p[1] for p in pieces]) if len(pieces) > 1 else pieces[0][1]
        if len(ts) > 1 and not bool(np.all(ts[1:] > ts[:-1])):
            order = np.argsort(ts, kind="stable")
            ts, y = ts[order], y[order]
            keep = np.ones(len(ts), dtype=bool)
            keep[:-1] = ts[1:] != ts[:-1]  # the last of equal timestamps (the later chunk) wins
            ts, y = ts[keep], y[keep]
        if len(ts) == 0:
            continue
        bad = np.isinf(y)
        if bad.any():
            at = pd.Timestamp(int(ts[bad][0]), unit="ms", tz="UTC")
            raise IngestError(
                f"query {query!r} returned {int(bad.sum())} infinite value(s) for {uid!r} (first at {at}); "
                "guard divisions in the PromQL, e.g. a / (b > 0), so Prometheus returns no value instead"
            )
        ids.append(uid)
        ts_all.append(ts)
        y_all.append(y)
        counts.append(len(ts))
    return frame_from_arrays(ids, ts_all, y_all, counts)


def frame_from_arrays(
    ids: list[str], ts_all: list[np.ndarray], y_all: list[np.ndarray], counts: list[int]
) -> pd.DataFrame:
    """A series frame from per-series millisecond timestamps and values (already sorted per series)."""
    if not ids:
        return empty_frame()
    ts = np.concatenate(ts_all).astype("datetime64[ms]").astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "unique_id": pd.Series(np.repeat(np.array(ids, dtype=object), counts), dtype=object),
            "ds": pd.DatetimeIndex(ts).tz_localize("UTC"),
            "y": np.concatenate(y_all).astype(np.float64, copy=False),
        }
    )


def empty_frame() -> pd.DataFrame:
    """A series frame with no rows (right columns and dtypes)."""
    return pd.DataFrame(
        {
            "unique_id": pd.Series([], dtype=object),
            "ds": pd.DatetimeIndex([], dtype="datetime64[ns, UTC]"),
            "y": np.empty(0, dtype=np.float64),
        }
    )
