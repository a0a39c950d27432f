"""The ex-post floor of ``benchmarks/planning_floor.py``: the cheapest constant bound, checked by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_SPEC = importlib.util.spec_from_file_location(
    "planning_floor", Path(__file__).resolve().parents[2] / "benchmarks" / "planning_floor.py")
floor = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(floor)


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
