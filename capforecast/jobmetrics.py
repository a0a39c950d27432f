"""Job metrics for node-exporter's textfile collector, so ops can alert on a stale or failing nightly job.

node-exporter reads every ``*.prom`` file in its ``--collector.textfile.directory``; a half-written file
would be read as garbage, so :func:`write_textfile` writes a temporary file in the same directory and
renames it over the old one (atomic on POSIX). The last *successful* run time is carried over from the
previous file when a run fails, so ``time() - capforecast_nightly_last_success_timestamp_seconds > 26*3600``
alerts on a job that keeps failing.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["JobMetrics", "read_last_success", "render", "write_textfile"]

PREFIX = "capforecast_nightly_"
REALISED_PREFIX = "capforecast_realised_"  # what earlier plans delivered: a property of the pools, not of the job
_WINDOWS = {"last_day": "1d", "last_7_days": "7d"}
_REALISED = (  # (key in realised.json, metric name, help)
    ("busy_ratio", "busy_ratio", "Share of observed steps with demand above the capacity earlier plans held, "
     "per pool and window (1d, 7d)."),
    ("unmet_share", "unmet_ratio", "Unserved GPU demand over all GPU demand under earlier plans, per pool and window."),
    ("cost_ratio", "cost_ratio", "GPUs earlier plans held over the oracle's (just enough nodes), per pool and window."),
)
_LAST_SUCCESS = PREFIX + "last_success_timestamp_seconds"


@dataclass
class JobMetrics:
    """What one nightly run reports.

    Parameters
    ----------
    start_time, end_time
        Unix seconds when the run started and ended.
    status
        ``"success"``, ``"partial"`` or ``"failure"``.
    last_success_time
        Unix seconds of the last run that ended in success or partial success (None if never).
    backtest_score
        Per pool, the champion's backtest error (e.g. MASE).
    planned_nodes_max
        Per pool, the most nodes the new plan holds over its horizon.
    fallback
        Per pool, 1 if the pool fell back to the fallback model or rule, else 0.
    step_seconds
        Per step of the job, its duration in seconds.
    realised
        Per pool, the earlier plans scored against the demand observed since: the ``pools`` mapping of the run's
        ``realised.json`` (:func:`capforecast.planning.realised.score_realised`).

    Examples
    --------
    >>> m = JobMetrics(start_time=100.0, end_time=160.0, status="success", last_success_time=160.0)
    >>> "capforecast_nightly_duration_seconds 60" in render(m)
    True
    """

    start_time: float
    end_time: float
    status: str
    last_success_time: float | None = None
    metric: str = "mase"
    backtest_score: Mapping[str, float] = field(default_factory=dict)
    planned_nodes_max: Mapping[str, int] = field(default_factory=dict)
    fallback: Mapping[str, int] = field(default_factory=dict)
    step_seconds: Mapping[str, float] = field(default_factory=dict)
    realised: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def render(m: JobMetrics) -> str:
    """Return the metrics in the Prometheus text exposition format (one HELP/TYPE per family)."""
    lines: list[str] = []

    def family(name: str, help_text: str, samples: list[tuple[dict[str, str], float]], prefix: str = PREFIX) -> None:
        lines.append(f"# HELP {prefix}{name} {help_text}")
        lines.append(f"# TYPE {prefix}{name} gauge")
        for labels, value in samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(
                f"{prefix}{name}{{{text}}} {_number(value)}" if text else f"{prefix}{name} {_number(value)}"
            )

    family("last_run_timestamp_seconds", "Unix time the last nightly run ended.", [({}, m.end_time)])
    if m.last_success_time is not None:
        family(
            "last_success_timestamp_seconds",
            "Unix time the last successful (or partial) run ended.",
            [({}, m.last_success_time)],
        )
    family("duration_seconds", "Wall time of the last nightly run.", [({}, m.end_time - m.start_time)])
    family(
        "status",
        "1 for the status of the last run (success, partial or failure).",
        [({"status": s}, float(s == m.status)) for s in ("success", "partial", "failure")],
    )
    if m.step_seconds:
        family(
            "step_duration_seconds",
            "Wall time of each step of the last run.",
            [({"step": k}, v) for k, v in m.step_seconds.items()],
        )
    if m.backtest_score:
        family(
            "backtest_error",
            "Champion's backtest error per pool (lower is better).",
            [({"pool": k, "metric": m.metric}, v) for k, v in sorted(m.backtest_score.items())],
        )
    if m.planned_nodes_max:
        family(
            "planned_nodes_max",
            "Most nodes the new plan holds per pool over its horizon.",
            [({"pool": k}, v) for k, v in sorted(m.planned_nodes_max.items())],
        )
    if m.fallback:
        family(
            "pool_fallback",
            "1 if the pool fell back to the fallback model or rule in the last run.",
            [({"pool": k}, v) for k, v in sorted(m.fallback.items())],
        )
    for key, name, help_text in _REALISED:
        samples = [({"pool": pool, "window": label}, s[window][key]) for pool, s in sorted(m.realised.items())
                   for window, label in _WINDOWS.items() if s[window][key] is not None]
        if samples:
            family(name, help_text, samples, prefix=REALISED_PREFIX)
    if m.realised:
        family("flagged", "1 if the pool's realised busy exceeded its target on too many of the last 7 days.",
               [({"pool": k}, float(bool(s["flagged"]))) for k, s in sorted(m.realised.items())],
               prefix=REALISED_PREFIX)
    return "\n".join(lines) + "\n"


def read_last_success(path: str | os.PathLike[str]) -> float | None:
    """Return the last-success time recorded in an existing textfile, or None."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(rf"^{_LAST_SUCCESS} (\S+)$", text, re.MULTILINE)
    try:
        return float(match.group(1)) if match else None
    except ValueError:
        return None


def write_textfile(path: str | os.PathLike[str], metrics: JobMetrics) -> Path:
    """Write ``metrics`` to ``path`` atomically (temp file in the same directory, then rename).

    If ``metrics.last_success_time`` is None, the value already in the file is kept, so a failing run does
    not erase when the job last succeeded. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if metrics.last_success_time is None:
        metrics.last_success_time = read_last_success(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render(metrics))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
