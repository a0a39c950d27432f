"""The job-metrics textfile through prometheus_client: the same names and labels, parsed back by Prometheus's
own parser; never written over a file capforecast did not write; readable by node-exporter."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from capforecast import jobmetrics
from capforecast.errors import OutputError

FULL = jobmetrics.JobMetrics(
    start_time=1000.0, end_time=1090.5, status="partial", last_success_time=1090.5, metric="mase",
    backtest_score={"a100": 0.81, "h100": 1.2}, planned_nodes_max={"a100": 7}, fallback={"a100": 0, "h100": 1},
    step_seconds={"ingest": 1.5, "plan": 0.25},
    realised={"a100": {"target": 0.05, "flagged": True, "days_over_target": 2,
                       "last_day": {"busy_ratio": 0.25, "unmet_share": 0.1, "cost_ratio": 0.9, "steps": 24},
                       "last_7_days": {"busy_ratio": 0.1, "unmet_share": None, "cost_ratio": 1.05, "steps": 168}}},
)


def samples(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_every_family_and_label_as_before() -> None:
    got = samples(jobmetrics.render(FULL))
    p = jobmetrics.PREFIX
    assert got == {
        (p + "last_run_timestamp_seconds", ()): 1090.5,
        (p + "last_success_timestamp_seconds", ()): 1090.5,
        (p + "duration_seconds", ()): 90.5,
        (p + "status", (("status", "success"),)): 0.0,
        (p + "status", (("status", "partial"),)): 1.0,
        (p + "status", (("status", "failure"),)): 0.0,
        (p + "step_duration_seconds", (("step", "ingest"),)): 1.5,
        (p + "step_duration_seconds", (("step", "plan"),)): 0.25,
        (p + "backtest_error", (("metric", "mase"), ("pool", "a100"))): 0.81,
        (p + "backtest_error", (("metric", "mase"), ("pool", "h100"))): 1.2,
        (p + "planned_nodes_max", (("pool", "a100"),)): 7.0,
        (p + "pool_fallback", (("pool", "a100"),)): 0.0,
        (p + "pool_fallback", (("pool", "h100"),)): 1.0,
        ("capforecast_realised_busy_ratio", (("pool", "a100"), ("window", "1d"))): 0.25,
        ("capforecast_realised_busy_ratio", (("pool", "a100"), ("window", "7d"))): 0.1,
        ("capforecast_realised_unmet_ratio", (("pool", "a100"), ("window", "1d"))): 0.1,  # 7d: undefined, left out
        ("capforecast_realised_cost_ratio", (("pool", "a100"), ("window", "1d"))): 0.9,
        ("capforecast_realised_cost_ratio", (("pool", "a100"), ("window", "7d"))): 1.05,
        ("capforecast_realised_flagged", (("pool", "a100"),)): 1.0,
    }
    never = jobmetrics.JobMetrics(start_time=1.0, end_time=2.0, status="failure")
    assert not any("last_success" in name for name, _ in samples(jobmetrics.render(never)))


def test_the_textfile_replaces_only_its_own_and_is_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "capforecast_nightly.prom"
    jobmetrics.write_textfile(path, FULL)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # node-exporter runs as another user
    jobmetrics.write_textfile(path, FULL)  # its own file: replaced
    # a file from the hand-written writer of capforecast 0.2.0 starts with the same line: replaced too
    path.write_text("# HELP capforecast_nightly_last_run_timestamp_seconds Unix time the last nightly run ended.\n"
                    "# TYPE capforecast_nightly_last_run_timestamp_seconds gauge\n"
                    "capforecast_nightly_last_run_timestamp_seconds 5\n")
    jobmetrics.write_textfile(path, FULL)
    assert "capforecast_nightly_duration_seconds 90.5" in path.read_text()
    foreign = tmp_path / "other.prom"
    foreign.write_text("# HELP gpu_temp Someone else's metrics\n# TYPE gpu_temp gauge\ngpu_temp 40\n")
    before = foreign.read_bytes()
    with pytest.raises(OutputError, match="was not written by capforecast"):
        jobmetrics.write_textfile(foreign, FULL)
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capforecast_nightly.prom", "other.prom"]  # no temp
