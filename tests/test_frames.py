import logging

import numpy as np
import pandas as pd
import pytest

from capforecast import frames
from capforecast.errors import FrameError
from tests.conftest import make_frame


def test_valid_frame_passes_unchanged(frame):
    assert frames.validate(frame) is frame
    assert frames.infer_step(frame) == pd.Timedelta("1h")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop(columns="y"), "missing column"),
        (lambda d: d.assign(y=d["y"].round().astype("int64")), "must be float64"),
        (lambda d: d.assign(ds=d["ds"].dt.tz_localize(None)), "tz_localize('UTC')"),
        (lambda d: d.assign(ds=d["ds"].astype(str)), "pd.to_datetime"),
        (lambda d: d.assign(ds=d["ds"].dt.tz_convert("Europe/Paris")), "tz_convert('UTC')"),
        (lambda d: d.assign(unique_id=1), "unique_id must be strings"),
        (lambda d: d.iloc[::-1].reset_index(drop=True), "sort_values"),
        (lambda d: d.assign(y=d["y"].where(d.index != 7, np.inf)), "infinite"),
        (lambda d: pd.concat([d.iloc[:3], d.iloc[2:]], ignore_index=True), "share a (unique_id, ds)"),
        (lambda d: d.iloc[0:0], "no rows"),
    ],
)
def test_bad_frames_name_the_problem_and_fix(frame, mutate, message):
    with pytest.raises(FrameError, match=None) as info:
        frames.validate(mutate(frame))
    assert message in str(info.value)


def test_error_names_the_bad_rows(frame):
    bad = frame.copy()
    bad.loc[5, "y"] = np.inf
    with pytest.raises(FrameError) as info:
        frames.validate(bad)
    assert "row 5" in str(info.value) and "unique_id='a'" in str(info.value)


def test_irregular_steps_are_rejected_with_rows(frame):
    bad = frame.copy()
    bad.loc[10, "ds"] += pd.Timedelta("17min")
    with pytest.raises(FrameError, match="irregular steps") as info:
        frames.validate(bad)
    assert "row 10" in str(info.value)


def test_series_with_different_steps_cannot_share_one_step():
    a = make_frame(ids=("a",), freq="h")
    b = make_frame(ids=("b",), freq="30min")
    with pytest.raises(FrameError, match="different steps"):
        frames.infer_step(pd.concat([a, b], ignore_index=True))


def test_gaps_become_nan_and_are_reported(frame, caplog):
    holed = frame.drop(index=[3, 4, 5, 100]).reset_index(drop=True)
    gaps = frames.find_gaps(holed)
    assert gaps["missing_steps"].tolist() == [3, 1]
    assert gaps["start"].iloc[0] == frame.loc[3, "ds"] and gaps["end"].iloc[0] == frame.loc[5, "ds"]
    with caplog.at_level(logging.WARNING, logger="capforecast.frames"):
        full = frames.regularize(holed)
    assert "4 missing step(s)" in caplog.text
    assert len(full) == len(frame)
    assert full["y"].isna().sum() == 4
    pd.testing.assert_series_equal(full["y"].dropna(), holed["y"], check_index=False)
    with pytest.raises(FrameError, match="missing steps"):
        frames.regularize(holed, gaps="raise")


def test_regularize_keeps_a_complete_frame_and_its_exogenous_columns(frame):
    with_exog = frame.assign(pending=1.0)
    assert frames.regularize(with_exog) is with_exog
    holed = with_exog.drop(index=[10]).reset_index(drop=True)
    assert list(frames.regularize(holed).columns) == ["unique_id", "ds", "y", "pending"]


@pytest.mark.parametrize(("q", "col"), [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.995, "p99.5"), (0.05, "p5")])
def test_quantile_column_names(q, col):
    assert frames.quantile_column(q) == col


def test_parse_quantiles():
    assert frames.parse_quantiles("0.9, 0.5,0.9") == [0.5, 0.9]
    for bad in ("0.5,abc", "1.0", "0", ""):
        with pytest.raises(FrameError):
            frames.parse_quantiles(bad)


def _forecast(p50, p90):
    ds = pd.date_range("2026-01-01", periods=len(p50), freq="h", tz="UTC")
    return pd.DataFrame({"unique_id": "a", "ds": ds, "model": "m", "yhat": p50, "p50": p50, "p90": p90})


def test_forecast_frame_contract():
    good = _forecast([1.0, 2.0], [2.0, 2.0])
    assert frames.validate_forecast(good) is good
    assert frames.quantile_columns(good) == {0.5: "p50", 0.9: "p90"}
    with pytest.raises(FrameError, match="cross"):
        frames.validate_forecast(_forecast([1.0, 2.0], [2.0, 1.5]))
    with pytest.raises(FrameError, match="missing or infinite"):
        frames.validate_forecast(_forecast([1.0, np.nan], [2.0, 2.0]))
