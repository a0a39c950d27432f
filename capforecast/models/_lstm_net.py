"""The Keras network behind :class:`capforecast.models.lstm.LSTMForecaster` (imports Keras: load lazily).

:func:`build_lstm_network` is a pure function: every size and the seed are arguments and it returns an
uncompiled ``keras.Model``. The network reads the last ``D`` seasons as ``D`` rows (a day of hourly steps per
row, so the recurrence is ``D`` steps long, not ``D * 24``), a few global features of the window, and the
seasonal-naive anchor; it outputs, for every step ahead and quantile level, a *residual over the anchor* in
units of the level at the origin. Both output layers start at zero, so an untrained network forecasts
seasonal naive and training can only move it where the data says so. Quantiles cannot cross: the network
predicts the median and softplus (always positive) increments above and below it (:class:`MonotoneQuantiles`).

:class:`WindowFeed` is the ``keras.utils.PyDataset`` that draws fresh windows for every batch from a
:class:`~capforecast.models._windows.SeriesBank`, seeded by (seed, epoch, batch), so a run is reproducible
and no window array is ever materialised.

Examples
--------
>>> net = build_lstm_network(days=7, row_features=48, glob_features=6, horizon=24, n_quantiles=3,
...                          median_index=1, units=8, dense_units=8, seed=0)  # doctest: +SKIP
>>> net.output_shape  # doctest: +SKIP
(None, 24, 3)
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

__all__ = ["MonotoneQuantiles", "WindowFeed", "build_lstm_network", "weighted_pinball"]


@keras.saving.register_keras_serializable(package="capforecast")
class MonotoneQuantiles(layers.Layer):
    """Turn raw outputs ``(batch, horizon, n_quantiles)`` into non-crossing quantiles.

    Column ``median_index`` is the median as is; each column above adds ``softplus`` of its raw value to the
    previous one, each column below subtracts it. So ``q[..., i] <= q[..., i + 1]`` always holds.
    """

    def __init__(self, median_index: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.median_index = int(median_index)

    def call(self, raw):  # noqa: D102 - Keras API
        m = self.median_index
        median = raw[..., m : m + 1]
        parts = [median]
        if m + 1 < raw.shape[-1]:
            parts.append(median + ops.cumsum(ops.softplus(raw[..., m + 1 :]), axis=-1))
        if m > 0:
            down = ops.flip(ops.cumsum(ops.flip(ops.softplus(raw[..., :m]), axis=-1), axis=-1), axis=-1)
            parts.insert(0, median - down)
        return ops.concatenate(parts, axis=-1) if len(parts) > 1 else median

    def get_config(self) -> dict:  # noqa: D102 - Keras API
        return {**super().get_config(), "median_index": self.median_index}


def build_lstm_network(
    *,
    days: int,
    row_features: int,
    glob_features: int,
    horizon: int,
    n_quantiles: int,
    median_index: int,
    units: int = 64,
    dense_units: int = 128,
    dropout: float = 0.0,
    seed: int = 0,
    weekly: bool = False,
) -> keras.Model:
    """Build the (uncompiled) forecasting network.

    Parameters
    ----------
    days : rows of the past window (seasons).
    row_features : features per row (``m`` steps times the input channels).
    glob_features : global features of the window (level, volatility, calendar).
    horizon, n_quantiles, median_index : output shape and the position of the median among the levels.
    units : LSTM width; dense_units, dropout : the dense layer after it and its dropout rate.
    seed : seeds every initializer and the dropout (no global random state is touched).

    Returns
    -------
    keras.Model with inputs ``{"past": (days, row_features), "glob": (glob_features,)}`` and output
    ``(horizon, n_quantiles)``: per-step residual quantiles over the anchor, in level units, sorted by level.
    """
    init = keras.initializers.GlorotUniform
    past = keras.Input((days, row_features), name="past")
    glob = keras.Input((glob_features,), name="glob")
    state = layers.LSTM(units, kernel_initializer=init(seed), recurrent_initializer=keras.initializers.Orthogonal(
        seed=seed + 1), seed=seed + 4, name="lstm")(past)
    flat = layers.Flatten(name="past_flat")(past)
    z = layers.Concatenate(name="features")([state, glob])
    z = layers.Dense(dense_units, activation="relu", kernel_initializer=init(seed + 2), name="dense")(z)
    if dropout > 0:
        z = layers.Dropout(dropout, seed=seed + 3, name="dropout")(z)
    size = horizon * n_quantiles
    deep = layers.Dense(size, kernel_initializer="zeros", name="deep_out")(z)
    # A linear path from the raw rows: weighting of past days (e.g. a week back) is learnt directly.
    linear = layers.Dense(size, kernel_initializer="zeros", name="linear_out")(flat)
    raw = layers.Reshape((horizon, n_quantiles), name="raw")(layers.Add(name="sum")([deep, linear]))
    out = MonotoneQuantiles(median_index, name="quantiles")(raw)
    inputs = {"past": past, "glob": glob}
    if weekly:  # a learnt, per-window share of "the same step a week back" instead of the anchor
        delta = keras.Input((horizon,), name="delta")
        gate = layers.Dense(horizon, kernel_initializer="zeros", name="week_gate")(z)
        shift = layers.Reshape((horizon, 1), name="week_shift")(layers.Multiply(name="week_mix")([gate, delta]))
        out = layers.Add(name="quantiles_week")([out, shift])
        inputs["delta"] = delta
    return keras.Model(inputs, out, name="capforecast_lstm")


def weighted_pinball(levels: list[float], weights: list[float]):
    """A Keras loss: pinball over the levels (level ``i`` weighted ``weights[i]``), NaN targets left out.

    Returns one value per window (mean over its observed steps); Keras multiplies it by the window's
    ``sample_weight`` (the MASE weight) before averaging.
    """
    q = ops.convert_to_tensor([float(v) for v in levels], dtype="float32")
    w = ops.convert_to_tensor([float(v) for v in weights], dtype="float32")

    def loss(y_true, y_pred):
        y = ops.expand_dims(ops.cast(y_true, "float32"), -1)
        if len(y_pred.shape) == 2:  # one level: Keras squeezed its last axis to match y_true
            y_pred = ops.expand_dims(y_pred, -1)
        ok = ops.logical_not(ops.isnan(y))
        diff = ops.where(ok, y, 0.0) - y_pred
        per = ops.maximum(q * diff, (q - 1.0) * diff) * w
        per = ops.where(ok, per, 0.0)
        count = ops.maximum(ops.sum(ops.cast(ok, "float32"), axis=(1, 2)), 1.0)
        return ops.sum(per, axis=(1, 2)) / count

    return loss


class WindowFeed(keras.utils.PyDataset):
    """Fresh random windows for each batch: ``(inputs, target, sample_weight)`` from a ``SeriesBank``.

    Parameters
    ----------
    bank : the series; origins : flat origins to draw from; target : the (possibly masked) flat target.
    batch_size, steps : batch size and batches per epoch; seed : base seed of the draws.
    max_weight : cap on the MASE weight of a window (a nearly flat series must not dominate).
    weight_power : the window's loss weight is the capped MASE weight to this power (see ``LSTMForecaster``).
    """

    def __init__(self, bank, origins: np.ndarray, target: np.ndarray, *, batch_size: int, steps: int, seed: int,
                 max_weight: float, weight_power: float) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.bank, self.origins, self.target = bank, origins, target
        self.batch_size, self.steps, self.seed, self.max_weight = batch_size, steps, seed, max_weight
        self.weight_power = weight_power
        self.epoch = 0
        probe = bank.batch(origins[np.random.default_rng(seed).integers(0, len(origins), size=4096)], target)
        self.norm = max(float(self._weight(probe["weight"]).mean()), 1e-6)

    def _weight(self, w: np.ndarray) -> np.ndarray:
        return np.minimum(w, self.max_weight) ** self.weight_power

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        pick = self.origins[rng.integers(0, len(self.origins), size=self.batch_size)]
        b = self.bank.batch(pick, self.target)
        return self.bank.inputs(b), b["target"], self._weight(b["weight"]) / self.norm

    def on_epoch_end(self) -> None:
        self.epoch += 1
