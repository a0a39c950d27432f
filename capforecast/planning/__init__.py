"""Capacity planning: node pools described by data, and the planner that turns a forecast into a Plan.

>>> from capforecast.planning import PoolSpec, load_pools, plan_capacity  # doctest: +SKIP

See ``docs/planning.md`` for the rules and the pools file format.
"""

from __future__ import annotations

from capforecast.planning.planner import PLAN_COLUMNS, plan_capacity, static_nodes
from capforecast.planning.pools import EMITTER_NAMES, Budget, PoolSet, PoolSpec, load_pools, parse_pools

__all__ = [
    "EMITTER_NAMES",
    "PLAN_COLUMNS",
    "Budget",
    "PoolSet",
    "PoolSpec",
    "load_pools",
    "parse_pools",
    "plan_capacity",
    "static_nodes",
]
