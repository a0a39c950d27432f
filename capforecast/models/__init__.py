"""Forecasting models behind one contract (see :mod:`capforecast.models.base`).

Models are looked up by alias without importing the heavy ones: TensorFlow is imported only when an
``lstm`` model is built or loaded.

Examples
--------
>>> from capforecast.models import get_model
>>> get_model("seasonal_naive", season="weekly")
SeasonalNaive(season='weekly')
"""

from __future__ import annotations

import importlib
from typing import Any

from capforecast.errors import ModelError
from capforecast.models.base import Forecaster, load_model
from capforecast.models.baselines import Naive, SeasonalNaive, SeasonalQuantile

__all__ = [
    "MODELS",
    "Forecaster",
    "Naive",
    "SeasonalNaive",
    "SeasonalQuantile",
    "get_model",
    "load",
    "model_class",
]

#: alias -> "module:Class" (imported on first use)
MODELS: dict[str, str] = {
    "naive": "capforecast.models.baselines:Naive",
    "seasonal_naive": "capforecast.models.baselines:SeasonalNaive",
    "seasonal_quantile": "capforecast.models.baselines:SeasonalQuantile",
    "gbm": "capforecast.models.gbm:GBMForecaster",
    "holt_winters": "capforecast.models.holt_winters:HoltWinters",
    "lstm": "capforecast.models.lstm:LSTMForecaster",
    "auto": "capforecast.models.auto:AutoForecaster",
}

load = load_model


def model_class(alias: str) -> type[Forecaster]:
    """The model class registered under ``alias`` (one of :data:`MODELS`)."""
    if alias not in MODELS:
        raise ModelError(f"unknown model {alias!r}; choose one of {', '.join(MODELS)}")
    module_name, _, class_name = MODELS[alias].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ModelError(f"model {alias!r} is not available ({exc}); choose one of {', '.join(MODELS)}") from None
    return getattr(module, class_name)  # type: ignore[no-any-return]


def get_model(alias: str, **params: Any) -> Forecaster:
    """Create the model registered under ``alias`` with hyperparameters ``params``."""
    cls = model_class(alias)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ModelError(f"model {alias!r}: {exc}; see help({cls.__name__}) for its parameters") from None
