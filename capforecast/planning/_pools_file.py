"""Reading a pools file (``pools:`` and an optional ``budget:``) into a :class:`~capforecast.planning.pools.PoolSet`.

The file is validated by one typed model, :class:`PoolsFile` (its JSON Schema is ``capforecast schema pools``);
the first problem becomes one :class:`~capforecast.errors.ConfigError` line naming the pool, the key and the fix.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from capforecast._schema import (
    TABLE_HEAD,
    field_names,
    first_problem,
    json_schema,
    key_path,
    required_fields,
    table_row,
)
from capforecast.errors import ConfigError
from capforecast.planning.pools import Budget, PoolSet, PoolSpec

__all__ = ["PoolsFile", "check_budget", "key_table", "load_pools", "parse_pools", "pool_error", "pools_schema"]

_EXAMPLE = "see examples/pools.yaml"


def _budget(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"gpus": value}  # ``budget: 96`` is short for ``budget: {gpus: 96}``
    return value


class PoolsFile(BaseModel):
    """A pools file: the node pools to plan and an optional GPU cap they share."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    pools: Annotated[list[PoolSpec], Field(min_length=1, description="The node pools, one entry per demand series.")]
    budget: Annotated[Budget | None, BeforeValidator(_budget), Field(
        description="Optional GPU cap shared by the pools ({gpus: N, pools: [...]} or a number); lower priority "
                    "tiers are cut first.")] = None


def pools_schema() -> dict[str, Any]:
    """The JSON Schema of a pools file (``capforecast schema pools``)."""
    schema = json_schema(PoolsFile, "capforecast pools file", PoolsFile.__doc__ or "")
    budget = schema["properties"]["budget"]  # a bare number is allowed too
    budget["anyOf"] = [*budget.get("anyOf", []), {"type": "integer", "minimum": 0}]
    return schema


def key_table() -> str:
    """The markdown table of a pool's keys (``capforecast schema pools --table``; docs/planning.md)."""
    fields = PoolSpec.__pydantic_fields__  # type: ignore[attr-defined]
    return "\n".join([*TABLE_HEAD, *(table_row(name, info) for name, info in fields.items())]) + "\n"


def pool_error(exc: ValidationError, name: Any, loc_prefix: tuple[Any, ...]) -> ConfigError:
    """One line for a PoolSpec's first problem: ``pool 'NAME', key 'KEY': problem; fix``."""
    problem = first_problem(exc, lambda parent: field_names(PoolSpec))
    label = str(name) if name is not None else "?"
    rest = problem.loc[len(loc_prefix):]
    if problem.missing:
        required = required_fields(PoolSpec)
        return ConfigError(f"pool {label!r}: missing key(s) {', '.join(problem.missing)}; every pool needs "
                           f"{', '.join(required)} (and target_busy or quantile)")
    if rest and problem.text.startswith("unknown key"):
        close = difflib.get_close_matches(str(rest[0]), field_names(PoolSpec), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return ConfigError(f"pool {label!r}: unknown key(s) {rest[0]}; {hint}valid keys are "
                           f"{', '.join(sorted(field_names(PoolSpec)))}")
    if not rest:
        return ConfigError(f"pool {label!r}: {problem.text}")
    return ConfigError(f"pool {label!r}, key {key_path(rest)!r}: {problem.text}")


def _file_error(exc: ValidationError, data: Mapping[str, Any]) -> ConfigError:
    problem = first_problem(exc, lambda parent: field_names(PoolsFile))
    loc = problem.loc
    if problem.missing and len(loc) == 1:
        return ConfigError(f"pools file: expected a mapping with a list under 'pools:'; {_EXAMPLE}")
    if loc[:1] == ("pools",) and len(loc) >= 2:
        entry = data["pools"][loc[1]]
        if len(loc) == 2 and not isinstance(entry, Mapping):
            return ConfigError(f"pools file: entry {loc[1] + 1} is {entry!r}, not a mapping; write '- name: ...' "
                               "with keys")
        return pool_error(exc, entry.get("name", f"#{loc[1] + 1}"), loc[:2])
    if loc[:1] == ("pools",):
        return ConfigError(f"pools file: 'pools:' must be a non-empty list of pools; {_EXAMPLE}")
    if loc[:1] == ("budget",):
        return ConfigError(f"pools file, key {key_path(loc)!r}: {problem.text}; write {{gpus: N, pools: [...]}} "
                           "or a number")
    if problem.text.startswith("unknown key"):
        return ConfigError(f"pools file: unknown top-level key(s) {list(loc)}; only 'pools' and 'budget' exist")
    return ConfigError(f"pools file: {problem.text}; {_EXAMPLE}")


def check_budget(budget: Budget | None, pools: Sequence[PoolSpec]) -> None:
    """The budget's members are pools of the file, and it holds their ``min_nodes``."""
    if budget is None:
        return
    names = [p.name for p in pools]
    if budget.pools is not None:
        missing = [m for m in budget.pools if m not in names]
        if missing:
            raise ConfigError(f"pools file, key 'budget.pools': {missing} are not pools in this file; "
                              f"use names from {names}")
    floor = sum(p.min_nodes * p.gpus_per_node for p in pools if budget.pools is None or p.name in budget.pools)
    if floor > budget.gpus:
        raise ConfigError(f"pools file, key 'budget.gpus': {budget.gpus} GPUs cannot hold the pools' min_nodes "
                          f"({floor} GPUs); raise the budget or lower min_nodes")


def parse_pools(data: Mapping[str, Any]) -> PoolSet:
    """Build the pools (and optional budget) from the parsed YAML mapping.

    Examples
    --------
    >>> pools = parse_pools({"pools": [{"name": "h100-infer", "gpus_per_node": 8, "min_nodes": 1,
    ...                                 "max_nodes": 6, "lead_time": "10m", "target_busy": 0.01}]})
    >>> pools[0].service_quantile
    0.99
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"pools file: expected a mapping with a list under 'pools:'; {_EXAMPLE}")
    try:
        parsed = PoolsFile.model_validate(data, context={"file": True})
    except ValidationError as exc:
        raise _file_error(exc, data) from None
    names = [p.name for p in parsed.pools]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise ConfigError(f"pools file: pool name(s) {dups} appear more than once; give each pool one entry")
    check_budget(parsed.budget, parsed.pools)
    return PoolSet(parsed.pools, parsed.budget)


def load_pools(path: str | os.PathLike[str]) -> PoolSet:
    """Read a pools YAML file (see :func:`parse_pools`); errors name the file, the pool and the key."""
    from capforecast._yaml_file import read_yaml_file

    p = Path(path)
    data = read_yaml_file(p, "pools file", "--pools examples/pools.yaml")
    try:
        return parse_pools(data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
