"""A global LSTM forecaster (TensorFlow / Keras 3) with non-crossing quantiles.

One network is trained across all series of a frame. Each series is divided by its own scale (mean absolute
value), so pools of very different sizes train together. The network reads the last ``input_steps`` steps
(scaled target, an "observed" flag, cyclic hour-of-day / day-of-week, scaled exogenous columns) and outputs the
whole horizon at once for a grid of quantile levels, trained with the pinball loss. Early stopping watches a
validation split made of the *last* steps of every series (time order, no leakage).

Hard inputs (all reported in ``fallbacks_`` / ``outages_`` and by a warning on logger
``capforecast.models.lstm``):

* NaN gaps and missing steps: left out of the loss; as inputs filled from a season back, flagged unobserved.
* an outage (a run of zeros at least a season long in an otherwise non-zero series): treated like a gap.
* fewer than two seasons of observed history, or a constant series: forecast by ``SeasonalNaive``
  (``Naive`` if shorter than one season) instead of the network.

TensorFlow is imported only when a network is built or loaded, never by importing this module.
"""

from __future__ import annotations

import logging
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from capforecast.errors import ModelError
from capforecast.models import _features as feat
from capforecast.models._fallback import FallbackMixin
from capforecast.models._quantiles import select_levels, training_levels
from capforecast.models._windows import gather_windows, left_pad, split_origins
from capforecast.models.base import Forecaster

__all__ = ["LSTMForecaster"]

logger = logging.getLogger(__name__)

_NET_FILE = "net.keras"
_STATE_FILE = "state.joblib"
DEFAULT_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


