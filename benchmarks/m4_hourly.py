"""Benchmark: M4 hourly (414 series, 48-hour horizon), scored exactly as the M4 organisers did.

Every model is fit on the training part and forecasts the 48 test hours of all 414 series; the forecasts are
scored with M4's sMAPE and MASE (and OWA against Naive2, recomputed from the raw files) and printed beside
the published results of ``../shared/BENCHMARKS.md``, with wall time and peak memory of each model's own
process. The scorer is checked first: seasonal naive must give 13.912 / 1.193 exactly.

P90 coverage (share of test actuals at or below the P90) is shown as the model gives it ("native") and after
conformal calibration on a 2-window backtest of the training part ("conformal"; auto calibrates itself).

    .venv/bin/python benchmarks/m4_hourly.py [--data ../shared/data] [--models seasonal_naive,gbm,auto]
        [--auto-candidates seasonal_naive,seasonal_median_weekly,gbm_fast] [--windows 5] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_auto_options, auto_params, markdown_table, measured, preset_model  # noqa: E402

from capforecast.datasets import data_root, load_m4_hourly  # noqa: E402
from capforecast.evaluation import conformalize, cross_validation, metrics  # noqa: E402
from capforecast.evaluation import m4 as m4score  # noqa: E402
from capforecast.models.auto import DEFAULT_CANDIDATES, AutoForecaster  # noqa: E402

H = 48
DEFAULT_MODELS = "naive,seasonal_naive,seasonal_naive_weekly,seasonal_median_daily,seasonal_median_weekly,gbm_fast,auto"
DEFAULT_AUTO = ",".join(DEFAULT_CANDIDATES)


AUTO_PARAMS: dict[str, Any] = {}  # set from the command line before the models run (forked children see it)


def build(name: str, auto_candidates: list[str], windows: int) -> Any:
    """A model by benchmark name: 'auto', a preset of capforecast.models.auto.CANDIDATES, or an alias."""
    if name == "auto":
        return AutoForecaster(candidates=tuple(auto_candidates), horizon=H, n_windows=windows, progress=True,
                              **AUTO_PARAMS)
    return preset_model(name, H)


def run_model(name: str, train: pd.DataFrame, auto_candidates: list[str], windows: int,
              conformal: bool) -> dict[str, Any]:
    """Fit on train and forecast 48 h (timed); then, for coverage, the conformal version of the P90."""
    start = time.perf_counter()
    model = build(name, auto_candidates, windows).fit(train)
    fc = model.predict(H, quantiles=[0.5, 0.9])
    out: dict[str, Any] = {"fc": fc, "fit_predict_s": time.perf_counter() - start}
    if name == "auto":
        out["choices"] = pd.Series(model.choice_).value_counts().to_dict()
        out["skipped"] = model.skipped_
        model.set_params(calibrate=False)
        try:  # the chosen models' own quantiles, for the "before" coverage
            out["fc_native"] = model.predict(H, quantiles=[0.5, 0.9])
        except Exception as exc:  # e.g. a member trained on the median only
            out["native_error"] = str(exc).splitlines()[0]
    elif conformal:
        bt = cross_validation(train, {name: build(name, auto_candidates, windows)}, h=H, n_windows=2,
                              quantiles=[0.5], progress=False)
        out["fc_conformal"] = conformalize(fc, bt.forecasts)
    return out


def arrays(fc: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
    fc = fc.sort_values(["unique_id", "ds"])
    return {str(u): g[column].to_numpy(dtype=float) for u, g in fc.groupby("unique_id", sort=False)}


def p90_coverage(fc: pd.DataFrame | None, test: dict[str, np.ndarray]) -> float:
    if fc is None:
        return float("nan")
    p90 = arrays(fc, "p90")
    return float(np.mean([metrics.coverage(test[u], p90[u]) for u in test]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="shared data folder holding m4-hourly/")
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated (default: {DEFAULT_MODELS})")
    parser.add_argument("--windows", type=int, default=5, help="auto's backtest windows (default: 5)")
    parser.add_argument("--no-conformal", action="store_true", help="skip the conformal coverage column")
    add_auto_options(parser, DEFAULT_AUTO)
    args = parser.parse_args(argv)
    AUTO_PARAMS.update(auto_params(args))

    folder = data_root(args.data) / "m4-hourly"
    raw_train = m4score.read_m4_wide(folder / "Hourly-train.csv")
    raw_test = m4score.read_m4_wide(folder / "Hourly-test.csv")
    naive2 = m4score.score_m4(raw_train, raw_test, {k: m4score.naive2_forecast(v, H, 24) for k, v in raw_train.items()})
    snaive = m4score.score_m4(raw_train, raw_test, {k: np.resize(v[-24:], H) for k, v in raw_train.items()})
    ok = (round(snaive[0], 3), round(snaive[1], 3)) == m4score.M4_HOURLY_PUBLISHED["sNaive"][:2]
    print(f"scorer check: seasonal naive {snaive[0]:.3f} / {snaive[1]:.3f} (published 13.912 / 1.193) "
          f"{'OK' if ok else 'MISMATCH'}; Naive2 {naive2[0]:.3f} / {naive2[1]:.3f} (published 18.383 / 2.395)")
    if not ok:
        return 1
    train, _ = load_m4_hourly(args.data)
    rows: list[dict[str, Any]] = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        res = measured(run_model, name, train, args.auto_candidates.split(","), args.windows,
                       not args.no_conformal, timeout=args.timeout)
        row: dict[str, Any] = {"method": f"capforecast {name}", "wall s": res.seconds, "peak MiB": res.peak_mb}
        if res.error:
            row["note"] = res.error
            rows.append(row)
            print(f"  {name} failed: {res.error}", file=sys.stderr)
            continue
        out = res.value
        s, a = m4score.score_m4(raw_train, raw_test, arrays(out["fc"], "yhat"))
        row.update({"sMAPE": s, "MASE": a, "OWA": m4score.owa(s, a, naive2)})
        if name == "auto":
            row["P90 cov. native"] = p90_coverage(out.get("fc_native"), raw_test)
            row["P90 cov. conformal"] = p90_coverage(out["fc"], raw_test)
            row["note"] = "chose " + ", ".join(f"{k} {v}" for k, v in out["choices"].items())
            if out.get("skipped"):
                row["note"] += "; skipped " + ", ".join(out["skipped"])
        else:
            row["P90 cov. native"] = p90_coverage(out["fc"], raw_test)
            row["P90 cov. conformal"] = p90_coverage(out.get("fc_conformal"), raw_test)
        rows.append(row)
        print(f"  {name}: sMAPE {s:.3f} MASE {a:.3f} ({res.seconds:.0f}s, {res.peak_mb:.0f} MiB)", file=sys.stderr)
    for method, (s, a, o) in m4score.M4_HOURLY_PUBLISHED.items():
        rows.append({"method": f"published: {method}", "sMAPE": s, "MASE": a, "OWA": o})
    cols = ["method", "sMAPE", "MASE", "OWA", "P90 cov. native", "P90 cov. conformal", "wall s", "peak MiB", "note"]
    print(markdown_table(rows, cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
