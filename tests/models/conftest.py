"""Fixtures for the model tests: series frames with the hard inputs every learned model must survive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def hard_frame(days: int = 14, seed: int = 0, exog: bool = False) -> pd.DataFrame:
    """Hourly frame: a gap and missing rows ('gappy'), an outage of zeros ('big'), a constant, an all-zero
    and a too-short series."""
    rng = np.random.default_rng(seed)
    n = 24 * days
    ds = pd.date_range("2026-01-05", periods=n, freq="h", tz="UTC")
    t = np.arange(n)
    daily = np.sin(2 * np.pi * t / 24)
    gappy = 20 + 8 * daily + rng.normal(0, 1, n)
    gappy[100:105] = np.nan
    big = 1000 + 400 * daily + rng.normal(0, 20, n)
    big[150:180] = 0.0  # outage
    parts = [
        pd.DataFrame({"unique_id": "gappy", "ds": ds, "y": gappy}).drop(index=[200, 201, 202]),
        pd.DataFrame({"unique_id": "big", "ds": ds, "y": big}),
        pd.DataFrame({"unique_id": "const", "ds": ds, "y": 8.0}),
        pd.DataFrame({"unique_id": "zero", "ds": ds, "y": 0.0}),
        pd.DataFrame({"unique_id": "short", "ds": ds[-30:], "y": 5 + daily[-30:]}),
    ]
    out = pd.concat(parts, ignore_index=True)
    if exog:
        out["pending"] = np.abs(np.roll(out["y"].fillna(0).to_numpy(), -2)) / 10
    return out.sort_values(["unique_id", "ds"], ignore_index=True)


def seasonal_frame(ids=("a", "b"), days: int = 10, seed: int = 1) -> pd.DataFrame:
    """Clean hourly series with a daily cycle at different scales."""
    rng = np.random.default_rng(seed)
    n = 24 * days
    ds = pd.date_range("2026-02-02", periods=n, freq="h", tz="UTC")
    parts = [
        pd.DataFrame({"unique_id": uid, "ds": ds,
                      "y": (k + 1) * 10 * (3 + np.sin(2 * np.pi * np.arange(n) / 24)) + rng.normal(0, 1, n)})
        for k, uid in enumerate(ids)
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def hard():
    """Factory of the hard-input frame (see :func:`hard_frame`)."""
    return hard_frame


@pytest.fixture(scope="session")
def seasonal():
    """Factory of clean seasonal frames (see :func:`seasonal_frame`)."""
    return seasonal_frame
