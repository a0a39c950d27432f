"""Sliding windows for the LSTM: past inputs, future calendar and targets, split in time order.

Pure numpy. A series is described by its input matrix ``x`` (``(T, F)``, gap-filled, scaled), its target ``y``
(``(T,)``, scaled, NaN where missing or masked) and the calendar of its steps. A window with origin ``o`` reads
``x[o - L + 1 : o + 1]`` and predicts ``y[o + 1 : o + H + 1]``.

Examples
--------
>>> [len(o) for o in split_origins(T=100, input_steps=24, horizon=12, validation_steps=24)]
[41, 13]
"""

from __future__ import annotations

import numpy as np

__all__ = ["gather_windows", "left_pad", "split_origins"]


def split_origins(*, T: int, input_steps: int, horizon: int, validation_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation origins of one series, in time order with no overlap of targets.

    Validation windows predict only the last ``validation_steps`` steps; training windows end before them.
    """
    first = input_steps - 1
    cutoff = T - validation_steps  # first index of the validation region
    train = np.arange(first, cutoff - horizon)
    val = np.arange(max(first, cutoff - 1), T - horizon)
    return train, val


def gather_windows(
    x: np.ndarray, y: np.ndarray, cal: np.ndarray, origins: np.ndarray, *, input_steps: int, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(past (n, L, F), future (n, H, C), target (n, H))`` for the given origins."""
    origins = np.asarray(origins, dtype=int)
    past_idx = origins[:, None] + np.arange(-input_steps + 1, 1)[None, :]
    fut_idx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    return (
        x[past_idx].astype(np.float32),
        cal[fut_idx].astype(np.float32),
        y[fut_idx].astype(np.float32),
    )


def left_pad(x: np.ndarray, length: int, m: int) -> np.ndarray:
    """Pad ``x`` (``(T, F)``) at the front to ``length`` rows by repeating its first season (phase-aligned).

    The caller marks padded rows as unobserved. A series shorter than a season repeats its first row.
    """
    T = len(x)
    if T >= length:
        return x
    p = length - T
    if m > 1 and T >= m:
        src = np.mod(np.arange(-p, 0), m)
    else:
        src = np.zeros(p, dtype=int)
    return np.concatenate([x[src], x], axis=0)
