"""The planning benchmarks' own logic, checked by hand: the ex-post floor of ``benchmarks/planning_floor.py``
(the cheapest constant bound, and one per lead bucket) and the comparison of ``benchmarks/planning_bursty.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd


def _benchmark(name: str):  # noqa: ANN202 - a module loaded from benchmarks/
    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floor = _benchmark("planning_floor")
bursty = _benchmark("planning_bursty")


def test_the_cheapest_bound_is_found_by_hand():
    demand = np.array([8.0, 16.0, 24.0, 8.0])
    flat = np.full(4, 8.0)
    # one busy step of four allowed: 2 nodes (16 GPUs) everywhere, the 24-GPU step busy -> 8 node-steps
    assert floor.cheapest_bound(flat, demand, 0.25) == 8.0
    # none allowed: 3 nodes everywhere (an additive 16 GPUs, or the estimate x 3)
    assert floor.cheapest_bound(flat, demand, 0.0) == 12.0
    # an estimate with the right shape needs no bound at all
    assert floor.cheapest_bound(demand, demand, 0.0) == 1 + 2 + 3 + 1
    # a zero estimate cannot be scaled up; the additive bound still holds it
    assert floor.cheapest_bound(np.zeros(4), demand, 0.0) == 12.0


def test_the_cheapest_bound_per_lead_bucket_shares_the_busy_steps_out_where_they_save_most():
    estimate, demand = np.full(4, 8.0), np.array([8.0, 24.0, 16.0, 16.0])
    leads = np.array([1, 2, 3, 4])  # buckets of 2: (8, 24) and (16, 16)
    # one constant bound, one busy step: 2 nodes everywhere (the 24 busy) -> 8 node-steps
    assert floor.cheapest_bound(estimate, demand, 0.25) == 8.0
    # per bucket: the busy step spent on the 24 (1 node there), 2 nodes on the other -> 1 + 1 + 2 + 2
    assert floor.cheapest_by_lead(estimate, demand, leads, 0.25, bucket=2) == 6.0
    # no busy step allowed: 3 nodes then 2 nodes -> 3 + 3 + 2 + 2
    assert floor.cheapest_by_lead(estimate, demand, leads, 0.0, bucket=2) == 10.0
    # one bucket is the constant bound
    assert floor.cheapest_by_lead(estimate, demand, leads, 0.25, bucket=4) == 8.0


def test_the_bursty_comparison_takes_the_cheapest_baseline_that_met_and_means_over_cells_both_met():
    def row(uid, method, busy, cost_ratio, met):  # noqa: ANN001, ANN202
        return {"unique_id": uid, "method": method, "busy": busy, "cost_ratio": cost_ratio, "met": met}

    scores = pd.DataFrame([
        row("a", "capforecast", 0.02, 1.30, True), row("a", "static", 0.01, 1.20, True),
        row("a", "reactive", 0.09, 1.00, False), row("a", "seasonal_naive_max", 0.00, 1.50, True),
        row("a", "oracle", 0.0, 1.0, True),
        row("b", "capforecast", 0.08, 1.10, False), row("b", "static", 0.00, 2.00, True),
        row("b", "oracle", 0.0, 1.0, True),
        row("c", "capforecast", 0.00, 1.90, True), row("c", "static", 0.20, 1.40, False),
        row("c", "oracle", 0.0, 1.0, True),
    ])
    cells = bursty.versus_cheapest(scores).set_index("unique_id")
    assert cells.loc["a", "cheapest"] == 1.20 and cells.loc["a", "cheapest_method"] == "static"  # not reactive
    assert cells.loc["b", "cheapest"] == 2.00 and not cells.loc["b", "met"]
    assert np.isnan(cells.loc["c", "cheapest"]) and cells.loc["c", "cheapest_method"] == "-"  # no baseline met
    s = bursty.summary(cells.reset_index())
    # met: a and c; both met: a only (b missed by capforecast, c met by no baseline)
    assert (s["met"], s["cells"], s["both"]) == (2, 3, 1)
    assert (s["capforecast"], s["cheapest"]) == (1.30, 1.20)


def test_the_bursty_series_are_the_same_for_a_seed_and_differ_between_seeds():
    a, b = bursty.bursty_series(0), bursty.bursty_series(0)
    pd.testing.assert_frame_equal(a, b)
    assert sorted(a["unique_id"].unique()) == ["batch", "drift", "infer", "train"]
    assert len(a) == 4 * 24 * bursty.DAYS and (a["y"] >= 0).all()
    assert not a["y"].equals(bursty.bursty_series(1)["y"])
