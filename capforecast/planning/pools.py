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
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._units import parse_duration
from capforecast.errors import ConfigError

__all__ = ["EMITTER_NAMES", "Budget", "PoolSet", "PoolSpec", "load_pools", "parse_pools"]

#: Emitters a pool may select (implemented in :mod:`capforecast.emit`).
EMITTER_NAMES = ("placeholder", "hpa", "karpenter", "capacity-buffer")
_DEFAULT_TOLERATIONS = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DURATIONS = ("lead_time", "scale_in_cooldown")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


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
        _check_pool(self)

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


# ------------------------------------------------------------------------------------------------ checks


def _fail(pool: str, key: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"pool {pool!r}, key {key!r}: {problem}; {fix}")


def _int(pool: str, key: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _fail(pool, key, f"expected a whole number, got {value!r}", f"write e.g. {key}: {max(minimum, 1)}")
    if value < minimum:
        raise _fail(pool, key, f"must be at least {minimum}, got {value!r}", f"write a number >= {minimum}")
    return int(value)


def _fraction(pool: str, key: str, value: Any, *, low: float, high: float, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _fail(pool, key, f"expected a number, got {value!r}", f"write e.g. {key}: {example}")
    if not low <= value <= high:
        raise _fail(pool, key, f"{value!r} is outside [{low}, {high}]", f"write e.g. {key}: {example}")
    return float(value)


def _check_labels(pool: str, key: str, labels: Any) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        raise _fail(pool, key, f"expected a mapping of node labels, got {labels!r}",
                    f"write e.g. {key}: {{cloud.google.com/gke-accelerator: nvidia-tesla-a100}}")
    out = {}
    for k, v in labels.items():
        k, v = str(k), "" if v is None else str(v)
        prefix, _, name = k.rpartition("/")
        if not _LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))):
            raise _fail(pool, key, f"{k!r} is not a valid Kubernetes label key",
                        "use [prefix/]name with letters, digits, '-', '_', '.' (name <= 63 chars)")
        if v and not _LABEL_NAME.match(v):
            raise _fail(pool, key, f"label {k!r} has value {v!r}, which Kubernetes rejects",
                        "use <= 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit")
        out[k] = v
    return out


def _check_pool(p: PoolSpec) -> None:
    """Validate and normalise every field of ``p`` in place (the dataclass is frozen, so via __setattr__)."""
    if not isinstance(p.name, str) or not p.name.strip():
        raise ConfigError(f"a pool has name {p.name!r}; every pool needs a non-empty 'name' equal to its series id")
    name = p.name
    setattr_ = object.__setattr__
    setattr_(p, "gpus_per_node", _int(name, "gpus_per_node", p.gpus_per_node, minimum=1))
    setattr_(p, "min_nodes", _int(name, "min_nodes", p.min_nodes))
    setattr_(p, "max_nodes", _int(name, "max_nodes", p.max_nodes, minimum=1))
    if p.min_nodes > p.max_nodes:
        raise _fail(name, "min_nodes", f"min_nodes {p.min_nodes} is above max_nodes {p.max_nodes}",
                    "make min_nodes <= max_nodes")
    for key in _DURATIONS:
        setattr_(p, key, parse_duration(getattr(p, key), name=f"pool {name!r}, key {key!r}"))
    tb = _fraction(name, "target_busy", p.target_busy, low=0.0, high=0.5, example="0.05")
    if not 0 < tb:
        raise _fail(name, "target_busy", "0 would need infinite capacity", "write a share such as 0.01 or 0.05")
    setattr_(p, "target_busy", tb)
    if p.quantile is not None:
        q = _fraction(name, "quantile", p.quantile, low=0.0, high=1.0, example="0.95")
        if not 0.0 < q < 1.0:
            raise _fail(name, "quantile", f"{q} is not strictly between 0 and 1", "write e.g. quantile: 0.95")
        setattr_(p, "quantile", q)
    setattr_(p, "headroom", _fraction(name, "headroom", p.headroom, low=0.0, high=10.0, example="0.1"))
    price = _fraction(name, "price_per_node_hour", p.price_per_node_hour, low=0.0, high=1e9, example="32.77")
    setattr_(p, "price_per_node_hour", price)
    if isinstance(p.priority, bool) or not isinstance(p.priority, int):
        raise _fail(name, "priority", f"expected a whole number tier, got {p.priority!r}",
                    "write e.g. priority: 100 (higher tiers keep their nodes under a budget)")
    setattr_(p, "node_selector", _check_labels(name, "node_selector", p.node_selector))
    tolerations = p.tolerations
    if not isinstance(tolerations, (list, tuple)) or not all(isinstance(t, Mapping) for t in tolerations):
        raise _fail(name, "tolerations", f"expected a list of tolerations, got {tolerations!r}",
                    "write e.g. tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]")
    setattr_(p, "tolerations", tuple(dict(t) for t in tolerations))
    emitters = (p.emitters,) if isinstance(p.emitters, str) else p.emitters
    if not isinstance(emitters, (list, tuple)) or not emitters:
        raise _fail(name, "emitters", f"expected a list of emitter names, got {p.emitters!r}",
                    f"write e.g. emitters: [placeholder]; choose from {', '.join(EMITTER_NAMES)}")
    for e in emitters:
        if e not in EMITTER_NAMES:
            raise _fail(name, "emitters", f"unknown emitter {e!r}", f"choose from {', '.join(EMITTER_NAMES)}")
    setattr_(p, "emitters", tuple(dict.fromkeys(emitters)))
    if {"placeholder", "capacity-buffer"} <= set(p.emitters):
        raise _fail(name, "emitters", "placeholder and capacity-buffer would each reserve the spare GPUs (twice)",
                    "choose one of them")
    if not isinstance(p.namespace, str) or not _DNS_LABEL.match(p.namespace):
        raise _fail(name, "namespace", f"{p.namespace!r} is not a valid namespace name",
                    "use lowercase letters, digits and '-', at most 63 characters")
    prefix, _, rname = str(p.gpu_resource).rpartition("/")
    if not prefix or not _DNS_SUBDOMAIN.match(prefix) or not _LABEL_NAME.match(rname):
        raise _fail(name, "gpu_resource", f"{p.gpu_resource!r} is not an extended resource name",
                    "write e.g. gpu_resource: nvidia.com/gpu")
    setattr_(p, "placeholder_gpus", _int(name, "placeholder_gpus", p.placeholder_gpus, minimum=1))
    if p.placeholder_gpus > p.gpus_per_node:
        raise _fail(name, "placeholder_gpus", f"{p.placeholder_gpus} GPUs do not fit on a {p.gpus_per_node}-GPU node",
                    "make placeholder_gpus <= gpus_per_node")
    setattr_(p, "hpa", _check_hpa(p))
    setattr_(p, "karpenter", _check_karpenter(p))


