"""Running the nightly job once: the lock, reuse of a finished day, staging, publishing and job metrics."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from capforecast import _reported
from capforecast._units import format_duration, parse_time
from capforecast.compute import Compute, engine
from capforecast.config import Config
from capforecast.errors import OutputError
from capforecast.pipeline._build import _build
from capforecast.pipeline._publish import (
    _check_champions,
    _check_targets,
    _latest_date,
    _point_latest,
    _promote,
    _publish,
    _summary,
    _write_json,
    _write_metrics,
)
from capforecast.pipeline._result import LockedError, ProgressFn, RunResult, _Steps, logger


@contextlib.contextmanager
def nightly_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking ``flock`` on ``path``; raise :class:`LockedError` if it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise LockedError(
                f"another nightly run is in progress ({holder}; lock {path}); this run changed nothing — "
                "wait for it to finish (the lock is released automatically when that process exits)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {pd.Timestamp.now(tz='UTC'):%Y-%m-%dT%H:%M:%SZ}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _finished_run(path: Path) -> dict:
    """The summary of a finished run (its ``run.json``); an unreadable one is an error saying to run again."""
    try:
        done = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        done = exc
    if not isinstance(done, dict):
        why = f"{type(done).__name__}: {done}" if isinstance(done, Exception) else f"not a mapping: {done!r}"[:120]
        raise OutputError(f"{path} cannot be read ({why}), so the run of that day is not reused; move "
                          f"{path.parent} away, or run again with --force (force=True) to replace it")
    return done


@_reported.once()  # a data warning (negative demand) is said once per run, not by every stage
def run_nightly(
    cfg: Config,
    *,
    now: pd.Timestamp | str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    compute: Compute | None = None,
) -> RunResult:
    """Run the nightly job once for the UTC day of ``now`` (default: the current time).

    Raises :class:`LockedError` if another run holds the lock (nothing is touched, not even the job
    metrics), and any other :class:`~capforecast.errors.CapforecastError` on failure, after writing the
    failure to the job-metrics file; the previous run, models and ``latest`` are left as they were.
    ``compute`` (default: the config's ``compute:``, else this process) says where backtests and per-pool fits
    run (:mod:`capforecast.compute`); the outputs are the same on every backend.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else parse_time(now, name="now")
    out = cfg.output
    date = f"{now:%Y-%m-%d}"
    final = out.runs_dir / date
    with nightly_lock(out.lock_file):
        for leftover in out.runs_dir.glob(".*.staging-*"):  # from a run that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        if not force and (final / "run.json").is_file():
            done = _finished_run(final / "run.json")
            logger.info(
                "nightly: the run for %s already finished (%s) in %s; reusing it (use --force to run it again)",
                date,
                done.get("status"),
                final,
            )
            if _latest_date(cfg) < date:  # killed between moving the run into place and swapping latest
                _point_latest(cfg, final)
            if _latest_date(cfg) == date:  # killed before the champions were promoted: finish it
                _promote(cfg, done.get("registry_versions", {}))
            return RunResult(
                "reused" if done.get("status") != "partial" else "partial",
                final,
                date,
                champions=done.get("champions", {}),
                notes=["reused the finished run"],
            )
        started, timer = time.time(), _Steps(progress)
        staging = out.runs_dir / f".{date}.staging-{os.getpid()}"
        try:
            _check_targets(cfg, final)  # before any work: never replace what capforecast did not write
            _check_champions(cfg)
            staging.mkdir(parents=True)
            with engine(compute or cfg.compute):  # the fan-out's backend: the config's, or the caller's
                result, models = _build(cfg, now, staging, timer)
            result.run_dir, result.date = final, date
            with timer.step("publish", lambda: f"latest -> {final}"):
                _write_json(staging / "run.json", _summary(result, now, timer.seconds))
                _publish(cfg, models, staging, final)
            result.steps = dict(timer.seconds)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            _write_metrics(cfg, started, "failure", timer.seconds, None)
            raise
        _write_metrics(cfg, started, result.status, timer.seconds, result)
        logger.info(
            "nightly: %s in %s; outputs in %s",
            result.status,
            format_duration(pd.Timedelta(seconds=round(time.time() - started))),
            final,
        )
        return result
