"""Data warnings said once per run, not once by every stage that checks the same series.

A run reads a file (validated), fits a model (validated again), backtests it on windows of the same frame
(validated per window): each check would repeat "y is negative in series a". Inside :func:`once` each series
is named once per kind of warning; outside any :func:`once` every check warns, as a single call should. The
scope is a :mod:`contextvars` variable, so threads and other callers in the process are not affected.

Examples
--------
>>> with once():
...     fresh("y", ["a", "b"]), fresh("y", ["b", "c"])
(['a', 'b'], ['c'])
>>> fresh("y", ["a"])  # outside a run, every check is fresh
['a']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["fresh", "once", "seen"]

_SEEN: ContextVar[set[tuple[str, str]] | None] = ContextVar("capforecast_reported", default=None)


@contextmanager
def once(already: Iterable[tuple[str, str]] = ()) -> Iterator[None]:
    """Within this block each ``(kind, series)`` is reported once; nested blocks share the outer record.

    ``already``: pairs reported elsewhere (e.g. by the process that handed this one its work).
    """
    outer = _SEEN.get()
    record = outer if outer is not None else set()
    record.update(already)
    token = _SEEN.set(record)
    try:
        yield
    finally:
        _SEEN.reset(token)


def fresh(kind: str, ids: Iterable[str]) -> list[str]:
    """The ``ids`` not yet reported for ``kind`` in this run, now marked as reported (all of them outside a run)."""
    record = _SEEN.get()
    ids = list(dict.fromkeys(ids))
    if record is None:
        return ids
    new = [i for i in ids if (kind, i) not in record]
    record.update((kind, i) for i in new)
    return new


def seen() -> frozenset[tuple[str, str]]:
    """What this run has reported so far (to hand to :func:`once` in a worker process)."""
    return frozenset(_SEEN.get() or ())
