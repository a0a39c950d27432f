"""Negative demand is never accepted silently: a warning naming the series for frames, a clear refusal in plan."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capforecast import frames
from capforecast.errors import PlanningError
from capforecast.models import get_model
from capforecast.planning import parse_pools, plan_capacity

ROOT = Path(__file__).resolve().parents[1]
DS = pd.date_range("2026-05-01", periods=72, freq="h", tz="UTC")


def series(values_b: np.ndarray) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": "a", "ds": DS, "y": 10.0 + DS.hour.to_numpy()}),
                      pd.DataFrame({"unique_id": "b", "ds": DS, "y": values_b})], ignore_index=True)


def forecast(p50_b: float) -> pd.DataFrame:
    ds = pd.date_range("2026-05-04", periods=6, freq="h", tz="UTC")
    return pd.concat([pd.DataFrame({"unique_id": u, "ds": ds, "model": "m", "yhat": v, "p50": v, "p90": v + 4})
                      for u, v in (("a", 10.0), ("b", p50_b))], ignore_index=True)


def test_a_series_frame_with_negative_demand_is_accepted_with_a_warning_naming_it(caplog) -> None:
    y = np.full(72, 5.0)
    y[[30, 31, 50]] = -2.0
    with caplog.at_level(logging.WARNING, logger="capforecast.frames"):
        assert frames.validate(series(y), name="gpus.csv") is not None
    (msg,) = [r.getMessage() for r in caplog.records]
    assert msg.startswith("gpus.csv: y is negative in 1 series: b (3 rows, first at 2026-05-02 06:00 UTC)")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="capforecast.frames"):
        frames.validate(series(np.full(72, 5.0)))
    assert not caplog.records


def test_a_model_fitted_on_negative_history_warns_and_its_negative_forecast_is_named(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="capforecast.frames"):
        fc = get_model("naive").fit(series(np.full(72, -3.0))).predict(4, quantiles=[0.5])
    assert (fc.loc[fc["unique_id"] == "b", "p50"] < 0).all()
    text = " | ".join(r.getMessage() for r in caplog.records)
    assert "series frame: y is negative in 1 series: b (72 rows" in text
    assert "forecast frame: yhat or a quantile is negative in 1 series: b (4 rows" in text


def test_plan_refuses_negative_forecast_quantiles_naming_the_series() -> None:
    pools = parse_pools({"pools": [{"name": n, "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 4,
                                    "lead_time": "15m", "quantile": 0.9} for n in ("a", "b")]})
    assert len(plan_capacity(forecast(3.0), pools)) == 12
    with pytest.raises(PlanningError, match=r"negative quantiles in 1 series: b \(6 rows, first at 2026-05-04 "
                                            r"00:00 UTC\); GPU demand cannot be negative"):
        plan_capacity(forecast(-5.0), pools)


def test_plan_command_refuses_a_negative_forecast_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    fc = tmp_path / "fc.csv"
    forecast(-5.0).to_csv(fc, index=False)
    pools = tmp_path / "pools.yaml"
    pools.write_text("pools:\n" + "".join(f"  - {{name: {n}, gpus_per_node: 8, min_nodes: 0, max_nodes: 4, "
                                           "lead_time: 15m, quantile: 0.9}\n" for n in "ab"))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "capforecast.cli", "plan", "--forecast", str(fc), "--pools",
                           str(pools), "--out", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("capforecast: error:")]
    assert len(errors) == 1 and "negative quantiles in 1 series: b (6 rows" in errors[0], done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


@pytest.mark.parametrize("command", [
    ["forecast", "--model", "seasonal_naive", "--horizon", "6", "--out", "fc.csv"],
    ["backtest", "--models", "seasonal_naive,naive", "--horizon", "6", "--windows", "3", "--no-plot",
     "--no-progress", "--out", "bt.csv"],
    ["train", "--model", "seasonal_naive", "--registry", "models"],
])
def test_negative_demand_is_warned_once_per_cli_run(tmp_path: Path, command: list[str]) -> None:
    y = np.full(72, 5.0)
    y[[3, 4, 40]] = -2.0
    series(y).to_csv(tmp_path / "gpus.csv", index=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "capforecast.cli", command[0], "--input", "gpus.csv",
                           *command[1:]], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "y is negative" in line]
    assert warned == [warned[0]] and warned[0].startswith("gpus.csv: y is negative in 1 series: b (3 rows"), \
        done.stderr


def test_a_backtest_warns_once_about_the_frame_not_once_per_window(caplog) -> None:
    from capforecast.evaluation.backtest import cross_validation

    y = np.full(72, 5.0)
    y[[3, 4]] = -2.0
    with caplog.at_level(logging.WARNING, logger="capforecast.frames"):
        cross_validation(series(y), ["naive", "seasonal_naive"], h=6, n_windows=3, progress=False)
        cross_validation(series(y), ["naive"], h=6, n_windows=2, progress=False)  # a second call warns again
    warned = [r.getMessage() for r in caplog.records if "y is negative" in r.getMessage()]
    assert len(warned) == 2 and all("b (2 rows" in w for w in warned), warned
