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


# ------------------------------------------------------------------ corrupt files, line numbers, separators


def _good_csv(tmp_path, name="ok.csv.gz", rows=400):
    frame = make_frame(ids=("a",), periods=rows)
    path = tmp_path / name
    frame.assign(ds=frame["ds"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("damage", ["truncate", "not-gzip", "flip-bytes", "empty"])
@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".parquet"])
def test_a_truncated_or_corrupt_file_is_one_clear_error(tmp_path, suffix, damage):
    if suffix == ".parquet":
        path = tmp_path / "d.parquet"
        make_frame(ids=("a",), periods=400).to_parquet(path)
    else:
        path = _good_csv(tmp_path, "d" + suffix)
    data = path.read_bytes()
    broken = {"truncate": data[: len(data) // 2], "not-gzip": b"this is not a compressed file\n" * 20,
              "flip-bytes": data[:30] + bytes(b ^ 0x5A for b in data[30:90]) + data[90:], "empty": b""}[damage]
    path.write_bytes(broken)
    with pytest.raises(IngestError) as info:
        read_series(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "complete?" in message or "no rows" in message or "not found" in message


def test_file_errors_cite_the_file_line_not_the_sorted_row(tmp_path):
    # b's rows come first in the file; sorting puts a first, so a sorted-row number would be wrong
    path = tmp_path / "d.csv"
    path.write_text("unique_id,ds,y\nb,2026-01-01T00:00Z,1\nb,2026-01-01T01:00Z,1\na,2026-01-01T00:00Z,1\n"
                    "a,2026-01-01T01:00Z,2\na,2026-01-01T01:00Z,3\n")
    with pytest.raises(IngestError, match="share a") as info:
        read_series(path)
    assert "line 5:" in str(info.value) and "line 6:" in str(info.value)
    assert "df." not in str(info.value)  # a fix in the file, not pandas code
    path.write_text("unique_id,ds,y\nb,2026-01-01T00:00Z,1\na,2026-01-01T00:00Z,inf\n")
    with pytest.raises(IngestError, match="line 3:"):
        read_series(path)
    frame = make_frame(ids=("a",), periods=4)
    frame.loc[3, "y"] = np.inf
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(IngestError, match="row 4:"):
        read_series(tmp_path / "d.parquet")


def test_the_irregular_step_hint_names_the_series_own_step(tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"a,2026-01-01T{h:02d}:00Z,1" for h in range(6)] + ["a,2026-01-01T06:30Z,1"]
    path.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(IngestError, match="irregular") as info:
        read_series(path)
    assert "1h" in str(info.value) and "5min" not in str(info.value) and "line 8" in str(info.value)
    frame = pd.read_csv(path).assign(ds=lambda d: pd.to_datetime(d["ds"], utc=True), y=lambda d: d["y"] * 1.0)
    from capforecast import frames
    from capforecast.errors import FrameError

    with pytest.raises(FrameError, match=r"resample\('1h'\)"):
        frames.validate(frame)


def test_semicolons_tabs_and_decimal_commas_are_read(tmp_path):
    (tmp_path / "s.csv").write_text("unique_id;ds;y\na;2026-01-01T00:00Z;1,5\na;2026-01-01T01:00Z;2,25\n")
    assert read_series(tmp_path / "s.csv")["y"].tolist() == [1.5, 2.25]
    (tmp_path / "t.csv").write_text("unique_id\tds\ty\na\t2026-01-01T00:00Z\t1.5\na\t2026-01-01T01:00Z\t2\n")
    assert read_series(tmp_path / "t.csv")["y"].tolist() == [1.5, 2.0]
    (tmp_path / "c.csv").write_text("unique_id,ds,y\na,2026-01-01T00:00Z,1,5\na,2026-01-01T01:00Z,2,25\n")
    with pytest.raises(IngestError, match="decimal comma"):  # ',' both separates and marks decimals: say so
        read_series(tmp_path / "c.csv")


def test_auto_layout_and_errors_in_the_callers_spelling(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("time,a100,h100\n2026-01-01T00:00Z,1,2\n2026-01-01T01:00Z,3,4\n")
    wide = read_series(path, layout="auto", time_col="time")
    assert wide["unique_id"].tolist() == ["a100", "a100", "h100", "h100"]
    with pytest.raises(IngestError, match=r"id_col=, time_col=, target_col=.*layout='wide'"):
        read_series(path)
    flags = {"id_col": "--id-col", "time_col": "--time-col", "target_col": "--target-col", "layout": "--layout"}
    with pytest.raises(IngestError) as info:
        read_series(path, layout="auto", options=flags)
    assert "--time-col" in str(info.value) and "time_col=" not in str(info.value)


def test_a_truncated_public_data_file_is_one_clear_error(tmp_path):
    from capforecast.datasets import load_helios, load_m4_hourly

    (tmp_path / "helios-earth").mkdir()
    trace = tmp_path / "helios-earth" / "vc1.csv.gz"
    pd.DataFrame({"time": pd.date_range("2020-05-01", periods=500, freq="min").astype(str), "running_gpu_num": 1,
                  "pending_gpu_num": 0, "running_job_num": 1, "pending_job_num": 0,
                  "total_gpu_num": 8}).to_csv(trace, index=False)
    trace.write_bytes(trace.read_bytes()[:-40])
    with pytest.raises(IngestError, match=r"vc1.csv.gz: cannot read it as CSV \(gzip\)"):
        load_helios(tmp_path)
    with pytest.raises(IngestError, match="Hourly-train.csv: no such file"):
        load_m4_hourly(tmp_path)
