"""The Keras network behind :class:`capforecast.models.lstm.LSTMForecaster` (imports Keras: load lazily).

:func:`build_lstm_network` is a pure function: every size is an argument and it returns an uncompiled
``keras.Model``. The network reads a window of past steps (scaled target, an "observed" flag, calendar
encodings, exogenous series) and the calendar of the steps to forecast, and outputs the whole horizon at once
(direct multi-horizon) for every quantile level. Quantiles cannot cross by construction: the network predicts
the median and softplus (always positive) increments above and below it (:class:`MonotoneQuantiles`).

Examples
--------
>>> net = build_lstm_network(input_steps=48, past_features=6, horizon=24, future_features=4,
...                          n_quantiles=3, median_index=1, units=8, dense_units=8)  # doctest: +SKIP
>>> net.output_shape  # doctest: +SKIP
(None, 24, 3)
"""

from __future__ import annotations

import keras
from keras import layers, ops

__all__ = ["MonotoneQuantiles", "build_lstm_network", "pinball_loss"]


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
            up = ops.cumsum(ops.softplus(raw[..., m + 1 :]), axis=-1)
            parts.append(median + up)
        if m > 0:
            down = ops.flip(ops.cumsum(ops.flip(ops.softplus(raw[..., :m]), axis=-1), axis=-1), axis=-1)
            parts.insert(0, median - down)
        return ops.concatenate(parts, axis=-1) if len(parts) > 1 else median

    def get_config(self) -> dict:  # noqa: D102 - Keras API
        return {**super().get_config(), "median_index": self.median_index}


def build_lstm_network(
    *,
    input_steps: int,
    past_features: int,
    horizon: int,
    future_features: int,
    n_quantiles: int,
    median_index: int,
    units: int = 64,
    lstm_layers: int = 1,
    dense_units: int = 64,
    dropout: float = 0.1,
) -> keras.Model:
    """Build the (uncompiled) forecasting network.

    Parameters
    ----------
    input_steps : length of the past window.
    past_features : features per past step (scaled target, observed flag, calendar, exogenous).
    horizon : steps forecast at once.
    future_features : known features per future step (the calendar).
    n_quantiles, median_index : number of quantile outputs and the position of the median among them.
    units, lstm_layers : LSTM width and depth.
    dense_units, dropout : width of the dense layer after the LSTM and its dropout rate.

    Returns
    -------
    keras.Model with inputs ``{"past": (input_steps, past_features), "future": (horizon, future_features)}``
    and output ``(horizon, n_quantiles)``: per-step quantiles on the scaled axis, sorted by level.
    """
    past = keras.Input((input_steps, past_features), name="past")
    future = keras.Input((horizon, future_features), name="future")
    x = past
    for i in range(lstm_layers):
        x = layers.LSTM(units, return_sequences=i < lstm_layers - 1, name=f"lstm_{i}")(x)
    z = layers.Concatenate(name="state_and_calendar")([x, layers.Flatten(name="future_flat")(future)])
    z = layers.Dense(dense_units, activation="relu", name="dense")(z)
    if dropout > 0:
        z = layers.Dropout(dropout, name="dropout")(z)
    deep = layers.Dense(horizon * n_quantiles, name="deep_out")(z)
    # A linear path from the raw past window: the net learns seasonal-naive-like rules directly.
    linear = layers.Dense(horizon * n_quantiles, name="linear_out")(layers.Flatten(name="past_flat")(past))
    raw = layers.Reshape((horizon, n_quantiles), name="raw")(layers.Add(name="sum")([deep, linear]))
    out = MonotoneQuantiles(median_index, name="quantiles")(raw)
    return keras.Model({"past": past, "future": future}, out, name="capforecast_lstm")


def pinball_loss(levels: list[float]):
    """Return a Keras loss: mean pinball loss over quantile levels, ignoring NaN targets."""
    q = ops.convert_to_tensor([float(v) for v in levels], dtype="float32")

    def loss(y_true, y_pred):
        y = ops.expand_dims(ops.cast(y_true, "float32"), -1)
        ok = ops.logical_not(ops.isnan(y))
        diff = ops.where(ok, y, 0.0) - y_pred
        per = ops.maximum(q * diff, (q - 1.0) * diff)
        per = ops.where(ok, per, 0.0)
        count = ops.maximum(ops.sum(ops.cast(ok, "float32")) * len(levels), 1.0)
        return ops.sum(per) / count

    return loss
