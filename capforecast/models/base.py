"""The model contract every forecaster follows (scikit-learn's, with statsforecast's frames).

``__init__`` stores keyword hyperparameters only; ``fit(frame)`` validates the series frame, learns state into
attributes ending in ``_`` and returns ``self``; ``predict(horizon, quantiles=...)`` returns a forecast frame
whose quantile columns never cross, and raises :class:`~capforecast.errors.NotFittedError` before ``fit``;
``save(path)`` / :func:`capforecast.models.load` round-trip exactly.

A subclass sets ``alias`` and implements ``_fit(frame)`` and ``_predict(horizon, quantiles)``; the base does
validation, the future time grid and the output frame (as darts' baselines do), so subclasses stay small.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import inspect
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd

from capforecast import frames
from capforecast._io import atomic_dir
from capforecast._units import check_horizon
from capforecast.errors import ModelError, NotFittedError
from capforecast.models._params import PICKLED_PARAMS_FILE as _PICKLED_PARAMS_FILE
from capforecast.models._params import decode_params, encode_params, jsonable

__all__ = [
    "FORMAT",
    "Forecaster",
    "decode_params",
    "encode_params",
    "jsonable",
    "load_model",
    "season_steps",
    "series_values",
]

FORMAT = "capforecast-model"
FORMAT_VERSION = 1
_PARAMS_FILE = "metadata.json"
_STATE_FILE = "state.joblib"


def series_values(frame: pd.DataFrame, column: str = "y") -> dict[str, np.ndarray]:
    """Split a regularized frame into ``{unique_id: values}`` (float64 arrays, NaN where data is missing)."""
    return {
        str(uid): group[column].to_numpy(dtype=np.float64)
        for uid, group in frame.groupby("unique_id", sort=True)
    }


class Forecaster:
    """Base class of all capforecast models.

    Subclasses implement ``_fit(frame)`` (``frame`` is validated and regularized: every step present, NaN
    where data is missing) and ``_predict(horizon, quantiles)`` returning ``(yhat, {q: values})`` as arrays of
    shape ``(n_series, horizon)`` in the order of ``ids_``.

    Examples
    --------
    >>> from capforecast.models import SeasonalNaive
    >>> from capforecast.ingest.sample import make_sample
    >>> frame = make_sample(days=21, pools=["a100-train"])
    >>> fc = SeasonalNaive(season="daily").fit(frame).predict(24, quantiles=[0.5, 0.9])
    >>> list(fc.columns)
    ['unique_id', 'ds', 'model', 'yhat', 'p50', 'p90']
    """

    alias: ClassVar[str] = ""
    #: True when each series is fitted on its own (nothing is learned across series), so a frame may be cut
    #: into groups of series fitted apart (backtests and the nightly job fan those out); global models
    #: (GBM, LSTM, ``auto`` with them) learn across series and are fitted once.
    per_series: ClassVar[bool] = False

    # ------------------------------------------------------------------ parameters (scikit-learn style)
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind in kinds]

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Forecaster:
        """Set hyperparameters by name and return ``self``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ModelError(f"{type(self).__name__} has no parameter {name!r}; valid ones are {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fit / predict
    def fit(self, df: pd.DataFrame) -> Forecaster:
        """Learn from a series frame and return ``self``.

        Missing steps become NaN (reported by a warning); each model documents how it treats them.
        """
        frame = frames.regularize(df)  # validates the frame, then marks missing steps NaN
        return self._fit_regular(frame, frames.infer_step(frame))

    def _fit_regular(self, frame: pd.DataFrame, step: pd.Timedelta) -> Forecaster:
        """:meth:`fit` on a frame already validated and regularized, on step ``step``: the backtest's windows,
        each cut from one checked frame, skip checking every window again."""
        self.step_ = step
        self.ids_ = [str(u) for u in pd.unique(frame["unique_id"])]
        self.last_ds_ = frame.groupby("unique_id", sort=True)["ds"].max()
        self.first_ds_ = frame.groupby("unique_id", sort=True)["ds"].min()
        self.exog_cols_ = [c for c in frame.columns if c not in frames.SERIES_COLUMNS]
        self.fallbacks_: dict[str, str] = {}
        self.nonnegative_ = bool((frame["y"].dropna() >= 0).all())  # demand that cannot be negative
        self._fit(frame)
        return self

    def _fit(self, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        raise NotImplementedError

    def _check_counts(self, *names: str) -> None:
        """ModelError unless each named hyperparameter is a whole number >= 1 (sizes, counts, iterations)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ModelError(f"{self.alias}: {name} must be a whole number >= 1, got {value!r}")

    def _check_seed(self, name: str = "seed") -> None:
        """ModelError unless the named hyperparameter is a whole number >= 0 (a random seed)."""
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ModelError(f"{self.alias}: {name} must be a whole number >= 0, got {value!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "ids_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(frame) with a series frame before predict"
            )

    def season_length(self, season: str | int) -> int:
        """Steps in a season (``'daily'``, ``'weekly'`` or a number of steps) for the fitted step."""
        self._check_fitted()
        return season_steps(season, self.step_)

    def predict(self, horizon: int, quantiles: Iterable[float] | str = (0.5, 0.9)) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the end of each series.

        Returns a forecast frame: ``unique_id``, ``ds``, ``model``, ``yhat`` and one ``p<percent>`` column per
        quantile, which never cross; never below 0 when the training history had no negative value.
        Raises NotFittedError before ``fit``.
        """
        self._check_fitted()
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ModelError(f"horizon must be a whole number of steps >= 1, got {horizon!r}")
        check_horizon(int(horizon), self.last_ds_, self.step_, f"horizon={horizon}")  # before any allocation
        levels = frames.parse_quantiles(quantiles)
        yhat, qvals = self._predict(int(horizon), levels)
        n = len(self.ids_)
        yhat = self._clip(np.asarray(yhat, dtype=np.float64).reshape(n, horizon))
        out = pd.DataFrame(
            {
                "unique_id": np.repeat(np.asarray(self.ids_, dtype=object), horizon),
                "ds": np.concatenate([self._future(uid, horizon) for uid in self.ids_]),
                "model": self.alias,
                "yhat": yhat.ravel(),
            }
        )
        out["unique_id"] = out["unique_id"].astype(str)
        out["ds"] = pd.to_datetime(out["ds"], utc=True)
        if levels:
            stacked = np.stack([np.asarray(qvals[q], dtype=np.float64).reshape(n, horizon) for q in levels], axis=-1)
            stacked = self._clip(np.sort(stacked, axis=-1))  # rearrangement: quantiles never cross
            for i, q in enumerate(levels):
                out[frames.quantile_column(q)] = stacked[..., i].ravel()
        bad = ~np.isfinite(out.drop(columns=["unique_id", "ds", "model"]).to_numpy(dtype=float)).all(axis=1)
        if bad.any():
            ids = sorted(set(out.loc[bad, "unique_id"]))
            raise ModelError(
                f"{type(self).__name__} produced missing values for series {ids[:5]}; their recent history is "
                "probably all missing: drop them, fill the gaps, or use a model that falls back (e.g. 'auto')"
            )
        return frames.validate_forecast(out)

    def _clip(self, values: np.ndarray) -> np.ndarray:
        """Values below 0 raised to 0 when the training history had no negative value (``nonnegative_``).

        The one place forecasts are clipped, for every model and its fallbacks; clipping is monotone, so
        quantiles still never cross. Models saved before ``nonnegative_`` existed are not clipped.
        """
        return np.maximum(values, 0.0) if getattr(self, "nonnegative_", False) else values

    def _future(self, uid: str, horizon: int) -> np.ndarray:
        start = self.last_ds_[uid]
        return pd.date_range(start + self.step_, periods=horizon, freq=self.step_).to_numpy()

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to the directory ``path`` atomically and return it.

        The directory holds ``metadata.json`` (class, hyperparameters, versions) and the learned state. An
        existing model at ``path`` is replaced only once the new one is completely written. Hyperparameters
        load back with their types (a tuple stays a tuple; see :func:`encode_params`).
        """
        self._check_fitted()
        target = Path(path)
        with atomic_dir(target) as tmp:
            params, pickled = encode_params(self.get_params())
            if pickled:
                joblib.dump(pickled, tmp / _PICKLED_PARAMS_FILE)
            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "alias": self.alias,
                "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "params": params,
                "capforecast_version": _version(),
                "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            }
            (tmp / _PARAMS_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
            self._save_state(tmp)
        return target

    def _save_state(self, directory: Path) -> None:
        """Persist learned state (attributes ending in ``_``); models holding a Keras net override this."""
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_")}
        joblib.dump(state, directory / _STATE_FILE)

    def _load_state(self, directory: Path) -> None:
        self.__dict__.update(joblib.load(directory / _STATE_FILE))


def season_steps(season: str | int, step: pd.Timedelta) -> int:
    """Number of steps in ``season`` (``'daily'``, ``'weekly'`` or an int) at the given step."""
    if isinstance(season, (int, np.integer)) and not isinstance(season, bool):
        if season < 1:
            raise ModelError(f"season must be >= 1 step, got {season}")
        return int(season)
    periods = {"daily": pd.Timedelta(days=1), "weekly": pd.Timedelta(days=7)}
    if not isinstance(season, str) or season not in periods:  # a list or a mapping is no season either
        raise ModelError(f"season must be 'daily', 'weekly' or a number of steps, got {season!r}")
    ratio = periods[str(season)] / step
    if ratio < 1 or ratio != int(ratio):
        raise ModelError(
            f"a {season} season is not a whole number of {step} steps; give season as a number of steps instead"
        )
    return int(ratio)


def load_model(path: str | os.PathLike[str]) -> Forecaster:
    """Load a model written by :meth:`Forecaster.save` (also available as ``capforecast.models.load``).

    Only load models you trust: the learned state is stored with joblib (pickle).
    """
    directory = Path(path)
    meta_file = directory / _PARAMS_FILE
    if not meta_file.is_file():
        raise ModelError(
            f"{directory} is not a saved capforecast model (no {_PARAMS_FILE}); pass the directory written by "
            "model.save(path) or by the registry"
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        module_name, _, class_name = meta["class"].partition(":")
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelError(
                f"{directory} was saved by a newer capforecast (format {meta['format_version']}); upgrade capforecast"
            )
        cls = getattr(importlib.import_module(module_name), class_name)
        model = cls(**decode_params(meta.get("params", {}), directory / _PICKLED_PARAMS_FILE))
    except ModelError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, ImportError) as exc:
        raise ModelError(f"{meta_file} is corrupt or from an incompatible version ({exc}); retrain and save again") \
            from None
    try:
        model._load_state(directory)
    except ModelError:
        raise
    except Exception as exc:  # a truncated or foreign state file: say so instead of a pickle traceback
        raise ModelError(
            f"cannot load the learned state in {directory} ({type(exc).__name__}: {exc}); the artifact is corrupt "
            "or incomplete: retrain, or load another version"
        ) from None
    return model


def _version() -> str:
    from capforecast import __version__

    return __version__
