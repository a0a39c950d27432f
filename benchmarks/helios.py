"""Benchmark: rolling backtest on Helios Earth GPU demand (7 daily origins, 24-hour horizon).

Hourly GPU demand (running + pending GPUs) of the 16 virtual clusters and of their sum (``earth``). Every
model is backtested at the last 7 midnights of May 2020 (each origin uses only the hours before it) and scored
per series with MASE (m = 24) and sMAPE. The bar for ``auto``: never worse than seasonal naive, per VC and
summed. P90 coverage is shown as the model gives it and after a rolling conformal calibration (window k is
calibrated on the residuals of windows 1..k-1 only, so windows 2..7 are scored for both columns).

    .venv/bin/python benchmarks/helios.py [--data ../shared/data] [--models seasonal_naive,gbm_fast,auto]
        [--lstm-refit 7]

The LSTM is trained once, at the first origin, and given the newer history with ``update`` at the later
origins (no retraining); every other model is refit at every origin.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_auto_options, auto_params, markdown_table, measured, preset_model  # noqa: E402

from capforecast.datasets import load_helios  # noqa: E402
from capforecast.evaluation import conformal_offsets, cross_validation  # noqa: E402
from capforecast.models.auto import DEFAULT_CANDIDATES, AutoForecaster  # noqa: E402

H, WINDOWS = 24, 7
DEFAULT_MODELS = "naive,seasonal_naive,seasonal_naive_weekly,seasonal_median_daily,holt_winters,gbm_fast,auto"
DEFAULT_AUTO = ",".join(DEFAULT_CANDIDATES)


AUTO_PARAMS: dict[str, Any] = {}  # set from the command line before the models run (forked children see it)


def build(name: str, auto_candidates: list[str]) -> Any:
    if name == "auto":
        return AutoForecaster(candidates=tuple(auto_candidates), horizon=H, **AUTO_PARAMS)
    return preset_model(name, H)


def backtest(name: str, frame: pd.DataFrame, auto_candidates: list[str], lstm_refit: int) -> Any:
    refit = lstm_refit if name == "lstm" else True  # the LSTM: fit once, then update() with newer history
    return cross_validation(frame, {name: build(name, auto_candidates)}, h=H, n_windows=WINDOWS,
                            refit=refit, quantiles=[0.5, 0.9], progress=False)


def rolling_conformal_coverage(fc: pd.DataFrame) -> tuple[float, float]:
    """P90 coverage over windows 2..k: native, and calibrated on the residuals of earlier windows only."""
    native, calibrated = [], []
    for _, g in fc.groupby("unique_id"):
        cutoffs = sorted(g["cutoff"].unique())
        for k, cutoff in enumerate(cutoffs[1:], start=1):
            past = g[g["cutoff"].isin(cutoffs[:k])]
            now = g[(g["cutoff"] == cutoff) & g["y"].notna()]
            offset = conformal_offsets((past["y"] - past["yhat"]).to_numpy(), [0.9])[0.9]
            native.extend(now["y"] <= now["p90"])
            calibrated.extend(now["y"] <= now["yhat"] + offset)
    return float(np.mean(native)), float(np.mean(calibrated))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="shared data folder holding helios-earth/")
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated (default: {DEFAULT_MODELS})")
    parser.add_argument("--lstm-refit", type=int, default=WINDOWS,
                        help="refit the LSTM every K origins, update() in between (default: 7 = fit once)")
    parser.add_argument("--offset-days", type=int, default=0,
                        help="leave out the last N days first: --offset-days 7 backtests the validation week "
                             "(the 7 origins before the test week), for choosing settings without the test week")
    add_auto_options(parser, DEFAULT_AUTO)
    args = parser.parse_args(argv)
    AUTO_PARAMS.update(auto_params(args))

    frame = load_helios(args.data)
    if args.offset_days:
        frame = frame[frame["ds"] <= frame["ds"].max() - pd.Timedelta(days=args.offset_days)]
    ids = sorted(frame["unique_id"].unique())
    print(f"Helios Earth: {len(ids)} series (16 VCs + earth), {frame['ds'].min()} .. {frame['ds'].max()}, "
          f"{WINDOWS} origins x {H} h", file=sys.stderr)
    rows, per_series = [], {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        res = measured(backtest, name, frame, args.auto_candidates.split(","), args.lstm_refit,
                       timeout=args.timeout)
        row: dict[str, Any] = {"model": name, "wall s": res.seconds, "peak MiB": res.peak_mb}
        bt = res.value
        if res.error or bt.failures:
            row["note"] = res.error or "; ".join(bt.failures.values())
            rows.append(row)
            print(f"  {name} failed: {row['note']}", file=sys.stderr)
            continue
        scores = bt.scores.set_index("unique_id")
        per_series[name] = scores
        vcs = scores.drop(index="earth", errors="ignore")
        native, conformal = rolling_conformal_coverage(bt.forecasts)
        finite = vcs["mase"][np.isfinite(vcs["mase"])]  # a VC idle through its history has no MASE scale
        if len(finite) < len(vcs):
            row["note"] = f"MASE over the {len(finite)} VCs whose history varies"
        row.update({"MASE (16 VCs)": finite.mean(), "sMAPE (16 VCs)": vcs["smape"].mean(),
                    "MASE earth": scores.loc["earth", "mase"], "sMAPE earth": scores.loc["earth", "smape"],
                    "P90 cov. native": native, "P90 cov. conformal": conformal})
        rows.append(row)
        print(f"  {name}: MASE {row['MASE (16 VCs)']:.3f}, earth {row['MASE earth']:.3f} ({res.seconds:.0f}s)",
              file=sys.stderr)
    cols = ["model", "MASE (16 VCs)", "sMAPE (16 VCs)", "MASE earth", "sMAPE earth", "P90 cov. native",
            "P90 cov. conformal", "wall s", "peak MiB", "note"]
    print(markdown_table(rows, cols))
    if "seasonal_naive" in per_series:
        sn = per_series["seasonal_naive"]["mase"]
        table = [{"series": uid, **{m: s.loc[uid, "mase"] for m, s in per_series.items()}} for uid in ids]
        print("\nMASE per series (7 origins x 24 h):")
        print(markdown_table(table, ["series", *per_series]))
        sn_smape = per_series["seasonal_naive"]["smape"]
        for name, s in per_series.items():
            worse = [uid for uid in ids if s.loc[uid, "mase"] > sn.loc[uid] + 1e-12]
            worse_smape = [uid for uid in ids if s.loc[uid, "smape"] > sn_smape.loc[uid] + 1e-9]
            print(f"{name}: worse than seasonal naive on {len(worse)} of {len(ids)} series by MASE"
                  + (f" ({', '.join(worse)})" if worse else "")
                  + f", on {len(worse_smape)} by sMAPE" + (f" ({', '.join(worse_smape)})" if worse_smape else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