def _mapping(p: PoolSpec, key: str, example: str) -> dict[str, Any]:
    value = getattr(p, key)
    if value is not None and not isinstance(value, Mapping):
        raise _fail(p.name, key, f"expected a mapping, got {value!r}", f"write e.g. {key}: {example}")
    return dict(value or {})


def _check_hpa(p: PoolSpec) -> dict[str, Any]:
    hpa = _mapping(p, "hpa", "{name: llm-server, gpus_per_replica: 1}")
    if "hpa" not in p.emitters:
        return hpa
    if not isinstance(hpa.get("name"), str) or not _DNS_SUBDOMAIN.match(hpa["name"]):
        raise _fail(p.name, "hpa", "the hpa emitter needs hpa.name, the HorizontalPodAutoscaler to patch",
                    "write e.g. hpa: {name: llm-server, gpus_per_replica: 1}")
    hpa.setdefault("target", hpa["name"])
    hpa.setdefault("namespace", p.namespace)
    for key, pattern in (("target", _DNS_SUBDOMAIN), ("namespace", _DNS_LABEL)):
        if not isinstance(hpa[key], str) or not pattern.match(hpa[key]):
            raise _fail(p.name, f"hpa.{key}", f"{hpa[key]!r} is not a valid Kubernetes name",
                        "use lowercase letters, digits and '-'")
    hpa["gpus_per_replica"] = _int(p.name, "hpa.gpus_per_replica", hpa.get("gpus_per_replica", 1), minimum=1)
    unknown = set(hpa) - {"name", "target", "namespace", "gpus_per_replica"}
    if unknown:
        raise _fail(p.name, "hpa", f"unknown key(s) {sorted(unknown)}", "use name, target, namespace, gpus_per_replica")
    return hpa


def _check_karpenter(p: PoolSpec) -> dict[str, Any]:
    kp = _mapping(p, "karpenter", "{nodepool: gpu-a100, nodeclass: default}")
    if "karpenter" not in p.emitters:
        return kp
    if not isinstance(kp.get("nodepool"), str) or not _DNS_SUBDOMAIN.match(kp["nodepool"]):
        raise _fail(p.name, "karpenter", "the karpenter emitter needs karpenter.nodepool, the NodePool to patch",
                    "write e.g. karpenter: {nodepool: gpu-a100, nodeclass: default}")
    kp.setdefault("nodeclass", "default")
    if not isinstance(kp["nodeclass"], str) or not _DNS_SUBDOMAIN.match(kp["nodeclass"]):
        raise _fail(p.name, "karpenter.nodeclass", f"{kp['nodeclass']!r} is not a valid Kubernetes name",
                    "write e.g. nodeclass: default")
    unknown = set(kp) - {"nodepool", "nodeclass"}
    if unknown:
        raise _fail(p.name, "karpenter", f"unknown key(s) {sorted(unknown)}", "use nodepool, nodeclass")
    return kp


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
        for key in _DURATIONS:  # a bare number in a file has no unit (PoolSpec(lead_time=900) is seconds)
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
