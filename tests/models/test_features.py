import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ModelError
from capforecast.models import _features as feat
from capforecast.models._quantiles import select_levels, training_levels


def test_calendar_is_cyclic_midnight_equals_next_midnight_hour_part():
    cal = feat.calendar_features(pd.date_range("2026-01-05", periods=25, freq="h", tz="UTC"))
    np.testing.assert_allclose(cal[0, :2], cal[24, :2], atol=1e-6)
    assert not np.allclose(cal[0, 2:], cal[24, 2:])  # a different weekday


def test_outage_of_zeros_is_masked_but_normal_zeros_are_kept():
    y = np.tile(np.arange(1.0, 25.0), 5)
    y[30:60] = 0.0
    masked, n = feat.mask_outages(y, 24)
    assert n == 30 and np.isnan(masked[30:60]).all() and not np.isnan(masked[:30]).any()
    sparse = np.zeros(120)
    sparse[::10] = 3.0
    assert feat.mask_outages(sparse, 24)[1] == 0


def test_fill_for_input_uses_the_season_before():
    y = np.tile(np.arange(24.0), 3)
    y[30] = np.nan
    assert feat.fill_for_input(y, 24)[30] == 6.0


def test_history_problem_names_short_and_constant_series():
    assert "fewer than two seasons" in feat.history_problem(np.ones(30) + np.arange(30), 24)
    assert "constant" in feat.history_problem(np.full(100, 3.0), 24)
    assert feat.history_problem(np.arange(100.0), 24) is None


def test_quantile_levels_interpolate_inside_and_refuse_outside():
    assert training_levels([0.9]) == [0.5, 0.9]
    values = np.array([[[1.0, 2.0, 4.0]]])
    out = select_levels([0.1, 0.5, 0.9], values, [0.5, 0.7], model="x")
    assert out[0.5].item() == 2.0 and out[0.7].item() == pytest.approx(3.0)
    with pytest.raises(ModelError, match="refit with quantiles"):
        select_levels([0.1, 0.5, 0.9], values, [0.99], model="x")
