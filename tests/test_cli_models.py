import pandas as pd
import pytest

from capforecast.cli import main
from capforecast.ingest.files import write_series

GBM = ["--param", "max_iter=10", "--param", "max_rows=3000"]


@pytest.fixture
def series_file(tmp_path, frame):
    return str(write_series(frame, tmp_path / "demand.csv"))


def test_forecast_fits_and_writes_the_same_frame_twice(tmp_path, series_file):
    outs = []
    for k in range(2):
        out = tmp_path / f"fc{k}.csv"
        code = main(["forecast", "--input", series_file, "--model", "gbm", *GBM, "--horizon", "24",
                     "--quantiles", "0.5,0.9,0.95", "--out", str(out)])
        assert code == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    fc = pd.read_csv(tmp_path / "fc0.csv")
    assert list(fc.columns) == ["unique_id", "ds", "model", "yhat", "p50", "p90", "p95"]
    assert len(fc) == 48 and (fc["p95"] >= fc["p90"]).all()


def test_train_then_forecast_from_the_registry(tmp_path, series_file, capsys):
    reg = str(tmp_path / "models")
    assert main(["train", "--input", series_file, "--model", "gbm", *GBM, "--registry", reg, "--promote"]) == 0
    assert "gbm v0001 (champion)" in capsys.readouterr().out
    out = tmp_path / "fc.parquet"
    assert main(["forecast", "--input", series_file, "--model", "gbm", "--registry", reg, "--version", "champion",
                 "--horizon", "12", "--out", str(out)]) == 0
    fc = pd.read_parquet(out)
    assert fc["model"].unique().tolist() == ["gbm"] and len(fc) == 24


def test_registry_forecast_refuses_series_not_in_training(tmp_path, frame, series_file, capsys):
    reg = str(tmp_path / "models")
    main(["train", "--input", series_file, "--model", "seasonal_naive", "--registry", reg])
    other = frame.assign(unique_id=frame["unique_id"] + "-new")
    path = str(write_series(other, tmp_path / "other.csv"))
    code = main(["forecast", "--input", path, "--model", "seasonal_naive", "--registry", reg, "--horizon", "6",
                 "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "were not in the training data" in err and "a-new" in err
    assert not (tmp_path / "x.csv").exists()


def test_bad_options_are_one_line_errors(tmp_path, series_file, capsys):
    code = main(["forecast", "--input", series_file, "--model", "gbm", "--param", "nope=1", "--horizon", "6",
                 "--out", str(tmp_path / "x.csv")])
    assert code == 1 and "has no such parameter" in capsys.readouterr().err
    code = main(["forecast", "--input", series_file, "--model", "gbm", *GBM, "--param", "horizon=6",
                 "--horizon", "12", "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "use --param horizon=12" in err and "GBMForecaster(" not in err
    reg = str(tmp_path / "models")
    assert main(["train", "--input", series_file, "--model", "gbm", *GBM, "--horizon", "6", "--registry", reg]) == 0
    code = main(["forecast", "--input", series_file, "--model", "gbm", "--registry", reg, "--horizon", "12",
                 "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 1 and f"capforecast train --model gbm --horizon 12 --registry {reg}" in err
    assert "GBMForecaster(" not in err and not (tmp_path / "x.csv").exists()
