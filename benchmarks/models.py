"""Benchmark: forecast accuracy of the models on Helios, and what the default LSTM costs to train.

1. ``helios``: the 16 Helios Earth virtual clusters, hourly GPU demand (running + pending GPUs), the last
   48 hours held out. Every model (default hyperparameters, horizon 48) is fitted on the rest and scored per
   series with M4's MASE (m = 24) and sMAPE, averaged over the series; P90 coverage and pinball loss of P90
   too. The bar of issue 4: the default ``lstm`` beats ``seasonal_naive`` on MASE.
2. ``sample``: training time and peak memory of the default LSTM on the bundled sample (data/sample).
3. ``m4``: the same on M4 hourly (414 series, horizon 48), with its MASE / sMAPE on the M4 test set.

Each fit runs in its own process (wall time and peak RSS are its own). Run from the project root:

    .venv/bin/python benchmarks/models.py [--parts helios,sample,m4] [--models naive,seasonal_naive,...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, markdown_table, measured  # noqa: E402

from capforecast.evaluation.metrics import mase, pinball, smape  # noqa: E402

H = 48
DEFAULT_MODELS = "naive,seasonal_naive,seasonal_quantile,holt_winters,gbm,lstm"
QUANTILES = [0.5, 0.9, 0.99]


def _fit_predict(alias: str, params: dict[str, Any], train: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Fit and forecast ``horizon`` steps; the frame's attrs carry fallbacks and the LSTM's training device."""
    from capforecast.models import get_model

    model = get_model(alias, **params)
    accepted = model.get_params()
    if "horizon" in accepted:
        model.set_params(horizon=horizon)
    if "verbose" in accepted:
        model.set_params(verbose=0)
    fc = model.fit(train).predict(horizon, quantiles=QUANTILES)
    fc.attrs["fallbacks"] = dict(getattr(model, "fallbacks_", {}))
    fc.attrs["device"] = getattr(model, "history_", {}).get("device", "CPU") if alias == "lstm" else "CPU"
    return fc


def score(train: pd.DataFrame, test: pd.DataFrame, fc: pd.DataFrame) -> dict[str, float]:
    """Mean per-series MASE (m=24), sMAPE, P50/P90/P99 coverage and P90 pinball loss."""
    rows = []
    hist = {u: g["y"].to_numpy() for u, g in train.groupby("unique_id")}
    merged = test.merge(fc, on=["unique_id", "ds"], how="left")
    for uid, g in merged.groupby("unique_id"):
        y, f = g["y"].to_numpy(), g["yhat"].to_numpy()
        rows.append({"mase": mase(y, f, insample=hist[uid], m=24), "smape": smape(y, f),
                     "cov50": float(np.mean(y <= g["p50"].to_numpy())),
                     "cov90": float(np.mean(y <= g["p90"].to_numpy())),
                     "cov99": float(np.mean(y <= g["p99"].to_numpy())),
                     "pinball90": pinball(y, g["p90"].to_numpy(), 0.9)})
    table = pd.DataFrame(rows)
    return {k: float(table[k].mean()) for k in table.columns}


def helios(models: list[str], data: str | None) -> list[dict[str, Any]]:
    from capforecast.datasets import load_helios

    full = load_helios(data, total=False, exog=True)
    held_out = full.groupby("unique_id").cumcount(ascending=False) < H
    test = full.loc[held_out, ["unique_id", "ds", "y"]].reset_index(drop=True)
    train_exog = full[~held_out][["unique_id", "ds", "y", "pending_gpus"]].reset_index(drop=True)
    train = train_exog[["unique_id", "ds", "y"]]
    rows = []
    for name in models:
        spec, plus, _ = name.partition("+exog")
        alias, _, raw = spec.partition(":")
        params = json.loads(raw) if raw else {}
        res = measured(_fit_predict, alias, params, train_exog if plus else train, H)
        row: dict[str, Any] = {"model": name, "seconds": res.seconds, "peak MiB": res.peak_mb}
        if res.error:
            row["note"] = res.error
        else:
            row.update(score(train, test, res.value))
            row["note"] = f"{len(res.value.attrs['fallbacks'])} fallback(s)" if res.value.attrs["fallbacks"] else ""
        rows.append(row)
        print(f"  {name}: {row}", file=sys.stderr, flush=True)
    return rows


def lstm_cost(train: pd.DataFrame, test: pd.DataFrame | None, label: str, seed: int) -> dict[str, Any]:
    res = measured(_fit_predict, "lstm", {"seed": seed}, train, H)
    row: dict[str, Any] = {"data": label, "seed": seed, "series": train["unique_id"].nunique(), "rows": len(train),
                           "seconds": res.seconds, "peak MiB": res.peak_mb, "note": res.error or ""}
    if not res.error:
        row["device"] = res.value.attrs["device"]
    if test is not None and not res.error:
        row.update(score(train, test, res.value))
    print(f"  {label}: {row}", file=sys.stderr, flush=True)
    return row


def spread(rows: list[dict[str, Any]], key: str) -> None:
    """Print the MASE spread (max - min) of rows that differ only by seed (``lstm``, ``lstm:{"seed": 1}``...)."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if "mase" in r:
            base = re.sub(r'"seed":\s*\d+,?\s*', "", str(r[key])).replace(":{}", "")
            groups.setdefault(base, []).append(float(r["mase"]))
    for base, values in groups.items():
        if len(values) > 1:
            print(f"{base}: MASE over {len(values)} seeds {min(values):.3f}..{max(values):.3f}, "
                  f"spread {max(values) - min(values):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="helios,sample,m4", help="helios, sample, m4 (comma-separated)")
    parser.add_argument("--models", default=DEFAULT_MODELS,
                        help="aliases for the Helios table; alias:{json params} for a variant; a '+exog' "
                        "suffix adds pending GPUs as an exogenous input")
    parser.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    parser.add_argument("--seeds", default="0", help="LSTM seeds for the sample/m4 parts, e.g. 0,1,2 (spread shown)")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "helios" in parts:
        rows = helios(re.split(r",(?![^{]*})", args.models), args.data)  # commas inside {json} stay
        print(f"\n## Helios Earth, 16 VCs, hourly demand, last {H} h held out\n")
        print(markdown_table(rows, ["model", "mase", "smape", "cov50", "cov90", "cov99", "pinball90", "seconds",
                                    "peak MiB", "note"]))
        spread(rows, "model")
    seeds = [int(s) for s in args.seeds.split(",")]
    cost = []
    if "sample" in parts:
        from capforecast.ingest.files import read_series

        sample = read_series(ROOT / "data" / "sample" / "series.csv")
        cost += [lstm_cost(sample, None, "data/sample", seed) for seed in seeds]
    if "m4" in parts:
        from capforecast.datasets import load_m4_hourly

        train, test = load_m4_hourly(args.data)
        cost += [lstm_cost(train, test, "M4 hourly", seed) for seed in seeds]
    if cost:
        print("\n## Default LSTM: training + prediction cost (and M4 test accuracy)\n")
        print(markdown_table(cost, ["data", "seed", "series", "rows", "seconds", "peak MiB", "device", "mase", "smape",
                                    "cov50", "cov90", "cov99", "note"]))
        spread([dict(r, model=f"lstm on {r['data']}") for r in cost], "model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
