"""Plot a backtest: forecast vs actual for each cutoff, one panel per series (PNG, written atomically)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from capforecast._io import atomic_path
from capforecast.errors import ConfigError
from capforecast.frames import FORECAST_COLUMNS

__all__ = ["plot_backtest"]


def plot_backtest(
    forecasts: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    series: Sequence[str] | None = None,
    max_series: int = 6,
    history: pd.DataFrame | None = None,
) -> Path:
    """Draw the actuals and every model's forecast per cutoff, write a PNG to ``path`` and return it.

    ``forecasts`` is ``cross_validation(...).forecasts``, or a forecast frame from ``model.predict`` (one cutoff:
    its start; no actuals). ``series`` picks the panels (default: the first ``max_series`` ids). With
    ``history`` (the series frame), the panel also shows the steps before the first cutoff. Dashed vertical
    lines mark the cutoffs; the shaded band is the highest quantile of each model. This is ``cf.plot_forecast``.

    Examples
    --------
    >>> import tempfile, capforecast as cf
    >>> frame = cf.make_sample(days=14, pools=["a100-train"])
    >>> fc = cf.get_model("seasonal_naive").fit(frame).predict(24, quantiles=[0.5, 0.9])
    >>> plot_backtest(fc, Path(tempfile.mkdtemp()) / "forecast.png", history=frame).name
    'forecast.png'
    """
    import matplotlib
    from matplotlib.figure import Figure  # not pyplot: the caller's backend and figures stay as they are

    missing = ([] if not isinstance(forecasts, pd.DataFrame)
               else [c for c in FORECAST_COLUMNS if c not in forecasts.columns])
    if not isinstance(forecasts, pd.DataFrame) or missing:
        got = f"a frame without {missing}" if missing else type(forecasts).__name__
        raise ConfigError(f"plot: forecasts must be a forecast frame (cross_validation(...).forecasts or "
                          f"model.predict(h)), got {got}; pass the series frame as history=")
    backtest = "cutoff" in forecasts.columns
    if not backtest:  # a forecast frame: one window that starts where the history ends
        forecasts = forecasts.assign(cutoff=forecasts.groupby("unique_id")["ds"].transform("min"))
    ids = list(series) if series else list(pd.unique(forecasts["unique_id"]))[:max_series]
    known = set(forecasts["unique_id"])
    unknown = [u for u in ids if u not in known]
    if unknown or not ids:
        raise ConfigError(f"cannot plot series {unknown or ids}: not in the backtest; pick ids it contains")
    qcols = sorted((c for c in forecasts.columns if c.startswith("p") and c[1:].replace(".", "").isdigit()),
                   key=lambda c: float(c[1:]))
    fig = Figure(figsize=(11, 2.6 * len(ids)))
    axes = fig.subplots(len(ids), 1, squeeze=False)
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    models = list(pd.unique(forecasts["model"]))
    for ax, uid in zip(axes[:, 0], ids, strict=True):
        part = forecasts[forecasts["unique_id"] == uid]
        actual = part.drop_duplicates("ds").sort_values("ds")
        if history is not None:
            first = part["cutoff"].min()
            past = history[(history["unique_id"] == uid) & (history["ds"] <= first)]
            past = past.tail(len(actual) * (1 if backtest else 3))
            ax.plot(past["ds"], past["y"], color="0.55", lw=1, label=None if backtest else "history")
        if "y" in actual:
            ax.plot(actual["ds"], actual["y"], color="black", lw=1.2, label="actual")
        for i, model in enumerate(models):
            color = colors[i % len(colors)]
            for j, (cutoff, g) in enumerate(part[part["model"] == model].groupby("cutoff")):
                ax.plot(g["ds"], g["yhat"], color=color, lw=1.1, label=model if j == 0 else None)
                if qcols:
                    ax.fill_between(g["ds"], g["yhat"], g[qcols[-1]], color=color, alpha=0.12, lw=0)
                if i == 0:
                    ax.axvline(cutoff, color="0.6", ls="--", lw=0.8)
        ax.set_title(str(uid), fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[0, 0].legend(fontsize=8, ncol=min(len(models) + 1, 6), loc="upper left")
    band = f" (band: yhat..{qcols[-1]})" if qcols else ""
    fig.suptitle(f"backtest: forecast vs actual per cutoff{band}" if backtest else f"forecast{band}", fontsize=10)
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    return target
