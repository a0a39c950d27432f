"""An incremental parquet cache of ingested series, one file per (server, query, step, id labels).

The nightly job asks for the last N days every night; with a cache only the steps after the last stored
sample are pulled from Prometheus, plus the newest ``REREAD_STEPS`` stored steps again (late scrapes and
recording rules change them); a series the cache does not hold yet is back-filled over the cache's span.
Files are replaced atomically (temp file beside it + ``os.replace``), so a crash mid-write leaves the
previous file intact, and a failed ingest never touches it. The cache is kept contiguous: it grows backwards
or forwards from what it holds, never with a hole of its own making.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from capforecast._io import atomic_path
from capforecast.errors import IngestError

__all__ = ["REREAD_STEPS", "CacheKey", "QueryCache", "refresh"]

_META = b"capforecast.ingest"
_VERSION = 1
#: The newest cached steps read again on every run: late scrapes and recording rules still change them.
REREAD_STEPS = 2


@dataclass(frozen=True)
class CacheKey:
    """What a cache file holds: the server (without credentials), the PromQL, the step and the id labels."""

    url: str
    query: str
    step_ms: int
    id_labels: tuple[str, ...] | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, stored in the parquet file's metadata."""
        return {
            "version": _VERSION,
            "url": self.url,
            "query": self.query,
            "step_ms": self.step_ms,
            "id_labels": None if self.id_labels is None else list(self.id_labels),
        }

    @property
    def file_name(self) -> str:
        """``<readable part of the query>-<hash>.parquet``, stable across runs and machines."""
        digest = hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9]+", "_", self.query).strip("_")[:40] or "query"
        return f"{slug}-{digest}.parquet"


class QueryCache:
    """A directory of parquet files, one per :class:`CacheKey`.

    Parameters
    ----------
    directory : path
        Created on first write.

    Examples
    --------
    >>> import tempfile
    >>> cache = QueryCache(tempfile.mkdtemp())
    >>> key = CacheKey("http://prometheus:9090", "sum by (pool) (gpu_used)", 60_000, ("pool",))
    >>> cache.load(key) is None
    True
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, key: CacheKey) -> Path:
        """The file that holds ``key``'s series."""
        return self.directory / key.file_name

    def load(self, key: CacheKey) -> pd.DataFrame | None:
        """The cached series frame, or ``None`` if nothing is cached yet; IngestError if the file is unusable."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.path(key)
        if not path.exists():
            return None
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise IngestError(
                f"ingest cache file {path} is unreadable ({type(exc).__name__}); delete it and the next run "
                "pulls the whole range again"
            ) from None
        meta = json.loads((table.schema.metadata or {}).get(_META, b"{}"))
        if meta != key.as_dict():
            raise IngestError(
                f"ingest cache file {path} holds another query ({meta.get('query')!r}); delete it and the next "
                "run pulls the whole range again"
            )
        frame = table.to_pandas()
        frame["unique_id"] = frame["unique_id"].astype(object)
        frame["ds"] = frame["ds"].astype("datetime64[ns, UTC]")
        return frame

    def save(self, key: CacheKey, frame: pd.DataFrame) -> Path:
        """Replace ``key``'s file with ``frame`` atomically; the old file stays intact if anything fails."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame[["unique_id", "ds", "y"]], preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META] = json.dumps(key.as_dict(), sort_keys=True).encode()
        table = table.replace_schema_metadata(meta)
        path = self.path(key)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return path


def missing_ranges(
    cached: pd.DataFrame | None, first_ms: int, last_ms: int, step_ms: int, *, reread_steps: int = REREAD_STEPS
) -> list[tuple[int, int]]:
    """The ranges to pull so the cache covers ``[first_ms, last_ms]`` and stays contiguous.

    Before the first stored sample, if asked for earlier data; and from the last ``reread_steps`` stored
    steps on (they are read again: late scrapes and recording rules still change the newest values), or from
    one step after the last stored sample when ``reread_steps`` is 0. Series that the cache does not hold at
    all are found in what these ranges return and back-filled by :func:`refresh`.
    """
    if cached is None or cached.empty:
        return [(first_ms, last_ms)]
    have_first, have_last = _span(cached)
    ranges: list[tuple[int, int]] = []
    if first_ms < have_first:
        ranges.append((first_ms, have_first - step_ms))
    tail = max(have_first, have_last - (reread_steps - 1) * step_ms) if reread_steps > 0 else have_last + step_ms
    if last_ms >= tail:
        ranges.append((tail, last_ms))
    return ranges


