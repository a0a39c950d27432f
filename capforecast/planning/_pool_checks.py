"""The checks of :class:`~capforecast.planning.pools.PoolSpec` fields that are more than a type and a range.

Each raises :class:`~capforecast._schema.Invalid` (``problem; fix``); the pools reader names the pool and key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from capforecast._schema import Invalid, share

if TYPE_CHECKING:
    from capforecast.planning.pools import PoolSpec

#: Emitters a pool may select (implemented in :mod:`capforecast.emit`).
EMITTER_NAMES = ("placeholder", "hpa", "karpenter", "capacity-buffer", "keda")
LABEL_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_LABEL_NAME, _DNS_SUBDOMAIN, _DNS_LABEL = re.compile(LABEL_NAME), re.compile(DNS_SUBDOMAIN), re.compile(DNS_LABEL)


def name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"a pool has name {value!r}; every pool needs a non-empty 'name' equal to its series id")
    return value


def target_busy(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        raise Invalid("0 would need infinite capacity; write a share such as 0.01 or 0.05")
    return value


def quantile(value: Any) -> float | None:
    if value is None:
        return None
    q = share(0.0, 1.0, "0.95")(value)
    if not 0.0 < q < 1.0:
        raise Invalid(f"{q} is not strictly between 0 and 1; write e.g. quantile: 0.95")
    return q


def priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"expected a whole number tier, got {value!r}; write e.g. priority: 100 (higher tiers keep "
                      "their nodes under a budget)")
    return value


def node_selector(labels: Any) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        raise Invalid(f"expected a mapping of node labels, got {labels!r}; write e.g. node_selector: "
                      "{cloud.google.com/gke-accelerator: nvidia-tesla-a100}")
    out = {}
    for k, v in labels.items():
        k, v = str(k), "" if v is None else str(v)
        prefix, _, label = k.rpartition("/")
        if not _LABEL_NAME.match(label) or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))):
            raise Invalid(f"{k!r} is not a valid Kubernetes label key; use [prefix/]name with letters, digits, "
                          "'-', '_', '.' (name <= 63 chars)")
        if v and not _LABEL_NAME.match(v):
            raise Invalid(f"label {k!r} has value {v!r}, which Kubernetes rejects; use <= 63 letters, digits, "
                          "'-', '_', '.', starting and ending with a letter or digit")
        out[k] = v
    return out


def tolerations(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, Mapping) for t in value):
        raise Invalid(f"expected a list of tolerations, got {value!r}; write e.g. tolerations: "
                      "[{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]")
    return tuple(dict(t) for t in value)


def emitters(value: Any) -> tuple[str, ...]:
    listed = (value,) if isinstance(value, str) else value
    if not isinstance(listed, (list, tuple)) or not listed:
        raise Invalid(f"expected a list of emitter names, got {value!r}; write e.g. emitters: [placeholder]; "
                      f"choose from {', '.join(EMITTER_NAMES)}")
    for e in listed:
        if e not in EMITTER_NAMES:
            raise Invalid(f"unknown emitter {e!r}; choose from {', '.join(EMITTER_NAMES)}")
    out = tuple(dict.fromkeys(listed))
    reserving = [e for e in ("placeholder", "capacity-buffer", "keda") if e in out]
    if len(reserving) > 1:
        raise Invalid(f"{' and '.join(reserving)} would each reserve the spare GPUs (twice); choose one of them")
    return out


def namespace(value: Any) -> str:
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise Invalid(f"{value!r} is not a valid namespace name; use lowercase letters, digits and '-', at most 63 "
                      "characters")
    return value


def gpu_resource(value: Any) -> str:
    prefix, _, rname = str(value).rpartition("/")
    if not isinstance(value, str) or not prefix or not _DNS_SUBDOMAIN.match(prefix) or not _LABEL_NAME.match(rname):
        raise Invalid(f"{value!r} is not an extended resource name; write e.g. gpu_resource: nvidia.com/gpu")
    return value


def mapping(example: str) -> Any:
    def check(value: Any) -> dict[str, Any]:
        if value is not None and not isinstance(value, Mapping):
            raise Invalid(f"expected a mapping, got {value!r}; write e.g. {example}")
        return dict(value or {})

    return check


def check_pool(p: PoolSpec) -> None:
    """The checks across fields; normalises ``hpa`` and ``karpenter`` in place (the dataclass is frozen)."""
    if p.min_nodes > p.max_nodes:
        raise Invalid(f"min_nodes {p.min_nodes} is above max_nodes {p.max_nodes}; make min_nodes <= max_nodes",
                      key="min_nodes")
    if p.placeholder_gpus > p.gpus_per_node:
        raise Invalid(f"{p.placeholder_gpus} GPUs do not fit on a {p.gpus_per_node}-GPU node; make "
                      "placeholder_gpus <= gpus_per_node", key="placeholder_gpus")
    object.__setattr__(p, "hpa", _check_hpa(p))
    object.__setattr__(p, "karpenter", _check_karpenter(p))


def _whole(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"expected a whole number >= 1, got {value!r}; write e.g. gpus_per_replica: 1", key=key)
    return value


def _check_hpa(p: PoolSpec) -> dict[str, Any]:
    hpa = dict(p.hpa)
    if "hpa" not in p.emitters:
        return hpa
    if not isinstance(hpa.get("name"), str) or not _DNS_SUBDOMAIN.match(hpa["name"]):
        raise Invalid("the hpa emitter needs hpa.name, the HorizontalPodAutoscaler to patch; write e.g. "
                      "hpa: {name: llm-server, gpus_per_replica: 1}", key="hpa")
    unknown = set(hpa) - {"name", "target", "namespace", "gpus_per_replica"}
    if unknown:
        raise Invalid(f"unknown key(s) {sorted(unknown)}; use name, target, namespace, gpus_per_replica", key="hpa")
    hpa.setdefault("target", hpa["name"])
    hpa.setdefault("namespace", p.namespace)
    for key, pattern in (("target", _DNS_SUBDOMAIN), ("namespace", _DNS_LABEL)):
        if not isinstance(hpa[key], str) or not pattern.match(hpa[key]):
            raise Invalid(f"{hpa[key]!r} is not a valid Kubernetes name; use lowercase letters, digits and '-'",
                          key=f"hpa.{key}")
    hpa["gpus_per_replica"] = _whole(hpa.get("gpus_per_replica", 1), "hpa.gpus_per_replica")
    return hpa


def _check_karpenter(p: PoolSpec) -> dict[str, Any]:
    kp = dict(p.karpenter)
    if "karpenter" not in p.emitters:
        return kp
    if not isinstance(kp.get("nodepool"), str) or not _DNS_SUBDOMAIN.match(kp["nodepool"]):
        raise Invalid("the karpenter emitter needs karpenter.nodepool, the NodePool to patch; write e.g. "
                      "karpenter: {nodepool: gpu-a100, nodeclass: default}", key="karpenter")
    unknown = set(kp) - {"nodepool", "nodeclass"}
    if unknown:
        raise Invalid(f"unknown key(s) {sorted(unknown)}; use nodepool, nodeclass", key="karpenter")
    kp.setdefault("nodeclass", "default")
    if not isinstance(kp["nodeclass"], str) or not _DNS_SUBDOMAIN.match(kp["nodeclass"]):
        raise Invalid(f"{kp['nodeclass']!r} is not a valid Kubernetes name; write e.g. nodeclass: default",
                      key="karpenter.nodeclass")
    return kp
