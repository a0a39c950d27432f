"""The checks of every :class:`~capforecast.planning.pools.PoolSpec` field, with errors naming pool, key and fix."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from capforecast._units import parse_duration
from capforecast.errors import ConfigError

if TYPE_CHECKING:
    from capforecast.planning.pools import PoolSpec

#: Emitters a pool may select (implemented in :mod:`capforecast.emit`).
EMITTER_NAMES = ("placeholder", "hpa", "karpenter", "capacity-buffer", "keda")
#: The fields holding a duration (a unit is required in a pools file).
DURATIONS = ("lead_time", "scale_in_cooldown", "min_window")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


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


def check_pool(p: PoolSpec) -> None:
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
    for key in DURATIONS:
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
    reserving = [e for e in ("placeholder", "capacity-buffer", "keda") if e in p.emitters]
    if len(reserving) > 1:
        raise _fail(name, "emitters", f"{' and '.join(reserving)} would each reserve the spare GPUs (twice)",
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
