"""Node pools described by data: :class:`PoolSpec`, the optional shared GPU :class:`Budget`, and the YAML reader.

A pools file is a mapping with a list under ``pools:`` (and optionally a ``budget:``)::

    budget: {gpus: 96}              # optional: shared GPU cap, lower priority tiers are cut first
    pools:
      - name: a100-train            # == the series unique_id
        gpus_per_node: 8
        min_nodes: 1
        max_nodes: 12
        lead_time: 15m              # time for a new node to join and be schedulable
        target_busy: 0.05           # share of time demand may exceed capacity

Every bad value raises :class:`~capforecast.errors.ConfigError` naming the pool, the key and the fix.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._units import parse_duration
from capforecast.errors import ConfigError
from capforecast.planning._pool_checks import DURATIONS, EMITTER_NAMES, check_pool

__all__ = ["EMITTER_NAMES", "Budget", "PoolSet", "PoolSpec", "load_pools", "parse_pools"]

_DEFAULT_TOLERATIONS = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)

@dataclass(frozen=True)
class PoolSpec:
    """One GPU node pool: its size limits, timing, service target, price and how to emit its plan.

    Parameters
    ----------
    name : str
        The pool's name; equal to the ``unique_id`` of its demand series.
    gpus_per_node : int
        GPUs on one node of the pool.
    min_nodes, max_nodes : int
        Bounds the plan never leaves (``0 <= min_nodes <= max_nodes``).
    lead_time : pd.Timedelta
        Time from asking for a node to it being schedulable; capacity is requested this far ahead. Written with
        a unit (``'15m'``); a bare number is seconds from Python and an error in a pools file.
    target_busy : float
        Acceptable share of time with demand above capacity (0.05 = 5 %); the plan follows the forecast
        quantile ``1 - target_busy`` unless ``quantile`` is given.
    quantile : float or None
        Explicit service quantile (overrides ``target_busy``), e.g. 0.95.
    headroom : float
        Extra fraction on top of the quantile forecast (0.1 = +10 %).
    scale_in_cooldown : pd.Timedelta
        Capacity is only reduced once the forecast has stayed lower for this long (no flapping).
    min_window : pd.Timedelta
        Clock windows of held nodes (from 00:00 UTC): each step is raised (never lowered) to the most nodes of
        its window, so nodes change only at window boundaries (``0s``: follow every step). The default, 4h,
        was chosen on Helios with ``capforecast simulate`` (docs/keda.md).
    price_per_node_hour : float
        Cost of one node for one hour, for the report's cost comparison.
    priority : int
        Tier under a shared :class:`Budget`: higher keeps its nodes, lower is cut first (as Kubernetes
        PriorityClass values).
    node_selector : dict
        Node labels that select the pool's nodes (placed on the placeholder pods).
    tolerations : tuple of dict
        Pod tolerations for the pool's taints (default: tolerate ``nvidia.com/gpu``).
    emitters : tuple of str
        Which Kubernetes emitters render this pool (see ``capforecast.emit.EMITTERS``).
    namespace : str
        Namespace of the placeholder objects.
    gpu_resource : str
        Extended resource name of a GPU.
    placeholder_gpus : int
        GPUs requested by one placeholder pod (the reservation granularity).
    hpa : dict
        For the ``hpa`` emitter: ``name`` (the HPA), ``target`` (the Deployment it scales, default ``name``),
        ``namespace`` and ``gpus_per_replica`` (default 1).
    karpenter : dict
        For the ``karpenter`` emitter: ``nodepool`` (the NodePool name) and ``nodeclass`` (its EC2NodeClass).

    Examples
    --------
    >>> pool = PoolSpec(name="a100-train", gpus_per_node=8, min_nodes=1, max_nodes=10, lead_time="15m")
    >>> pool.service_quantile, pool.lead_time
    (0.95, Timedelta('0 days 00:15:00'))
    """

    name: str
    gpus_per_node: int
    min_nodes: int
    max_nodes: int
    lead_time: pd.Timedelta
    target_busy: float = 0.05
    quantile: float | None = None
    headroom: float = 0.0
    scale_in_cooldown: pd.Timedelta = pd.Timedelta(hours=1)
    min_window: pd.Timedelta = pd.Timedelta(hours=4)
    price_per_node_hour: float = 1.0
    priority: int = 0
    node_selector: dict[str, str] = field(default_factory=dict, hash=False)
    tolerations: tuple[dict[str, Any], ...] = field(default=_DEFAULT_TOLERATIONS, hash=False)
    emitters: tuple[str, ...] = ("placeholder",)
    namespace: str = "capforecast"
    gpu_resource: str = "nvidia.com/gpu"
    placeholder_gpus: int = 1
    hpa: dict[str, Any] = field(default_factory=dict, hash=False)
    karpenter: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_pool(self)

    @property
    def service_quantile(self) -> float:
        """The forecast quantile the plan follows: ``quantile`` if set, else ``1 - target_busy``."""
        q = self.quantile if self.quantile is not None else 1.0 - self.target_busy
        return round(float(q), 6)


@dataclass(frozen=True)
class Budget:
    """A GPU cap shared by several pools; lower ``priority`` tiers are cut first when plans exceed it.

    Examples
    --------
    >>> Budget(gpus=64).pools is None
    True
    """

    gpus: int
    pools: tuple[str, ...] | None = None  # None: every pool in the file


class PoolSet(list[PoolSpec]):
    """A list of :class:`PoolSpec` that also carries the file's optional shared :class:`Budget`.

    Examples
    --------
    >>> ps = PoolSet([PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=4, lead_time="10m")])
    >>> ps.names(), ps.budget
    (['a'], None)
    """

    def __init__(self, pools: Iterable[PoolSpec] = (), budget: Budget | None = None) -> None:
        super().__init__(pools)
        self.budget = budget

    def names(self) -> list[str]:
        """Pool names in file order."""
        return [p.name for p in self]

    def get(self, name: str) -> PoolSpec:
        """The pool called ``name``; :class:`ConfigError` if there is none."""
        for pool in self:
            if pool.name == name:
                return pool
        raise ConfigError(f"no pool named {name!r}; the pools file defines {', '.join(self.names()) or 'none'}")


# ------------------------------------------------------------------------------------------------ reading

_FIELDS = {f.name for f in dataclasses.fields(PoolSpec)}
_REQUIRED = ("name", "gpus_per_node", "min_nodes", "max_nodes", "lead_time")


def parse_pools(data: Mapping[str, Any]) -> PoolSet:
    """Build the pools (and optional budget) from the parsed YAML mapping.

    Examples
    --------
    >>> pools = parse_pools({"pools": [{"name": "h100-infer", "gpus_per_node": 8, "min_nodes": 1,
    ...                                 "max_nodes": 6, "lead_time": "10m", "target_busy": 0.01}]})
    >>> pools[0].service_quantile
    0.99
    """
    if not isinstance(data, Mapping) or "pools" not in data:
        raise ConfigError("pools file: expected a mapping with a list under 'pools:'; see examples/pools.yaml")
    unknown = set(data) - {"pools", "budget"}
    if unknown:
        raise ConfigError(f"pools file: unknown top-level key(s) {sorted(unknown)}; only 'pools' and 'budget' exist")
    entries = data["pools"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError("pools file: 'pools:' must be a non-empty list of pools; see examples/pools.yaml")
    pools: list[PoolSpec] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"pools file: entry {i + 1} is {entry!r}, not a mapping; write '- name: ...' with keys")
        label = str(entry.get("name", f"#{i + 1}"))
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise ConfigError(f"pool {label!r}: missing key(s) {', '.join(missing)}; every pool needs "
                              f"{', '.join(_REQUIRED)} (and target_busy or quantile)")
        extra = sorted(set(entry) - _FIELDS)
        if extra:
            raise ConfigError(f"pool {label!r}: unknown key(s) {', '.join(map(str, extra))}; "
                              f"valid keys are {', '.join(sorted(_FIELDS))}")
        kwargs = dict(entry)
        kwargs["name"] = str(kwargs["name"])
        for key in DURATIONS:  # a bare number in a file has no unit (PoolSpec(lead_time=900) is seconds)
            if key in kwargs:
                kwargs[key] = parse_duration(kwargs[key], name=f"pool {label!r}, key {key!r}", allow_numbers=False)
        pools.append(PoolSpec(**kwargs))
    names = [p.name for p in pools]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise ConfigError(f"pools file: pool name(s) {dups} appear more than once; give each pool one entry")
    return PoolSet(pools, _parse_budget(data.get("budget"), pools))


def _parse_budget(raw: Any, pools: list[PoolSpec]) -> Budget | None:
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = {"gpus": raw}
    if not isinstance(raw, Mapping) or "gpus" not in raw or set(raw) - {"gpus", "pools"}:
        raise ConfigError(f"pools file, key 'budget': expected {{gpus: N, pools: [...]}} or a number, got {raw!r}")
    gpus = raw["gpus"]
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus != int(gpus) or gpus < 0:
        raise ConfigError(f"pools file, key 'budget.gpus': expected a whole number of GPUs >= 0, got {gpus!r}")
    names = [p.name for p in pools]
    members = raw.get("pools")
    if members is not None:
        if not isinstance(members, list) or not members:
            raise ConfigError("pools file, key 'budget.pools': expected a list of pool names; omit it for all pools")
        missing = [m for m in members if m not in names]
        if missing:
            raise ConfigError(f"pools file, key 'budget.pools': {missing} are not pools in this file; "
                              f"use names from {names}")
        members = tuple(str(m) for m in members)
    floor = sum(p.min_nodes * p.gpus_per_node for p in pools if members is None or p.name in members)
    if floor > gpus:
        raise ConfigError(f"pools file, key 'budget.gpus': {int(gpus)} GPUs cannot hold the pools' min_nodes "
                          f"({floor} GPUs); raise the budget or lower min_nodes")
    return Budget(gpus=int(gpus), pools=members)


def load_pools(path: str | os.PathLike[str]) -> PoolSet:
    """Read a pools YAML file (see :func:`parse_pools`); errors name the file, the pool and the key."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"pools file {p} does not exist; pass --pools with a path like examples/pools.yaml") from None
    except OSError as exc:
        raise ConfigError(f"pools file {p} cannot be read ({exc.strerror}); check its permissions") from None
    except UnicodeDecodeError:
        raise ConfigError(f"pools file {p} is not UTF-8 text (a binary or compressed file?); pass the YAML file, "
                          "e.g. examples/pools.yaml") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"pools file {p}: not valid YAML{where}; fix the syntax (see examples/pools.yaml)") from None
    try:
        return parse_pools(data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
