"""An incremental parquet cache of ingested series, one file per (server, query, step, id labels).

The nightly job asks for the last N days every night; with a cache only the steps after the last stored
sample are pulled from Prometheus. Files are replaced atomically (temp file beside it + ``os.replace``), so a
crash mid-write leaves the previous file intact, and a failed ingest never touches it. The cache is kept
contiguous: it grows backwards or forwards from what it holds, never with a hole of its own making.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from capforecast._io import atomic_path
from capforecast.errors import IngestError

__all__ = ["CacheKey", "QueryCache"]

_META = b"capforecast.ingest"
_VERSION = 1


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
    cached: pd.DataFrame | None, first_ms: int, last_ms: int, step_ms: int
) -> list[tuple[int, int]]:
    """The ranges to pull so the cache covers ``[first_ms, last_ms]`` and stays contiguous.

    After the last stored sample (at most up to ``last_ms``) and, if asked for earlier data, before the first.
    """
    if cached is None or cached.empty:
        return [(first_ms, last_ms)]
    ns = cached["ds"].dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype("int64")
    have_first, have_last = int(ns.min()), int(ns.max())
    ranges: list[tuple[int, int]] = []
    if first_ms < have_first:
        ranges.append((first_ms, have_first - step_ms))
    if last_ms > have_last:
        ranges.append((have_last + step_ms, last_ms))
    return ranges


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
