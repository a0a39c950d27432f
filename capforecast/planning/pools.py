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
from collections.abc import Iterable
from typing import Annotated, Any

import pandas as pd
from pydantic import BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema, model_validator
from pydantic.dataclasses import dataclass

from capforecast._schema import Duration, share, whole
from capforecast.errors import ConfigError, PlanningError
from capforecast.planning import _pool_checks as checks
from capforecast.planning._pool_checks import EMITTER_NAMES

__all__ = ["EMITTER_NAMES", "Budget", "PoolSet", "PoolSpec", "load_pools", "parse_pools", "pool_list"]

_DEFAULT_TOLERATIONS = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
_OBJECT = {"type": "object", "additionalProperties": False}
_BV = BeforeValidator


@dataclass(frozen=True, config=_CONFIG)
class PoolSpec:
    """One GPU node pool: its size limits, timing, service target, price and how to emit its plan.

    Every field is checked when the object is made, from Python as from a file; ``capforecast schema pools``
    prints the fields with their meaning (the descriptions below). A duration is written with a unit
    (``'15m'``); a bare number is seconds from Python and an error in a file.

    Examples
    --------
    >>> pool = PoolSpec(name="a100-train", gpus_per_node=8, min_nodes=1, max_nodes=10, lead_time="15m")
    >>> pool.service_quantile, pool.lead_time
    (0.95, Timedelta('0 days 00:15:00'))
    >>> PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=2, lead_time="1m",
    ...          target_busy=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    capforecast.errors.ConfigError: pool 'a', key 'target_busy': 0 would need infinite capacity; ...
    """

    name: Annotated[str, _BV(checks.name), Field(
        description="The pool's name; equal to the unique_id of its demand series.")]
    gpus_per_node: Annotated[int, Field(ge=1), _BV(whole(1, 8)), Field(description="GPUs on one node of the pool.")]
    min_nodes: Annotated[int, Field(ge=0), _BV(whole(0, 1)), Field(
        description="The plan never goes below this many nodes.")]
    max_nodes: Annotated[int, Field(ge=1), _BV(whole(1, 12)), Field(
        description="The plan never goes above this many nodes (a forecast above it is flagged).")]
    lead_time: Annotated[Duration, Field(
        description="Time from asking for a node to it being schedulable, e.g. 15m; capacity is requested this "
                    "far ahead.")]
    target_busy: Annotated[float, Field(gt=0, le=0.5), _BV(share(0.0, 0.5, "0.05")), _BV(checks.target_busy), Field(
        description="Acceptable share of time with demand above capacity (0.05 = 5 %); the plan "
        "follows the forecast quantile 1 - target_busy unless quantile is given.")] = 0.05
    quantile: Annotated[Annotated[float, Field(gt=0, lt=1)] | None, _BV(checks.quantile), Field(
        description="Explicit service quantile (overrides target_busy), e.g. 0.95.")] = None
    headroom: Annotated[float, Field(ge=0, le=10), _BV(share(0.0, 10.0, "0.1")), Field(
        description="Extra fraction on top of the quantile forecast (0.1 = +10 %).")] = 0.0
    scale_in_cooldown: Annotated[Duration, Field(
        description="Capacity is only reduced once the forecast has stayed lower this long (no flapping).",
        json_schema_extra={"default": "1h"})
    ] = pd.Timedelta(hours=1)
    min_window: Annotated[Duration, Field(
        description="Clock windows of held nodes (from 00:00 UTC, e.g. 4h: 00-04, 04-08, ...): each step is "
                    "raised, never lowered, to the most nodes of its window, so nodes change only at window "
                    "boundaries; 0s follows every step. The default was chosen on Helios (docs/keda.md).",
        json_schema_extra={"default": "4h"})
    ] = pd.Timedelta(hours=4)
    price_per_node_hour: Annotated[float, Field(ge=0), _BV(share(0.0, 1e9, "32.77")), Field(
        description="Cost of one node for one hour, for the report's cost comparison.")] = 1.0
    priority: Annotated[int, _BV(checks.priority), Field(
        description="Tier under a shared budget: higher keeps its nodes, lower is cut first (as Kubernetes "
                    "PriorityClass values).")] = 0
    node_selector: Annotated[dict[str, str], _BV(checks.node_selector), Field(
        description="Node labels that select the pool's nodes (placed on the placeholder pods).")
    ] = dataclasses.field(default_factory=dict, hash=False)
    tolerations: Annotated[tuple[dict[str, Any], ...], _BV(checks.tolerations), Field(
        description="Pod tolerations for the pool's taints.", json_schema_extra={"doc_default": "tolerate "
                                                                                "`nvidia.com/gpu`"})
    ] = dataclasses.field(default=_DEFAULT_TOLERATIONS, hash=False)
    emitters: Annotated[tuple[str, ...], _BV(checks.emitters), Field(
        description="Which Kubernetes emitters render this pool: any of placeholder, capacity-buffer, keda, "
                    "hpa, karpenter (only one of placeholder, capacity-buffer and keda)."),
        WithJsonSchema({"type": "array", "items": {"enum": list(EMITTER_NAMES)}, "minItems": 1, "uniqueItems": True,
                        "default": ["placeholder"]})] = ("placeholder",)
    namespace: Annotated[str, Field(pattern=checks.DNS_LABEL), _BV(checks.namespace), Field(
        description="Namespace of the placeholder objects.")] = "capforecast"
    gpu_resource: Annotated[str, _BV(checks.gpu_resource), Field(
        description="Extended resource name of a GPU.")] = "nvidia.com/gpu"
    placeholder_gpus: Annotated[int, Field(ge=1), _BV(whole(1)), Field(
        description="GPUs requested by one placeholder pod (the reservation granularity).")] = 1
    hpa: Annotated[dict[str, Any], _BV(checks.mapping("{name: llm-server, gpus_per_replica: 1}")), Field(
        description="For the hpa emitter: name (the HorizontalPodAutoscaler), target (the Deployment it scales, "
                    "default name), namespace and gpus_per_replica (default 1)."),
        WithJsonSchema({**_OBJECT, "properties": {
            "name": {"type": "string"}, "target": {"type": "string"}, "namespace": {"type": "string"},
            "gpus_per_replica": {"type": "integer", "minimum": 1}}})] = dataclasses.field(
        default_factory=dict, hash=False)
    karpenter: Annotated[dict[str, Any], _BV(checks.mapping("{nodepool: gpu-a100, nodeclass: default}")), Field(
        description="For the karpenter emitter: nodepool (the NodePool name) and nodeclass (its EC2NodeClass, "
                    "default 'default')."),
        WithJsonSchema({**_OBJECT, "properties": {"nodepool": {"type": "string"}, "nodeclass": {"type": "string"}}})
    ] = dataclasses.field(default_factory=dict, hash=False)

    @model_validator(mode="after")
    def _across_fields(self) -> PoolSpec:
        checks.check_pool(self)
        return self

    @property
    def service_quantile(self) -> float:
        """The forecast quantile the plan follows: ``quantile`` if set, else ``1 - target_busy``."""
        q = self.quantile if self.quantile is not None else 1.0 - self.target_busy
        return round(float(q), 6)


