"""capforecast's own plan in the simulator: :class:`ForecastMethod` (re-exported by the simulate module)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capforecast.planning._decisions import PoolBounds
from capforecast.planning.baselines import Decision


@dataclass(frozen=True)
class ForecastMethod:
    """capforecast's plan as the simulator runs it: model quantiles, the newest level, rolling conformal headroom.

    Every day at 00:00 the model (``get_model(model, **model_params)``) is refit on the demand observed by
    then and forecasts the quantiles ``floor_quantile``, 0.5 and ``quantile`` of the next 48 h. The demand
    estimates at a decision are

    - ``nightly`` (1 to 24 h ahead): ``max(newest observed demand, the quantile forecast)``;
    - ``hourly`` (2 steps ahead): ``shape = newest demand + median(t) - median(phase of the newest demand)``
      (the newest level moved along the seasonal shape), and ``max(shape, floor_quantile forecast)``.

    Each estimate is multiplied by ``1 + headroom``, the headroom that
    :func:`~capforecast.planning.calibrate.calibrate_headroom` finds on the last ``calibration_days`` of
    estimates whose demand was observed by the decision time (the validation window at first). With several
    estimates, the one whose calibrated plan was cheapest on that same window is used.

    Examples
    --------
    >>> ForecastMethod().model
    'seasonal_quantile'
    """

    model: str = "seasonal_quantile"
    model_params: tuple[tuple[str, object], ...] = (("season", "daily"), ("n_seasons", 7))
    quantile: float = 0.9
    floor_quantile: float = 0.25
    calibration_days: float = 7.0
    name: str = "capforecast"

    def daily_forecasts(self, frame: pd.DataFrame, days: Sequence[pd.Timestamp]) -> dict[pd.Timestamp, pd.DataFrame]:
        """Refit once per day; map each day's 00:00 to its forecast (columns ``low``, ``mid``, ``q``)."""
        from capforecast.frames import quantile_column
        from capforecast.models import get_model

        step = pd.Timedelta(frame.groupby("unique_id")["ds"].diff().min())
        levels = sorted({self.floor_quantile, 0.5, self.quantile})
        out = {}
        for day in days:
            hist = frame[frame["ds"] + step <= day][["unique_id", "ds", "y"]]
            # through the next day's last step: hourly mode looks up the phase of the newest value a day on
            horizon = int((day + pd.Timedelta("2D") - step - hist.groupby("unique_id")["ds"].max().min()) / step)
            model = get_model(self.model, **dict(self.model_params)).fit(hist)
            fc = model.predict(horizon, quantiles=levels).set_index(["unique_id", "ds"])
            out[day] = pd.DataFrame({"low": fc[quantile_column(self.floor_quantile)],
                                     "mid": fc[quantile_column(0.5)], "q": fc[quantile_column(self.quantile)]})
        return out

    def estimates(
        self, uid: str, y: np.ndarray, ds: pd.DatetimeIndex, decisions: Sequence[Decision], mode: str,
        forecasts: Mapping[pd.Timestamp, pd.DataFrame],
    ) -> np.ndarray:
        """The demand estimates (before headroom) of every target step, shape ``(n_estimates, n_targets)``."""
        parts = []
        for d in decisions:
            fc = forecasts[d.time.floor("D")].loc[uid].reindex(ds[d.targets])
            last = y[d.observed - 1] if d.observed > 0 else 0.0
            if mode == "nightly":
                parts.append(np.fmax(fc["q"].to_numpy(float), last)[None, :])
                continue
            phase = forecasts[d.time.floor("D")].loc[uid]["mid"].get(ds[d.observed - 1] + pd.Timedelta("1D"))
            shift = fc["mid"].to_numpy(float) - (np.nan if phase is None else phase)
            shape = last + np.where(np.isfinite(shift), shift, 0.0)
            parts.append(np.stack([shape, np.fmax(shape, fc["low"].to_numpy(float))]))
        return np.maximum(np.concatenate(parts, axis=1), 0.0) if parts else np.zeros((1, 0))

    def calibrated(
        self, estimates: np.ndarray, y: np.ndarray, ds: pd.DatetimeIndex, start: int,
        decisions: Sequence[Decision], target_busy: float, pool: PoolBounds,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply rolling conformal headroom at each decision; ``estimates`` cover steps ``start..``.

        Returns the planned demand of every target step and the headroom used at each decision.
        """
        from capforecast.planning.calibrate import calibrate_headroom

        window = max(1, int(round(pd.Timedelta(days=self.calibration_days) / (ds[1] - ds[0]))))
        out, used = [], []
        for d in decisions:
            lo, hi = max(start, d.observed - window), d.observed
            best = None
            for est in estimates:
                cal = calibrate_headroom(est[lo - start: hi - start], y[lo:hi], target_busy)
                cost = float(pool.nodes(cal.apply(est[lo - start: hi - start])).sum())
                if best is None or cost < best[0]:
                    best = (cost, est, cal)
            _, est, cal = best  # type: ignore[misc]
            out.append(cal.apply(est[d.targets - start]))
            used.append(cal.headroom)
        return np.concatenate(out), np.asarray(used)
