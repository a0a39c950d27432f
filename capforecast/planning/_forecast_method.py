"""capforecast's own plan in the simulator: :class:`ForecastMethod` (re-exported by the simulate module)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capforecast.planning._decisions import PoolBounds
from capforecast.planning.baselines import Decision

#: the reference forecaster whose estimates are calibrated beside the champion's: the same hour of the last 7 days
REFERENCE_MODEL = "seasonal_quantile"
REFERENCE_PARAMS: tuple[tuple[str, object], ...] = (("season", "daily"), ("n_seasons", 7))


def params_for(model: str) -> tuple[tuple[str, object], ...]:
    """The simulator's settings of ``model``: :data:`REFERENCE_PARAMS` for the reference, else its defaults."""
    return REFERENCE_PARAMS if model == REFERENCE_MODEL else ()


@dataclass(frozen=True)
class ForecastMethod:
    """capforecast's plan as the simulator runs it: the champion's forecast, the newest level, adaptive bounds.

    **Forecast.** ``model`` (default ``auto``: each pool's champion, chosen by a rolling-origin backtest on the
    demand observed by then) forecasts the quantiles ``floor_quantile``, 0.5 and ``quantile``. Nightly, it is
    refit at each decision (once a day, with every step observed by then); hourly, once a day at 00:00. A
    model with ``update`` (``gbm``, ``lstm``) is trained once, on the demand observed before the first
    calibration day (so its calibration scores are out of sample too), and afterwards only given the newer
    demand as context (no refit, no peeking).

    **Estimates** at a decision: nightly, ``max(newest observed demand, quantile forecast)`` and the median;
    hourly, ``shape = newest demand + median(t) - median(phase of the newest demand)`` (the newest level
    moved along the seasonal shape) and ``max(shape, floor_quantile forecast)``. With ``reference`` (default),
    the same estimates made from :data:`REFERENCE_MODEL` (the same hour of the last 7 days, refit at every
    fit time) are candidates too: ``auto`` picks its champion by the accuracy of the median, not of the tail
    a plan needs, and on Helios its estimates alone planned much dearer (docs/simulation.md). With the
    reference the calibrated plan never costs more on its calibration window than the reference's would;
    ``reference=False`` plans from the champion alone.

    **Calibration** (:mod:`capforecast.planning.adaptive`): the scores of the estimates of the last
    ``calibration_days`` whose demand was observed by the decision, normalised per lead (buckets of
    ``lead_bucket`` steps), give the bound at the adaptive level (never below ``min_bound``). The miss level
    starts at the *aim* on the validation window: by default (``aim=None``) the per-step level at which the
    scored window (the test week) exceeds ``target_busy`` with chance ``risk``
    (:func:`~capforecast.planning.adaptive.window_level`: 77 % of a 5 % target, 49 % of a 1 % one, hourly over
    7 days), or ``aim * target_busy`` for a given share. It moves by ``gamma`` after every observed
    outcome of the plan, within ``[-floor, loosen * aim]`` (``None``: no limit), so a pool that
    misses tightens itself and relaxes back once it holds again. Of the estimates (``nightly_median`` adds
    the median nightly) and score kinds (GPUs or a share), the one whose calibrated plan was cheapest on the
    same window is used. The defaults were chosen on Helios (docs/simulation.md).

    Examples
    --------
    >>> ForecastMethod().model
    'auto'
    """

    model: str = "auto"
    model_params: tuple[tuple[str, object], ...] = ()
    quantile: float = 0.9
    floor_quantile: float = 0.25
    calibration_days: float = 14.0
    gamma: float = 0.02
    aim: float | None = None
    risk: float = 0.2
    loosen: float | None = 1.0
    floor: float | None = 0.0
    min_bound: float | None = 0.0
    lead_bucket: int = 6
    nightly_median: bool = False
    reference: bool = True
    name: str = "capforecast"

    def __post_init__(self) -> None:
        from capforecast.errors import PlanningError

        def real(x: object) -> bool:
            return (isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
                    and math.isfinite(x))

        checks = (
            ("quantile", real(self.quantile) and 0 < self.quantile < 1, "a level between 0 and 1, e.g. 0.9"),
            ("floor_quantile", real(self.floor_quantile) and 0 < self.floor_quantile < 1,
             "a level between 0 and 1, e.g. 0.25"),
            ("calibration_days", real(self.calibration_days) and self.calibration_days > 0, "days, e.g. 14"),
            ("gamma", real(self.gamma) and self.gamma >= 0, "a step of 0 or more, e.g. 0.02"),
            ("aim", self.aim is None or (real(self.aim) and self.aim > 0), "None or a share of the target, e.g. 0.75"),
            ("risk", real(self.risk) and 0 < self.risk < 1, "a chance between 0 and 1, e.g. 0.2"),
            ("loosen", self.loosen is None or (real(self.loosen) and self.loosen > 0), "None or a factor, e.g. 1.0"),
            ("floor", self.floor is None or (real(self.floor) and self.floor >= 0), "None or 0 or more, e.g. 0.0"),
            ("min_bound", self.min_bound is None or real(self.min_bound), "None or a number, e.g. 0.0"),
            ("lead_bucket", isinstance(self.lead_bucket, (int, np.integer)) and not isinstance(self.lead_bucket, bool)
             and self.lead_bucket >= 1, "a whole number of steps, e.g. 6"),
        )
        for name, ok, want in checks:
            if not ok:
                raise PlanningError(f"ForecastMethod: {name}={getattr(self, name)!r} is not valid; give {want}")

    def fit_key(self, decision: Decision, mode: str) -> pd.Timestamp:
        """When the model that serves ``decision`` was (re)fit: the decision itself nightly, its day hourly."""
        return decision.time if mode == "nightly" else decision.time.floor("D")

    def forecasts(
        self, frame: pd.DataFrame, fits: Sequence[pd.Timestamp],
    ) -> dict[pd.Timestamp, pd.DataFrame]:
        """Map each fit time to its forecast up to 2 days on (columns ``low``, ``mid``, ``q``; with the
        reference, also ``low_ref``, ``mid_ref``, ``q_ref``)."""
        out = self._forecasts(self.model, self.model_params, frame, fits)
        if self.reference and not self._is_reference():
            ref = self._forecasts(REFERENCE_MODEL, REFERENCE_PARAMS, frame, fits)
            out = {k: v.join(ref[k].add_suffix("_ref"), how="left") for k, v in out.items()}
        return out

    def _is_reference(self) -> bool:
        """Whether the champion is the reference itself (same model and settings): no second forecast then."""
        from capforecast.models import get_model

        if self.model != REFERENCE_MODEL:
            return False
        settings = get_model(self.model, **dict(self.model_params)).get_params()
        return settings == get_model(REFERENCE_MODEL, **dict(REFERENCE_PARAMS)).get_params()

    def _forecasts(
        self, name: str, params: tuple[tuple[str, object], ...], frame: pd.DataFrame,
        fits: Sequence[pd.Timestamp],
    ) -> dict[pd.Timestamp, pd.DataFrame]:
        from capforecast.frames import quantile_column
        from capforecast.models import get_model

        step = pd.Timedelta(frame.groupby("unique_id")["ds"].diff().min())
        levels = sorted({self.floor_quantile, 0.5, self.quantile})
        out, model = {}, None
        for fit in sorted(set(fits)):
            hist = frame[frame["ds"] + step <= fit][["unique_id", "ds", "y"]]
            # through the next day's last step: hourly mode looks up the phase of the newest value a day on
            horizon = int((fit + pd.Timedelta("2D") - step - hist.groupby("unique_id")["ds"].max().min()) / step)
            if model is None or not hasattr(model, "update"):
                model = get_model(name, **dict(params))
                names = model.get_params()
                if "horizon" in names and hasattr(model, "update") and int(names["horizon"] or 0) < horizon:
                    model.set_params(horizon=horizon)  # trained once: it must reach the farthest step
                model.fit(hist)
            else:
                model.update(hist)
            fc = model.predict(horizon, quantiles=levels).set_index(["unique_id", "ds"])
            out[fit] = pd.DataFrame({"low": fc[quantile_column(self.floor_quantile)],
                                     "mid": fc[quantile_column(0.5)], "q": fc[quantile_column(self.quantile)]})
        return out

    def estimates(
        self, uid: str, y: np.ndarray, ds: pd.DatetimeIndex, decisions: Sequence[Decision], mode: str,
        forecasts: Mapping[pd.Timestamp, pd.DataFrame],
    ) -> tuple[np.ndarray, np.ndarray]:
        """The demand estimates (before calibration) of every target step, shape ``(n_estimates, n_targets)``,
        and each target's lead (steps after the newest observed step)."""
        parts, leads = [], []
        tables: dict[pd.Timestamp, tuple[np.ndarray, np.ndarray]] = {}
        stamps = ds.as_unit("ns").asi8
        day = pd.Timedelta("1D").value
        for d in decisions:
            key = self.fit_key(d, mode)
            if key not in tables:  # this pool's forecast of that fit: low, mid, q as plain arrays
                t = forecasts[key].loc[uid]
                when = pd.DatetimeIndex(t.index).as_unit("ns").asi8
                order = np.argsort(when)
                cols = [c for c in ("low", "mid", "q", "low_ref", "mid_ref", "q_ref") if c in t.columns]
                tables[key] = (when[order], t[cols].to_numpy(float)[order])
            index, values = tables[key]

            def at(when: np.ndarray, col: int, index=index, values=values) -> np.ndarray:  # noqa: ANN001
                pos = np.minimum(np.searchsorted(index, when), len(index) - 1)
                hit = (index[pos] == when) if len(index) else np.zeros(len(when), bool)
                return np.where(hit, values[pos, col], np.nan)

            last = y[d.observed - 1] if d.observed > 0 else 0.0
            leads.append(d.targets - (d.observed - 1))
            rows = []
            for low, mid_col, q in ((0, 1, 2), (3, 4, 5))[: values.shape[1] // 3]:  # the champion, the reference
                mid = at(stamps[d.targets], mid_col)
                if mode == "nightly":
                    rows += [np.fmax(at(stamps[d.targets], q), last), *([mid] if self.nightly_median else [])]
                    continue
                phase = at(stamps[[d.observed - 1]] + day, mid_col)[0]
                shift = mid - phase
                shape = last + np.where(np.isfinite(shift), shift, 0.0)
                rows += [shape, np.fmax(shape, at(stamps[d.targets], low))]
            parts.append(np.stack(rows))
        if not parts:
            return np.zeros((1, 0)), np.zeros(0, int)
        est = np.concatenate(parts, axis=1)
        return np.maximum(np.where(np.isfinite(est), est, 0.0), 0.0), np.concatenate(leads)

    def calibrated(
        self, estimates: np.ndarray, leads: np.ndarray, y: np.ndarray, ds: pd.DatetimeIndex, start: int,
        decisions: Sequence[Decision], target_busy: float, pool: PoolBounds, window_steps: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Walk ``decisions`` with the adaptive bound; ``estimates`` and ``leads`` cover steps ``start..``.
        ``window_steps`` is the length of the scored window (default: 7 days of steps), for the default aim.

        Returns the planned demand of every target step, the bound used at each decision (mean over the
        leads, in GPUs or a share of the estimate) and the adaptive level at each decision.
        """
        from capforecast.planning.adaptive import AdaptiveLevel, choose, window_level

        window = max(1, int(round(pd.Timedelta(days=self.calibration_days) / (ds[1] - ds[0]))))
        n_buckets = int((max(int(leads.max()), 1) - 1) // self.lead_bucket + 1) if leads.size else 1
        if self.aim is not None:
            aim = self.aim * target_busy
        else:
            steps = window_steps if window_steps is not None else int(round(pd.Timedelta("7D") / (ds[1] - ds[0])))
            aim = window_level(target_busy, steps, self.risk)
        aci = AdaptiveLevel(target=aim, gamma=self.gamma, ceiling=1.0 if self.loosen is None else self.loosen * aim,
                            floor=self.floor)
        waiting: list[tuple[int, float]] = []  # planned steps whose outcome is not observed yet
        out, used, levels = [], [], []
        for d in decisions:
            while waiting and waiting[0][0] < d.observed:  # outcomes seen by now move the level
                j, cap = waiting.pop(0)
                if np.isfinite(y[j]):
                    aci.observe(bool(y[j] > cap + 1e-9))
            lo = max(start, d.observed - window)
            hi = max(lo, d.observed)  # nothing observed since the estimates start: no scores yet (bound 0)
            rows = [est[lo - start: hi - start] for est in estimates]
            i, lb = choose(rows, y[lo:hi], leads[lo - start: hi - start], aci.level,
                           lambda v: pool.nodes(v).sum(), lead_bucket=self.lead_bucket, n_buckets=n_buckets,
                           min_bound=self.min_bound)
            planned = lb.apply(estimates[i][d.targets - start], leads[d.targets - start])
            out.append(planned)
            used.append(lb.headroom())
            levels.append(aci.level)
            caps = pool.nodes(planned) * pool.gpus_per_node
            waiting.extend(zip(d.targets.tolist(), caps.tolist(), strict=True))
        return np.concatenate(out), np.asarray(used), np.asarray(levels)
