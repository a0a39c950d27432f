"""The nightly job: ingest -> backtest -> champion -> forecast -> plan -> outputs, then swap ``latest``.

Everything is written into a hidden staging directory first; only when every step has succeeded are the
new champions recorded in the registry, the staging directory renamed to ``runs/<date>`` and the ``latest``
symlink swapped with one atomic ``rename``. A failure at any step therefore leaves the last good models,
plan and ``latest`` exactly as they were. A lock file (``flock``, released by the kernel if the process
dies) stops two runs at once. Running twice for the same day reuses the finished run unless ``force``.

Exit codes: 0 success, 3 partial (some pools fell back to the fallback model or rule), 1 failure.

Examples
--------
>>> from capforecast.config import load_config            # doctest: +SKIP
>>> result = run_nightly(load_config("deploy/nightly.example.yaml"))  # doctest: +SKIP
>>> result.status, result.run_dir                          # doctest: +SKIP
('success', PosixPath('/var/lib/capforecast/runs/2026-05-01'))
"""

from __future__ import annotations

from capforecast.pipeline._result import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    STEPS,
    LockedError,
    RunResult,
)
from capforecast.pipeline._result import ProgressFn as ProgressFn
from capforecast.pipeline._result import logger as logger
from capforecast.pipeline._run import nightly_lock as nightly_lock
from capforecast.pipeline._run import run_nightly

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "LockedError", "RunResult", "STEPS", "run_nightly"]
