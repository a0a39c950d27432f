"""`capforecast backtest`: score table printed and written, forecasts CSV, PNG; errors as one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capforecast.cli import main


@pytest.fixture
def series_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    ds = pd.date_range("2026-01-05", periods=24 * 9, freq="h", tz="UTC")
    t = np.arange(len(ds))
    df = pd.concat([pd.DataFrame({"unique_id": uid, "ds": ds.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "y": 30 + k * 10 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t))})
                    for k, uid in enumerate(["pool-a", "pool-b"])])
    path = tmp_path / "demand.csv"
    df.to_csv(path, index=False)
    return path


def test_backtest_writes_scores_forecasts_and_plot(series_csv: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bt" / "scores.csv"
    code = main(["backtest", "--input", str(series_csv), "--models", "naive,seasonal_naive",
                 "--horizon", "1d", "--windows", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "seasonal_naive" in printed and "mase" in printed
    scores = pd.read_csv(out)
    assert set(scores["model"]) == {"naive", "seasonal_naive"} and len(scores) == 4
    s = scores.set_index(["model", "unique_id"])["mase"]
    assert s[("seasonal_naive", "pool-a")] < s[("naive", "pool-a")]
    fc = pd.read_csv(out.with_name("scores_forecasts.csv"))
    assert {"cutoff", "y", "yhat", "p90"} <= set(fc.columns) and fc["cutoff"].nunique() == 2
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backtest_errors_are_one_line(series_csv: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--input", str(series_csv), "--out", str(tmp_path / "x.txt")]) == 1
    assert "give a .csv file name" in capsys.readouterr().err
    assert main(["backtest", "--input", str(series_csv), "--models", "nope", "--out",
                 str(tmp_path / "x.csv")]) == 1
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["backtest", "--input", str(series_csv), "--models", "naive", "--windows", "20",
                 "--out", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("capforecast: error:") and "lower --windows" in err
    assert not (tmp_path / "x.csv").exists()
