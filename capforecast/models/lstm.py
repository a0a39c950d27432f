"""A global LSTM forecaster (TensorFlow / Keras 3): a seasonal-naive anchor plus a learnt residual.

One set of networks is trained across all series of a frame (docs/models.md has the measurements behind each
choice): windows divided by the level at their origin; a residual over seasonal naive (output layers start at
zero, so an untrained network *is* seasonal naive); a pinball loss weighted by the square root of
``level / in-sample seasonal error``; a learnt gate towards "the same step a week back" where there are
enough weeks; seasons read as rows (7 rows of 24 hours); fresh windows every batch with a cosine schedule;
``members`` networks combined by their median. One more network, trained with the newest
``calibration_steps`` held out, calibrates the quantiles per step ahead and chooses how far the forecast may
move from its anchor (``shrink``, the anchor's weight: 0 on M4, about 0.55 on 16 bursty GPU pools).

Hard inputs (reported in ``fallbacks_`` / ``outages_`` and by a warning): NaN gaps are left out of the loss
and filled as inputs (flagged unobserved); outages (a season or more of zeros) are treated as gaps; series
with under two seasons of history or constant ones are forecast by ``SeasonalNaive`` / ``Naive``.

TensorFlow is imported only when a network is built or loaded, never by importing this module.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from capforecast.errors import ModelError
from capforecast.evaluation.metrics import season_length
from capforecast.models import _features as feat
from capforecast.models._fallback import FallbackMixin
from capforecast.models._lstm_heldout import calibrate, held_out_steps, shrunk
from capforecast.models._lstm_train import Job, member_seed, quantiles_at, train_networks
from capforecast.models._quantiles import select_levels, training_levels
from capforecast.models._windows import SeriesBank
from capforecast.models.base import Forecaster

__all__ = ["LSTMForecaster"]

_STATE_FILE = "state.joblib"
#: ``weekly="auto"`` turns the week-back gate on from this many weeks of history, summed over the series (M4
#: hourly has ~1,700 and gains 0.15 MASE; 16 Helios pools have ~40 at the first backtest origin and lose 0.4).
WEEKLY_MIN_WEEKS = 200
DEFAULT_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


class LSTMForecaster(FallbackMixin, feat.ScaledInputs, Forecaster):
    """Global LSTM ensemble over a seasonal-naive anchor, with quantiles calibrated per step ahead.

    Parameters
    ----------
    horizon : steps the networks forecast at once (``predict`` may ask for fewer, not more).
    input_steps : past steps read (rounded up to whole seasons; 168 = a week of hourly steps).
    quantiles : levels learned (0.5 is always added); others in between are interpolated at predict time.
    units, dense_units, dropout : network sizes (see ``build_lstm_network``).
    calendar : give the networks the hour and weekday of the forecast origin (off by default: with a week of
        input the weekly profile is in the window, and on M4 the calendar let the network memorise series).
    anchor : what the networks forecast a residual over: ``"seasonal_naive"`` (the last season) or
        ``"seasonal_median"`` (each step's median over the seasons of the input window).
    members : networks in the ensemble (median of members).
    train_steps : batches per member (fewer when the data is small: at most ``max_passes`` draws per window).
    batch_size, learning_rate : training; the learning rate decays to zero on a cosine.
    max_passes : cap on ``train_steps * batch_size / windows`` (small data trains for fewer steps).
    calibration_steps : last steps of each series held out from one extra network, whose errors there
        calibrate the quantiles and choose ``shrink`` (default: horizon + input_steps when the median series
        is at least horizon + 5 input windows long, so the held-out windows span a week; else 2 * horizon;
        0 turns both off).
    max_weight : cap on a window's MASE weight (relative to its level).
    weight_power : the loss weight is ``min(MASE weight, max_weight) ** weight_power``: 1 trains in MASE units,
        0 in level units (relative errors, like sMAPE); 0.5 (default) balances the two.
    weekly : also give the networks "the same step a week back" (needs ``input_steps`` of a week or more) and
        a learnt, per-window gate that moves the forecast from the seasonal anchor towards it, so series with
        a weekday/weekend profile are forecast from the right day. ``"auto"`` (default): on when the series
        hold ``WEEKLY_MIN_WEEKS`` weeks of history between them (with less, the gate overfits).
    floor : ``"last_season"`` (default) keeps the median and higher quantiles at or above the lowest value of
        the last season (a series idling at 10 is not forecast at 0); ``"none"`` turns it off.
    shrink : the anchor's weight in [0, 1] (as in ``auto``): the forecast is ``anchor + (1 - shrink) *
        residual`` (every quantile moves with the median). ``"auto"`` (default) picks it on the held-out
        network's windows (``shrink_``): 0 where the network beats the anchor out of sample, more where part of
        what it learnt is noise (small or bursty data); 1 is seasonal naive with the network's spread.
    seed : seeds every member (weights, dropout, window draws); same data and seed give the same forecast.
    verbose : 0 silent (default), 1 Keras progress bar, 2 one line per epoch (the CLI shows progress).

    Examples
    --------
    >>> from capforecast.ingest.sample import make_sample
    >>> frame = make_sample(days=21, pools=["a100-train"])
    >>> model = LSTMForecaster(horizon=24, input_steps=48, units=8, dense_units=8, members=1, train_steps=20,
    ...                        verbose=0).fit(frame)
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
        dense_units: int = 128,
        dropout: float = 0.0,
        calendar: bool = False,
        anchor: str = "seasonal_naive",
        members: int = 5,
        train_steps: int = 3000,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        max_passes: float = 20.0,
        calibration_steps: int | None = None,
        max_weight: float = 30.0,
        weight_power: float = 0.5,
        weekly: bool | str = "auto",
        floor: str = "last_season",
        shrink: float | str = "auto",
        seed: int = 0,
        verbose: int = 0,
    ) -> None:
        self.horizon = horizon
        self.input_steps = input_steps
        self.quantiles = quantiles
        self.units = units
        self.dense_units = dense_units
        self.dropout = dropout
        self.calendar = calendar
        self.anchor = anchor
        self.members = members
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_passes = max_passes
        self.calibration_steps = calibration_steps
        self.max_weight = max_weight
        self.weight_power = weight_power
        self.weekly = weekly
        self.floor = floor
        self.shrink = shrink
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        self._check_counts("horizon", "input_steps", "units", "dense_units", "members", "train_steps",
                           "batch_size")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ModelError(f"lstm: dropout must be in [0, 1), got {self.dropout!r}")
        if self.anchor not in ("seasonal_naive", "seasonal_median"):
            raise ModelError(f"lstm: anchor must be 'seasonal_naive' or 'seasonal_median', got {self.anchor!r}")
        if self.weekly not in (True, False, "auto"):
            raise ModelError(f"lstm: weekly must be true, false or 'auto', got {self.weekly!r}")
        if self.floor not in ("none", "last_season"):
            raise ModelError(f"lstm: floor must be 'none' or 'last_season', got {self.floor!r}")
        try:
            power = float(self.weight_power)
        except (TypeError, ValueError):
            power = float("nan")
        if not 0.0 <= power <= 2.0:
            raise ModelError(f"lstm: weight_power must be between 0 and 2, got {self.weight_power!r}")
        if self.shrink != "auto" and not (
                isinstance(self.shrink, (int, float)) and not isinstance(self.shrink, bool) and 0 <= self.shrink <= 1):
            raise ModelError(f"lstm: shrink must be 'auto' or a number in [0, 1], got {self.shrink!r}")
        if self.calibration_steps is not None and (isinstance(self.calibration_steps, bool)
                                                   or int(self.calibration_steps) < 0):
            raise ModelError(f"lstm: calibration_steps must be a whole number >= 0, got {self.calibration_steps!r}")

    def _bank(self, arrays: dict[str, dict[str, np.ndarray]], ids: list[str], *, context: bool) -> SeriesBank:
        """A :class:`SeriesBank` of ``ids`` (scaled as in training; the training MASE scales for a context)."""
        m = season_length(self.step_)
        targets, exogs, firsts = [], [], []
        for uid in ids:
            y, scale, exog = self._scaled_inputs(arrays[uid], uid, m)
            if context:
                y, exog = y[-self.L_:], exog[-self.L_:]
            targets.append(y / scale)
            exogs.append(exog)
            firsts.append(self.last_ds_[uid] - (len(y) - 1) * self.step_)
        return SeriesBank(targets, exogs, firsts, self.step_, input_steps=self.L_, horizon=int(self.horizon), m=m,
                          mase=[self.mase_[u] for u in ids] if context else None, calendar=bool(self.calendar),
                          anchor=str(self.anchor), weekly=bool(getattr(self, "weekly_", False)))

    def _fit(self, frame: pd.DataFrame) -> None:
        self._check_params()
        m = season_length(self.step_)
        self.L_ = -(-int(self.input_steps) // m) * m
        self.levels_ = training_levels(self.quantiles)
        self.median_index_ = self.levels_.index(0.5)
        self.scales_: dict[str, float] = {}
        self.exog_scales_: dict[str, dict[str, float]] = {}
        self.outages_: dict[str, int] = {}
        arrays = feat.series_arrays(frame, self.ids_, ["y", *self.exog_cols_])
        for uid, a in arrays.items():
            problem = feat.history_problem(a["y"], m)
            if problem:
                self.fallbacks_[uid] = problem
        self.net_ids_ = [u for u in self.ids_ if u not in self.fallbacks_]
        self._fit_fallback(frame)
        self.offsets_ = None
        self.nets_: list = []
        if not self.net_ids_:
            return
        weeks = sum(len(arrays[u]["y"]) for u in self.net_ids_) / (7 * m)
        self.weekly_ = bool(weeks >= WEEKLY_MIN_WEEKS) if self.weekly == "auto" else bool(self.weekly)
        bank = self._bank(arrays, self.net_ids_, context=False)
        self.mase_ = dict(zip(self.net_ids_, bank.scales, strict=True))
        H = int(self.horizon)
        V = held_out_steps(bank.lengths, H, self.L_) if self.calibration_steps is None else int(self.calibration_steps)
        held = [i for i, n in enumerate(bank.lengths) if n >= V + 3 * m] if V >= H else []
        origins = bank.origins()
        if not len(origins):
            raise ModelError(
                f"lstm: no series has enough history to train on (need more than {m} steps); use model "
                "'seasonal_naive' or collect more history"
            )
        steps = int(min(int(self.train_steps), max(50, float(self.max_passes) * len(origins) / int(self.batch_size))))
        jobs = [Job(member_seed(self.seed, k), origins, bank.y) for k in range(int(self.members))]
        if held:  # one more network, trained with the last V steps held out, calibrates the quantiles
            jobs.append(Job(member_seed(self.seed, len(jobs)), bank.origins(cut=V), bank.mask_after(V)))
        nets, self.history_ = train_networks(self, bank, jobs, steps=steps)
        self.nets_ = nets[: int(self.members)]
        self.shrink_ = 0.0 if self.shrink == "auto" else float(self.shrink)
        if held:  # out-of-sample windows: how far to trust the network, and its quantiles' offsets
            self.shrink_, self.offsets_ = calibrate(nets[-1], bank, held, V, self.levels_, self.median_index_,
                                                    self.shrink)
        self.train_steps_ = steps
        self.context_ = self._context_arrays(arrays)

    def _context_arrays(self, arrays: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
        """The newest ``L_`` steps of every network series (what a forecast starts from)."""
        return {u: {k: v[-self.L_:] for k, v in arrays[u].items()} for u in self.net_ids_}

    def update(self, df: pd.DataFrame) -> LSTMForecaster:
        """Forecast from newer history without retraining; return ``self``.

        ``df`` must hold every trained series (same step and exogenous columns); each series' recent window is
        replaced, the networks, scales and calibration stay as trained, fallback baselines are refitted.
        """
        frame = self._update_frame(df)
        arrays = feat.series_arrays(frame, self.ids_, ["y", *self.exog_cols_])
        if self.nets_:
            self.context_ = self._context_arrays(arrays)
        return self

    # ------------------------------------------------------------------ predict
    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        if horizon > self.horizon:
            raise ModelError(
                f"lstm: this model forecasts at most {self.horizon} steps (its horizon); refit with "
                f"horizon={horizon} (capforecast train/forecast --horizon {horizon}) or ask for fewer steps"
            )
        n, Q = len(self.ids_), len(self.levels_)
        values = np.zeros((n, horizon, Q))
        if self.nets_:
            bank = self._bank(self.context_, self.net_ids_, context=True)
            origins = bank.starts_a + np.asarray(bank.lengths) - 1
            b = bank.batch(origins)
            resid = shrunk(quantiles_at(self.nets_, bank, origins), self.shrink_, self.median_index_)
            if self.offsets_ is not None:
                resid = np.sort(resid + self.offsets_[None], axis=-1)
            level = b["level"].astype(np.float64)[:, None, None]
            out = b["anchor"].astype(np.float64)[:, :, None] + resid
            if self.floor == "last_season":  # the median and above never under the last season's lowest value
                m = season_length(self.step_)
                low = np.maximum.accumulate(np.asarray(self.levels_) >= 0.5)
                out[:, :, low] = np.maximum(out[:, :, low], b["anchor"][:, :m].min(axis=1)[:, None, None])
            out = out * level
            pos = {uid: i for i, uid in enumerate(self.ids_)}
            for k, uid in enumerate(self.net_ids_):
                values[pos[uid]] = out[k, :horizon] * self.scales_[uid]
        qv = select_levels(self.levels_, values, quantiles, model="lstm")
        yhat = values[..., self.median_index_]
        return self._merge_fallback(yhat, qv, horizon, quantiles)

    # ------------------------------------------------------------------ persistence
    def _save_state(self, directory: Path) -> None:
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_") and k != "nets_"}
        state["n_nets_"] = len(self.nets_)
        joblib.dump(state, directory / _STATE_FILE)
        for i, net in enumerate(self.nets_):
            net.save(directory / f"net_{i}.keras")

    def _load_state(self, directory: Path) -> None:
        import keras

        from capforecast.models import _lstm_net  # noqa: F401 - registers the custom layer

        state = joblib.load(directory / _STATE_FILE)
        n_nets = int(state.pop("n_nets_", 0))
        self.__dict__.update(state)
        self.nets_ = []
        for i in range(n_nets):
            net_file = directory / f"net_{i}.keras"
            if not net_file.is_file():
                raise ModelError(f"{directory} has no {net_file.name}; the artifact is incomplete: retrain and save "
                                 "again")
            self.nets_.append(keras.saving.load_model(net_file, safe_mode=True, compile=False))