class LSTMForecaster(FallbackMixin, feat.ScaledInputs, Forecaster):
    """Global LSTM with direct multi-horizon quantile outputs.

    Parameters
    ----------
    horizon : steps the network forecasts at once (``predict`` may ask for fewer, not more).
    input_steps : length of the past window the network reads (168 = one week of hourly steps).
    quantiles : levels learned (0.5 is always added); others in between are interpolated at predict time.
    units, lstm_layers, dense_units, dropout : network sizes (see ``build_lstm_network``).
    epochs, batch_size, learning_rate, patience : training; early stopping restores the best epoch.
    validation_steps : last steps of each series kept for early stopping (default: ``horizon``).
    max_windows : cap on training windows (randomly chosen, seeded) to bound time and memory.
    seed : random seed (weights, shuffling, window choice): same data and seed give the same forecast.
    verbose : 0 silent, 1 Keras progress bar, 2 one line per epoch.

    Examples
    --------
    >>> from capforecast.ingest.sample import make_sample
    >>> frame = make_sample(days=21, pools=["a100-train"])
    >>> model = LSTMForecaster(horizon=24, input_steps=48, units=8, epochs=2, verbose=0).fit(frame)
    >>> fc = model.predict(24, quantiles=[0.5, 0.9])
    >>> bool((fc["p90"] >= fc["p50"]).all())
    True
    """

    alias = "lstm"

    def __init__(
        self,
        *,
        horizon: int = 48,
        input_steps: int = 168,
        quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
        units: int = 64,
        lstm_layers: int = 1,
        dense_units: int = 64,
        dropout: float = 0.1,
        epochs: int = 60,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        patience: int = 8,
        validation_steps: int | None = None,
        max_windows: int = 20_000,
        seed: int = 0,
        verbose: int = 1,
    ) -> None:
        self.horizon = horizon
        self.input_steps = input_steps
        self.quantiles = quantiles
        self.units = units
        self.lstm_layers = lstm_layers
        self.dense_units = dense_units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.validation_steps = validation_steps
        self.max_windows = max_windows
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        self._check_counts("horizon", "input_steps", "units", "lstm_layers", "dense_units", "epochs", "batch_size",
                           "max_windows")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ModelError(f"lstm: dropout must be in [0, 1), got {self.dropout!r}")

    def _series_inputs(self, a: dict[str, np.ndarray], uid: str, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Scaled input columns ``(T, 2 + n_exog)`` and the scaled target (NaN where missing) of one series."""
        y, scale, exog = self._scaled_inputs(a, uid, m)
        return np.column_stack([feat.fill_for_input(y, m) / scale, np.isfinite(y).astype(float), exog]), y / scale

    def _past_matrix(self, raw: np.ndarray, last_ds: pd.Timestamp, length: int) -> np.ndarray:
        """Insert the calendar (of the steps ending at ``last_ds``) after the target and flag columns."""
        ds = pd.date_range(end=last_ds, periods=length, freq=self.step_)
        return np.column_stack([raw[:, :2], feat.calendar_features(ds), raw[:, 2:]]).astype(np.float32)

    def _context(self, raw: np.ndarray, m: int) -> np.ndarray:
        """The last ``input_steps`` input rows the forecast starts from (front-padded, flagged unobserved)."""
        L = int(self.input_steps)
        ctx = left_pad(raw, L, m)[-L:].copy()
        if len(raw) < L:
            ctx[: L - len(raw), 1] = 0.0
        return ctx

    def update(self, df: pd.DataFrame) -> LSTMForecaster:
        """Forecast from newer history without retraining; return ``self``.

        ``df`` must hold every trained series (same step and exogenous columns); each series' recent window is
        replaced, the network and the per-series scales stay as trained, fallback baselines are refitted.
        """
        frame = self._update_frame(df)
        m = feat.season_length(self.step_)
        for uid, a in feat.series_arrays(frame, self.ids_, ["y", *self.exog_cols_]).items():
            if uid in self.context_:
                self.context_[uid] = self._context(self._series_inputs(a, uid, m)[0], m)
        return self

    def _fit(self, frame: pd.DataFrame) -> None:
        self._check_params()
        m = feat.season_length(self.step_)
        self.levels_ = training_levels(self.quantiles)
        self.median_index_ = self.levels_.index(0.5)
        L, H = int(self.input_steps), int(self.horizon)
        V = int(self.validation_steps) if self.validation_steps else H
        self.scales_: dict[str, float] = {}
        self.exog_scales_: dict[str, dict[str, float]] = {}
        self.outages_: dict[str, int] = {}
        self.context_ = {}
        self.nonnegative_ = bool((frame["y"].dropna() >= 0).all())
        arrays = feat.series_arrays(frame, self.ids_, ["y", *self.exog_cols_])
        parts: dict[str, list] = {"train": [], "val": []}
        series: list[tuple] = []
        net_ids = []
        for uid, a in arrays.items():
            problem = feat.history_problem(a["y"], m)
            if problem:
                self.fallbacks_[uid] = problem
                continue
            net_ids.append(uid)
            raw, target = self._series_inputs(a, uid, m)
            T = len(raw)
            self.context_[uid] = self._context(raw, m)
            if T < L + H + V:
                continue
            x = self._past_matrix(raw, self.last_ds_[uid], T)
            cal = x[:, 2:2 + feat.CALENDAR_WIDTH]
            cal_ext = np.vstack([cal, np.zeros((1, cal.shape[1]), dtype=np.float32)])
            train_o, val_o = split_origins(T=T, input_steps=L, horizon=H, validation_steps=V)
            series.append((x, target, cal_ext, train_o, val_o))
        # Cap the training windows *before* building them (memory): a seeded uniform choice over all series.
        total = sum(len(s[3]) for s in series)
        if total > self.max_windows:
            pick = np.sort(np.random.default_rng(self.seed).choice(total, size=int(self.max_windows), replace=False))
            bounds = np.cumsum([0] + [len(s[3]) for s in series])
            series = [(*s[:3], s[3][pick[(pick >= lo) & (pick < hi)] - lo], s[4])
                      for s, lo, hi in zip(series, bounds[:-1], bounds[1:], strict=True)]
        for x, target, cal_ext, train_o, val_o in series:
            for key, origins in (("train", train_o), ("val", val_o)):
                if len(origins):
                    w = gather_windows(x, target, cal_ext, origins, input_steps=L, horizon=H)
                    keep = np.isfinite(w[2]).any(axis=1)
                    parts[key].append(tuple(p[keep] for p in w))
        if not parts["train"]:
            longest = max(len(a["y"]) for a in arrays.values())
            raise ModelError(
                f"lstm: no series is long enough to train on (need input_steps + horizon + validation_steps = "
                f"{L + H + V} steps, the longest has {longest}); lower input_steps or horizon, or use "
                "model 'seasonal_naive'"
            )
        self.net_ids_ = net_ids
        self._fit_fallback(frame)
        self._train(parts)

    def _train(self, parts: dict[str, list]) -> None:
        import keras

        from capforecast.models._lstm_net import build_lstm_network, pinball_loss

        train = [np.concatenate([p[i] for p in parts["train"]]) for i in range(3)]
        keras.utils.set_random_seed(int(self.seed))
        net = build_lstm_network(
            input_steps=int(self.input_steps), past_features=train[0].shape[2], horizon=int(self.horizon),
            future_features=train[1].shape[2], n_quantiles=len(self.levels_), median_index=self.median_index_,
            units=int(self.units), lstm_layers=int(self.lstm_layers), dense_units=int(self.dense_units),
            dropout=float(self.dropout),
        )
        net.compile(optimizer=keras.optimizers.Adam(float(self.learning_rate), clipnorm=1.0),
                    loss=pinball_loss(self.levels_))
        fit_kw: dict = {}
        if parts["val"]:
            val = [np.concatenate([p[i] for p in parts["val"]]) for i in range(3)]
            fit_kw["validation_data"] = ({"past": val[0], "future": val[1]}, val[2])
            monitor = "val_loss"
        else:
            monitor = "loss"
        stop = keras.callbacks.EarlyStopping(monitor=monitor, patience=int(self.patience),
                                             restore_best_weights=True)
        history = net.fit({"past": train[0], "future": train[1]}, train[2], epochs=int(self.epochs),
                          batch_size=int(self.batch_size), shuffle=True, callbacks=[stop],
                          verbose=int(self.verbose), **fit_kw)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.n_windows_ = len(train[0])
        self.net_ = net

    # ------------------------------------------------------------------ predict
    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        if horizon > self.horizon:
            raise ModelError(
                f"lstm: this model forecasts at most {self.horizon} steps (its horizon); refit with "
                f"LSTMForecaster(horizon={horizon}) or ask for fewer steps"
            )
        n, Q = len(self.ids_), len(self.levels_)
        values = np.zeros((n, horizon, Q))
        pos = {uid: i for i, uid in enumerate(self.ids_)}
        if self.net_ids_:
            L = int(self.input_steps)
            past = np.stack([self._past_matrix(self.context_[u], self.last_ds_[u], L) for u in self.net_ids_])
            future = np.stack([
                feat.calendar_features(pd.date_range(self.last_ds_[u] + self.step_, periods=int(self.horizon),
                                                     freq=self.step_)) for u in self.net_ids_
            ])
            out = np.asarray(self.net_.predict({"past": past, "future": future}, verbose=0), dtype=np.float64)
            for k, uid in enumerate(self.net_ids_):
                values[pos[uid]] = out[k, :horizon] * self.scales_[uid]
        if self.nonnegative_:
            values = np.maximum(values, 0.0)
        qv = select_levels(self.levels_, values, quantiles, model="lstm")
        yhat = values[..., self.median_index_]
        return self._merge_fallback(yhat, qv, horizon, quantiles)

    # ------------------------------------------------------------------ persistence
    def _save_state(self, directory: Path) -> None:
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_") and k != "net_"}
        joblib.dump(state, directory / _STATE_FILE)
        self.net_.save(directory / _NET_FILE)

    def _load_state(self, directory: Path) -> None:
        import keras

        from capforecast.models import _lstm_net  # noqa: F401 - registers the custom layer

        self.__dict__.update(joblib.load(directory / _STATE_FILE))
        net_file = directory / _NET_FILE
        if not net_file.is_file():
            raise ModelError(f"{directory} has no {_NET_FILE}; the artifact is incomplete: retrain and save again")
        self.net_ = keras.saving.load_model(net_file, safe_mode=True, compile=False)
