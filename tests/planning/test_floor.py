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
