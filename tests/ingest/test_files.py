import numpy as np
import pandas as pd
import pytest

from capforecast.errors import IngestError
from capforecast.ingest.files import read_series, write_series
from tests.conftest import make_frame


def test_round_trip_csv_and_parquet(tmp_path):
    frame = make_frame().assign(pending=2.5)
    frame.loc[3, "y"] = np.nan
    for name in ("f.csv", "f.parquet"):
        write_series(frame, tmp_path / name)
        back = read_series(tmp_path / name)
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)
        assert str(back["ds"].dt.tz) == "UTC" and back["y"].dtype == np.float64


def test_long_file_with_own_column_names_and_exogenous_choice(tmp_path):
    raw = pd.DataFrame(
        {
            "pool": ["p1", "p1", "p2", "p2"],
            "timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"] * 2,
            "gpus": [1, 2, 3, 4],
            "pending": [0, 1, 0, 1],
            "note": ["x"] * 4,
        }
    )
    raw.to_csv(tmp_path / "u.csv", index=False)
    frame = read_series(tmp_path / "u.csv", id_col="pool", time_col="timestamp", target_col="gpus")
    assert list(frame.columns) == ["unique_id", "ds", "y", "pending"]
    assert frame["y"].tolist() == [1.0, 2.0, 3.0, 4.0]
    none = read_series(tmp_path / "u.csv", id_col="pool", time_col="timestamp", target_col="gpus", exog_cols=[])
    assert list(none.columns) == ["unique_id", "ds", "y"]


def test_unix_seconds_and_single_series_without_id(tmp_path):
    pd.DataFrame({"t": [1767225600, 1767229200], "v": [1.5, 2.5]}).to_csv(tmp_path / "s.csv", index=False)
    frame = read_series(tmp_path / "s.csv", time_col="t", target_col="v", id_value="pool-a")
    assert frame["ds"].tolist() == list(pd.to_datetime(["2026-01-01T00:00Z", "2026-01-01T01:00Z"], utc=True))
    assert set(frame["unique_id"]) == {"pool-a"}


def test_wide_layout(tmp_path):
    pd.DataFrame({"time": ["2026-01-01 00:00", "2026-01-01 00:05"], "a": [1, 2], "b": [3, None]}).to_parquet(
        tmp_path / "w.parquet"
    )
    frame = read_series(tmp_path / "w.parquet", layout="wide", time_col="time")
    assert frame["unique_id"].tolist() == ["a", "a", "b", "b"]
    assert np.isnan(frame["y"].iloc[3])


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ("unique_id,ds,value\na,2026-01-01,1\n", {}, "column(s) ['y'] not found"),
        ("unique_id,ds,y\na,2026-01-01,1\na,yesterday,2\n", {}, "unparseable timestamp"),
        ("unique_id,ds,y\na,2026-01-01,1\na,2026-01-02,lots\n", {}, "non-numeric value"),
        ("unique_id,ds,y\na,2026-01-01 00:00,1\na,2026-01-01 01:00,2\na,2026-01-01 01:30,2\na,2026-01-01 02:30,2\n"
         "a,2026-01-01 03:30,2\n", {}, "irregular steps"),
        ("unique_id,ds,y\na,2026-01-01,1\na,2026-01-01,2\n", {}, "share a (unique_id, ds)"),
        ("unique_id,ds,y\n", {}, "no rows"),
        ("ds,y\n2026-01-01,1\n", {"layout": "tall"}, "layout must be"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path, content, kwargs, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(IngestError) as info:
        read_series(path, **kwargs)
    assert message in str(info.value)


def test_missing_or_unknown_files(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        read_series(tmp_path / "nope.csv")
    with pytest.raises(IngestError, match="unknown file type"):
        read_series(tmp_path / "data.xlsx")
