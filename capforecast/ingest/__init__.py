"""Getting series frames in: from Prometheus, from CSV/parquet files, or the bundled sample.

>>> from capforecast.ingest import fetch, read_series  # doctest: +SKIP
"""

from __future__ import annotations

from capforecast.ingest.connection import Connection
from capforecast.ingest.files import read_series, read_table, write_series
from capforecast.ingest.prometheus import fetch, fetch_cached
from capforecast.ingest.queries import PRESETS, render

__all__ = [
    "PRESETS",
    "Connection",
    "fetch",
    "fetch_cached",
    "make_sample",
    "make_telemetry",
    "read_series",
    "read_table",
    "render",
    "write_sample",
    "write_series",
]


def __getattr__(name: str) -> object:
    # the sample module is also run as a script (python -m capforecast.ingest.sample): import it lazily
    if name in ("make_sample", "make_telemetry", "write_sample"):
        from capforecast.ingest import sample

        return getattr(sample, name)
    raise AttributeError(f"module 'capforecast.ingest' has no attribute {name!r}")
