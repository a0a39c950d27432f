from pathlib import Path

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.ingest.files import read_series
from capforecast.ingest.sample import make_sample, make_telemetry, write_sample
from capforecast.models import Naive, SeasonalNaive

ROOT = Path(__file__).resolve().parents[2]


def test_committed_sample_is_what_the_generator_writes(tmp_path):
    written = write_sample(tmp_path)
    for path in written:
        assert path.read_bytes() == (ROOT / "data" / "sample" / path.name).read_bytes(), path.name


def test_sample_shape_and_realism():
    tel = make_telemetry()
    assert set(tel["pool"]) == {"a100-train", "h100-infer"}
    assert {"gpus_busy", "gpus_pending", "tasks_running", "tasks_pending"} <= set(tel.columns)
    frame = make_sample()
    assert frames.infer_step(frame) == pd.Timedelta("1h")
    span = frame.groupby("unique_id")["ds"].agg(lambda s: s.max() - s.min())
    assert (span >= pd.Timedelta(days=59)).all()
    assert len(frames.find_gaps(frame)) >= 3  # scrape gaps are absent rows, not invented values
    train = frame[frame["unique_id"] == "a100-train"]
    assert (train["y"] == 0).sum() >= 12  # the outage
    assert (tel["gpus_pending"] > 0).any()  # bursts queue when the pool is full


def test_a_seasonal_model_clearly_beats_naive_on_the_sample():
    frame = read_series(ROOT / "data" / "sample" / "series.csv")
    cut = frame["ds"].max() - pd.Timedelta("48h")
    train, test = frame[frame["ds"] <= cut], frame[frame["ds"] > cut]
    mae = {}
    for model in (Naive(), SeasonalNaive()):
        fc = model.fit(train).predict(48).merge(test, on=["unique_id", "ds"])
        mae[model.alias] = np.mean(np.abs(fc["y"] - fc["yhat"]))
    assert mae["seasonal_naive"] < 0.5 * mae["naive"]
