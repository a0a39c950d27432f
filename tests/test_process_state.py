"""capforecast leaves the caller's process as it found it: warning filters, umask, matplotlib backend, RNGs, logging.

One fresh Python process runs each stage a notebook user runs (import, a real fetch from a real Prometheus,
fit + predict of several models, a backtest plot, a plan report) and records the process state before and
after each stage; one test case per stage, so a failure names the culprit. The process starts with the
``svg`` matplotlib backend (as a notebook starts with its inline backend), so ``matplotlib.use("Agg")``
would show. The third-party libraries are imported before the first snapshot: the warning filters that
scipy or statsmodels add when imported are theirs, not ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .promserver import INSTALL_HINT, PrometheusNotInstalled, PrometheusServer, Series

ROOT = Path(__file__).resolve().parents[1]
START = 1_777_593_600  # 2026-05-01T00:00:00Z
POOLS = tuple(f"pool-{i}" for i in range(12))
STAGES = ["import", "fetch", "seasonal_naive", "gbm", "holt_winters", "plot", "report", "lstm"]

SCRIPT = r"""
import json, logging, random, sys, warnings

import matplotlib
import numpy as np
import pandas, pyarrow, requests, scipy, sklearn.ensemble, statsmodels.tsa.holtwinters  # noqa: F401 - theirs

url, out_dir = sys.argv[1], sys.argv[2]
random.seed(1234)
np.random.seed(1234)
sys.setswitchinterval(1e-6)  # switch threads often: a race between ingest workers shows up at once
FILTERS, NP_STATE, PY_STATE = list(warnings.filters), np.random.get_state(), random.getstate()


def reset():
    # each stage starts from the state the process started with, so each stage is judged on its own
    warnings.filters[:] = FILTERS
    warnings._filters_mutated()
    matplotlib.use("svg")
    np.random.set_state(NP_STATE)
    random.setstate(PY_STATE)


def umask():
    with open("/proc/self/status") as f:
        return next(line.split()[1] for line in f if line.startswith("Umask:"))


def snapshot():
    np_state = np.random.get_state()
    root = logging.getLogger()
    return {
        "warnings.filters": [repr(f) for f in warnings.filters],
        "umask": umask(),
        "matplotlib backend": matplotlib.get_backend(),
        "np.random state": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "random state": repr(random.getstate()),
        "root logger": [root.level, [repr(h) for h in root.handlers], logging.root.manager.disable],
    }


def run_import():
    import capforecast, capforecast.emit, capforecast.evaluation, capforecast.ingest, capforecast.models  # noqa
    import capforecast.emit.report, capforecast.evaluation.plot, capforecast.planning  # noqa: F401


def frame():
    from capforecast.ingest.sample import make_sample
    return make_sample(days=14, pools=["a100-train", "h100-infer"])


def run_fetch():
    from capforecast.ingest import Connection, fetch
    conn = Connection(url, workers=4, retries=0)
    for _ in range(3):
        got = fetch(conn, "gpu_used", START, START + 86_400, "1m", id_labels=["pool"], max_points=120)
        assert len(got) == len(POOLS) * 1441, len(got)


def run_model(alias, **params):
    from capforecast.models import get_model
    fc = get_model(alias, **params).fit(frame()).predict(6, quantiles=[0.1, 0.5, 0.9])
    assert len(fc) == 12, len(fc)


def run_plot():
    from capforecast.evaluation import cross_validation
    from capforecast.evaluation.plot import plot_backtest
    bt = cross_validation(frame(), ["naive", "seasonal_naive"], h=6, n_windows=2, progress=False)
    plot_backtest(bt.forecasts, out_dir + "/backtest.png")


def run_report():
    from capforecast.emit import write_report
    from capforecast.models import get_model
    from capforecast.planning import load_pools, plan_capacity
    history = frame()
    pools = load_pools(ROOT + "/data/sample/pools.yaml")
    forecast = get_model("seasonal_naive").fit(history).predict(24, quantiles=[0.5, 0.9, 0.95, 0.99])
    plan = plan_capacity(forecast, [p for p in pools if p.name in set(history["unique_id"])])
    write_report(out_dir + "/report", plan=plan, pools=pools, forecast=forecast, history=history)


stages = {
    "import": run_import,
    "fetch": run_fetch,
    "seasonal_naive": lambda: run_model("seasonal_naive"),
    "gbm": lambda: run_model("gbm", horizon=6, max_iter=10, quantiles=(0.1, 0.5, 0.9)),
    "holt_winters": lambda: run_model("holt_winters", n_paths=50),
    "plot": run_plot,
    "report": run_report,
    "lstm": lambda: run_model("lstm", horizon=6, input_steps=24, units=4, dense_units=4, members=1, train_steps=5,
                              verbose=0),
}
results = {}
for name, run in stages.items():
    reset()
    before = snapshot()
    try:
        run()
        error = None
    except Exception as exc:  # reported per stage; the other stages still run
        error = f"{type(exc).__name__}: {exc}"
    after = snapshot()
    results[name] = {"error": error, "changed": {k: [before[k], after[k]] for k in before if before[k] != after[k]}}
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Run every stage once in a fresh process against a real Prometheus; per stage: error and changed state."""
    ts = np.arange(START, START + 86_400 + 1, 60, dtype=np.int64)
    rng = np.random.default_rng(0)
    series = [Series("gpu_used", {"pool": p}, ts, np.round(rng.gamma(4.0, 8.0, len(ts)), 3))
              for p in POOLS]
    try:
        server = PrometheusServer.from_samples(series, tmp_path_factory.mktemp("prom"))
    except PrometheusNotInstalled:
        pytest.fail(INSTALL_HINT, pytrace=False)
    out = tmp_path_factory.mktemp("out")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(MPLBACKEND="svg", PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    code = f"START = {START}\nROOT = {str(ROOT)!r}\nPOOLS = {POOLS!r}\n" + SCRIPT
    with server:
        proc = subprocess.run([sys.executable, "-c", code, server.url, str(out)], capture_output=True, text=True,
                              env=env, cwd=out, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert proc.returncode == 0 and lines, f"the stage script failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULTS "):])


@pytest.mark.parametrize("stage", STAGES)
def test_stage_leaves_the_process_state_as_it_found_it(stages: dict[str, dict], stage: str) -> None:
    result = stages[stage]
    assert result["error"] is None, f"{stage} failed: {result['error']}"
    changed = {key: _difference(*values) for key, values in result["changed"].items()}
    assert not changed, f"{stage} changed the caller's process state: {changed}"


def _difference(before: object, after: object) -> str:
    """``added [...], removed [...]`` for the warning filters; ``before -> after`` (shortened) otherwise."""
    if isinstance(before, list) and isinstance(after, list) and all(isinstance(x, str) for x in before + after):
        added, removed = [x for x in after if x not in before], [x for x in before if x not in after]
        if added or removed:
            return f"added {added[:3]}, removed {removed[:3]}"
    return f"{str(before)[:120]} -> {str(after)[:120]}"