def _config_errors(init: Any, explain: Any) -> Any:
    """``__init__`` that raises ``explain(exc, args, kwargs)``, one ConfigError naming the key and the fix as a file
    does, instead of pydantic's error: PoolSpec(...) and Budget(...) from Python."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except ValidationError as exc:
            raise explain(exc, args, kwargs) from None

    return __init__


def _pool_error(exc: ValidationError, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ConfigError:
    from capforecast.planning._pools_file import pool_error

    return pool_error(exc, kwargs.get("name", args[0] if args else None), ())


PoolSpec.__init__ = _config_errors(PoolSpec.__init__, _pool_error)  # type: ignore[method-assign]


@dataclass(frozen=True, config=_CONFIG)
class Budget:
    """A GPU cap shared by several pools; lower ``priority`` tiers are cut first when plans exceed it.

    Examples
    --------
    >>> Budget(gpus=64).pools is None
    True
    """

    gpus: Annotated[int, Field(ge=0), _BV(whole(0, 64)), Field(description="GPUs the pools may hold together.")]
    pools: Annotated[tuple[str, ...] | None, Field(
        min_length=1, description="The pools sharing the cap (default: every pool in the file).")] = None


def _budget_error(exc: ValidationError, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ConfigError:
    from capforecast._schema import field_names, first_problem, key_path

    problem = first_problem(exc, lambda parent: field_names(Budget))
    if problem.missing:
        return ConfigError(f"Budget: missing key(s) {', '.join(problem.missing)}; e.g. Budget(gpus=64)")
    return ConfigError(f"Budget, key {key_path(problem.loc)!r}: {problem.text}")


Budget.__init__ = _config_errors(Budget.__init__, _budget_error)  # type: ignore[method-assign]


def pool_list(pools: Any) -> list[PoolSpec]:
    """``pools`` as a list (a generator is read once); :class:`PlanningError` naming the fix if they are not
    :class:`PoolSpec` objects (a path, one PoolSpec, dicts)."""
    items = None if isinstance(pools, (str, bytes, PoolSpec)) or not isinstance(pools, Iterable) else list(pools)
    if items is None or not all(isinstance(p, PoolSpec) for p in items):
        raise PlanningError("pools must be a list of PoolSpec; read a pools file with load_pools(path) or "
                            "parse_pools(data)")
    return items


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


from capforecast.planning._pools_file import load_pools, parse_pools  # noqa: E402 - they read into PoolSpec
