"""Training of the LSTM networks (imports Keras inside the functions: call them only when training).

Every network is built with its own seed and trained on fresh windows from a
:class:`~capforecast.models._windows.SeriesBank` on a fixed schedule (a cosine-decayed learning rate). The
ensemble members train on every window, the newest included; the calibration network trains with the last
steps of every series held out and is only asked for its quantiles there. Nothing here touches global
random state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from capforecast.models._windows import SeriesBank

__all__ = ["Job", "member_seed", "train_networks"]

#: Batches per Keras epoch (one progress line each); the schedule is set in batches, not epochs.
_EPOCH_STEPS = 100
#: Share of the loss carried by the median; the other levels share the rest equally.
MEDIAN_WEIGHT = 0.5


def member_seed(seed: int, member: int) -> int:
    """The seed of network ``member`` (distinct, reproducible)."""
    return int(seed) * 7919 + 101 * int(member) + 17


@dataclass
class Job:
    """One network to train: its seed, the origins to draw windows from and the (masked) flat target."""

    seed: int
    origins: np.ndarray
    target: np.ndarray


def _fit(net: Any, feed: Any, steps: int, lr: float, loss: Any, verbose: int) -> list[float]:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(int(steps), 1))
    net.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0), loss=loss)
    feed.steps = min(_EPOCH_STEPS, steps)
    epochs = -(-steps // feed.steps)
    hist = net.fit(feed, epochs=epochs, verbose=verbose, shuffle=False)  # the draws are seeded; no global RNG
    return [float(v) for v in hist.history["loss"]]


#: origins per forward pass when forecasting many windows at once
PREDICT_CHUNK = 8192


def quantiles_at(nets: list[Any], bank: SeriesBank, origins: np.ndarray) -> np.ndarray:
    """Median over ``nets`` of the residual quantiles ``(n, H, Q)`` at flat ``origins`` (level units)."""
    return quantiles_and_fields(nets, bank, origins)[0]


def quantiles_and_fields(
    nets: list[Any], bank: SeriesBank, origins: np.ndarray, fields: tuple[str, ...] = (),
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`quantiles_at`, and the batch ``fields`` (e.g. ``target``) of the same origins, built in one pass
    of chunks of ``PREDICT_CHUNK`` origins (tens of thousands of held-out windows would otherwise be one
    batch)."""
    parts: list[np.ndarray] = []
    kept: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    for lo in range(0, len(origins), PREDICT_CHUNK):
        b = bank.batch(origins[lo: lo + PREDICT_CHUNK])
        x = bank.inputs(b)
        parts.append(np.median(np.stack([np.asarray(net(x, training=False), dtype=np.float64) for net in nets]),
                               axis=0))
        for f in fields:
            kept[f].append(b[f])
    if not parts:
        return np.zeros((0, bank.H, 0)), {f: np.zeros(0) for f in fields}
    return np.concatenate(parts), {f: np.concatenate(v) for f, v in kept.items()}


def train_networks(model: Any, bank: SeriesBank, jobs: list[Job], *, steps: int) -> tuple[list[Any], dict[str, Any]]:
    """Train one network per job with ``model``'s hyperparameters (an ``LSTMForecaster``); return the trained
    networks (uncompiled copies) and a history (loss per epoch and seconds per network, the device)."""
    import keras

    from capforecast.models._lstm_net import WindowFeed, build_lstm_network, weighted_pinball

    levels = list(model.levels_)
    q = len(levels)
    weights = [MEDIAN_WEIGHT if i == model.median_index_ else (1 - MEDIAN_WEIGHT) / max(q - 1, 1) for i in range(q)]
    loss = weighted_pinball(levels, weights)
    probe = bank.batch(jobs[0].origins[:1])
    nets: list[Any] = []
    history: dict[str, Any] = {"loss": [], "seconds": []}
    for job in jobs:
        start = time.perf_counter()
        sizes = dict(
            days=probe["past"].shape[1], row_features=probe["past"].shape[2], glob_features=probe["glob"].shape[1],
            horizon=int(model.horizon), n_quantiles=q, median_index=model.median_index_, units=int(model.units),
            dense_units=int(model.dense_units), dropout=float(model.dropout), seed=job.seed,
            weekly="delta" in probe,
        )
        net = build_lstm_network(**sizes)
        feed = WindowFeed(bank, job.origins, job.target, batch_size=int(model.batch_size), steps=steps,
                          seed=job.seed, max_weight=float(model.max_weight),
                          weight_power=float(model.weight_power))
        history["loss"].append(_fit(net, feed, steps, float(model.learning_rate), loss, int(model.verbose)))
        # Keep the weights in a fresh, uncompiled network: the optimizer state and the traced training
        # functions are freed (hundreds of MiB per network), and a saved model holds no optimizer.
        plain = build_lstm_network(**sizes)
        plain.set_weights(net.get_weights())
        nets.append(plain)
        del net, feed
        history["seconds"].append(time.perf_counter() - start)
    history["device"] = "GPU" if keras.config.backend() == "tensorflow" and _has_gpu() else "CPU"
    return nets, history


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
