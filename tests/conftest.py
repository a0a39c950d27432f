"""Shared test setup: deterministic, quiet TensorFlow; helpers to build small series frames."""

from __future__ import annotations

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402


def make_frame(ids=("a", "b"), periods=24 * 14, freq="h", seed=0, start="2026-01-05") -> pd.DataFrame:
    """A small series frame with a daily cycle, for tests."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=periods, freq=freq, tz="UTC")
    step_hours = (ds[1] - ds[0]) / pd.Timedelta("1h")
    parts = []
    for k, uid in enumerate(ids):
        t = np.arange(periods) * step_hours
        y = 20 + 10 * k + 8 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, periods)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()
