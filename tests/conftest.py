"""Shared test setup: deterministic, quiet TensorFlow; helpers to build small series frames; the public data.

Tests that need the public data sets carry ``@pytest.mark.needs_data("helios-earth")`` (or call
:func:`shared_data`): without them they skip, saying how to get them, and everything else still runs.
"""

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


# ------------------------------------------------------------------------------------ the public data sets

DATA_HOWTO = "set CAPFORECAST_DATA to a folder holding m4-hourly/ and helios-earth/ (the M4 hourly and Helios data)"


def shared_data(*folders: str):
    """The public data folder holding ``folders`` (e.g. ``"helios-earth"``), or skip the test saying how to get it."""
    from capforecast.datasets import data_root
    from capforecast.errors import IngestError

    try:
        root = data_root()
    except IngestError:
        pytest.skip(f"needs the public data ({', '.join(folders) or 'any'}), not found: {DATA_HOWTO}")
    missing = [f for f in folders if not (root / f).is_dir()]
    if missing:
        pytest.skip(f"needs {', '.join(f + '/' for f in missing)} in {root}: {DATA_HOWTO}")
    return root


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data(*folders): needs the public data sets (skipped without them; "
                            "CAPFORECAST_DATA names their folder)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_data"):
        shared_data(*mark.args)