def refresh(
    cached: pd.DataFrame | None,
    first_ms: int,
    last_ms: int,
    step_ms: int,
    pull: Callable[[int, int], pd.DataFrame],
    *,
    reread_steps: int = REREAD_STEPS,
) -> tuple[pd.DataFrame | None, int]:
    """Bring ``cached`` up to ``[first_ms, last_ms]`` with ``pull(lo, hi)``; the merged frame and the rows that changed.

    Each series is complete over the cache's span: one that the cache does not hold yet (absent from earlier
    pulls: a new pool, a recording rule that started late, a store that did not answer) is back-filled over
    the part of the span this run did not pull. The count is of rows that are new or whose value changed.
    """
    if isinstance(reread_steps, bool) or not isinstance(reread_steps, int) or reread_steps < 0:
        raise IngestError(f"reread_steps must be a whole number >= 0, got {reread_steps!r}; e.g. 2 (0: never)")
    ranges = missing_ranges(cached, first_ms, last_ms, step_ms, reread_steps=reread_steps)
    pulled = [pull(lo, hi) for lo, hi in ranges]
    if cached is not None and not cached.empty:
        known = set(cached["unique_id"])
        if any(set(p["unique_id"]) - known for p in pulled):
            pulled += [pull(lo, hi) for lo, hi in _uncovered(_span(cached), ranges, step_ms)]
    merged = merge(cached, pulled)
    return merged, _changed_rows(cached, pulled)


def _span(frame: pd.DataFrame) -> tuple[int, int]:
    """First and last ``ds`` of the frame, in epoch milliseconds."""
    ms = frame["ds"].dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype("int64")
    return int(ms.min()), int(ms.max())


def _uncovered(span: tuple[int, int], ranges: Sequence[tuple[int, int]], step_ms: int) -> list[tuple[int, int]]:
    """The parts of ``span`` (inclusive, on the step grid) that no range of ``ranges`` covers."""
    out, lo = [], span[0]
    for a, b in sorted(ranges):
        if a > lo:
            out.append((lo, min(a - step_ms, span[1])))
        lo = max(lo, b + step_ms)
    if lo <= span[1]:
        out.append((lo, span[1]))
    return [(a, b) for a, b in out if a <= b]


def _changed_rows(cached: pd.DataFrame | None, pulled: Sequence[pd.DataFrame]) -> int:
    """Rows of ``pulled`` (the last pull of a step winning) that ``cached`` lacks or holds another value for."""
    new = [p for p in pulled if p is not None and not p.empty]
    if not new:
        return 0
    rows = pd.concat(new, ignore_index=True).drop_duplicates(["unique_id", "ds"], keep="last")
    if cached is None or cached.empty:
        return len(rows)
    both = rows.merge(cached[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="left", suffixes=("", "_old"),
                      indicator=True)
    same = (both["y"] == both["y_old"]) | (both["y"].isna() & both["y_old"].isna() & (both["_merge"] == "both"))
    return int((~same).sum())


def merge(cached: pd.DataFrame | None, new: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Cached rows plus new rows, one row per ``(unique_id, ds)`` (a new row wins), sorted."""
    frames = [f for f in ([cached] if cached is not None else []) + list(new) if f is not None and not f.empty]
    if not frames:
        return new[0] if new else cached  # type: ignore[return-value]
    if len(frames) == 1:
        return frames[0]
    out = pd.concat(frames, ignore_index=True)
    out = out.drop_duplicates(["unique_id", "ds"], keep="last")
    return out.sort_values(["unique_id", "ds"], ignore_index=True, kind="stable")
