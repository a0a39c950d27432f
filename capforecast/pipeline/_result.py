"""What a nightly run reports: its result, exit codes, errors and the per-step timer and log lines."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from capforecast.errors import CapforecastError

logger = logging.getLogger("capforecast.nightly")

EXIT_OK, EXIT_FAILURE, EXIT_PARTIAL = 0, 1, 3
STEPS = ("ingest", "realised", "backtest", "select", "train", "forecast", "plan", "write", "publish")
ProgressFn = Callable[[str, int, int], None]


class LockedError(CapforecastError):
    """Another nightly run holds the lock; this run changed nothing."""


@dataclass
class RunResult:
    """What one nightly run did.

    Attributes
    ----------
    status : str
        ``"success"``, ``"partial"`` or ``"reused"`` (the day's run already existed).
    run_dir : Path
        The dated run directory (``latest`` points at it).
    champions : dict
        Per pool, ``{"model": alias, "score": float, "kept_previous": bool, "fallback": bool, "why": str}``.
    steps : dict
        Seconds spent in each step.
    realised : dict
        Per pool, the earlier plans scored against the demand observed since (``realised.json``'s ``pools``).

    Examples
    --------
    >>> RunResult("success", Path("runs/2026-05-01")).exit_code
    0
    """

    status: str
    run_dir: Path
    date: str = ""
    champions: dict[str, dict] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows_ingested: int = 0
    planned_nodes_max: dict[str, int] = field(default_factory=dict)
    realised: dict[str, dict] = field(default_factory=dict)  # per pool, as in realised.json

    @property
    def exit_code(self) -> int:
        """0 for success (or a reused finished run that succeeded), 3 for partial."""
        return EXIT_PARTIAL if self.status == "partial" else EXIT_OK

    @property
    def fallback_pools(self) -> list[str]:
        """Pools that fell back to the fallback model or rule."""
        return sorted(p for p, c in self.champions.items() if c.get("fallback"))


class _Steps:
    """Times each step, logs one line per step with its duration, and reports progress."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str, detail: Callable[[], str] | None = None) -> Iterator[None]:
        if self.progress is not None:
            self.progress(name, STEPS.index(name) + 1, len(STEPS))
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self.seconds[name] = time.perf_counter() - start
            logger.error("nightly: %-8s failed after %.1fs", name, self.seconds[name])
            raise
        self.seconds[name] = time.perf_counter() - start
        extra = f" ({detail()})" if detail is not None else ""
        logger.info("nightly: %-8s done in %.1fs%s", name, self.seconds[name], extra)
