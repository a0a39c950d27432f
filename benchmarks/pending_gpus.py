"""Does the newest pending-GPU count help hourly plans on Helios? (issue 12, item 3; not kept in the library)

Run from the project root:  ``nice -n 10 python benchmarks/pending_gpus.py '{"model": "seasonal_quantile",
"model_params": [["season", "daily"], ["n_seasons", 7]]}'``  (the JSON: ForecastMethod settings).

capforecast's hourly plan with and without one more estimate, ``shape + newest pending GPUs``; the cheapest
calibrated estimate is used either way. Prints pools met, aggregate cost_ratio and mean busy per target.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dataclasses import dataclass

import numpy as np
import pandas as pd
from planning import pools_for

from capforecast.datasets import load_helios
from capforecast.planning.simulate import ForecastMethod, simulate

kw = json.loads(sys.argv[1])
kw = {k: (tuple(map(tuple, v)) if k == "model_params" else v) for k, v in kw.items()}
frame = load_helios(exog=True)
P = {u: (pd.DatetimeIndex(g.ds).asi8, g.pending_gpus.to_numpy(float)) for u, g in frame.groupby("unique_id")}


@dataclass(frozen=True)
class WithPending(ForecastMethod):
    def estimates(self, uid, y, ds, decisions, mode, forecasts):
        est, leads = super().estimates(uid, y, ds, decisions, mode, forecasts)
        stamps, pend = P[uid]
        pos = np.searchsorted(stamps, ds.asi8)
        p = np.nan_to_num(pend[np.minimum(pos, len(pend) - 1)])
        newest = np.concatenate([np.full(len(d.targets), p[d.observed - 1]) for d in decisions])
        return np.vstack([est, est[0] + newest]), leads


vcs = sorted(u for u in frame.unique_id.unique() if u != "earth")
for cls in (ForecastMethod, WithPending):
    m = cls(**kw)
    for target in (0.05, 0.01):
        for names in (["earth"], vcs):
            _, sc = simulate(
                frame[frame.unique_id.isin(names)][["unique_id", "ds", "y"]],
                pools_for(names, target),
                "hourly",
                method=m,
                baselines=(),
            )
            o = sc[sc.method == "capforecast"].set_index("unique_id")
            orc = sc[sc.method == "oracle"].set_index("unique_id")
            print(
                cls.__name__,
                target,
                len(names),
                f"met {o.met.sum()}/{len(o)} cost {o.cost.sum() / orc.cost.sum():.3f} busy {100 * o.busy.mean():.2f}%",
                flush=True,
            )
