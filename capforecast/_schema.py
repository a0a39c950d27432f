"""Building blocks of capforecast's typed configuration (pydantic v2), shared by the pools file and the nightly config.

One rule per kind of value, whichever file it is in: a whole number is an ``int`` (``3.0``, ``true`` and ``"3"``
are refused), a share is a real number (not ``true``), a duration in a file carries a unit (``15m``; from Python
a bare number is seconds), text is non-empty. Each check raises :class:`Invalid` with ``problem; fix``; the file
readers turn pydantic's :class:`~pydantic.ValidationError` into one :class:`~capforecast.errors.ConfigError`
line with :func:`first_problem`, prefixed by the key path in their own words.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import pandas as pd
from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo, WithJsonSchema

from capforecast._units import parse_duration
from capforecast.errors import ConfigError

__all__ = [
    "TABLE_HEAD",
    "table_row",
    "field_names",
    "required_fields",
    "DURATION_PATTERN",
    "Duration",
    "Invalid",
    "PositiveDuration",
    "Problem",
    "Text",
    "first_problem",
    "json_schema",
    "key_path",
    "share",
    "whole",
]

#: The file form of a duration (what :func:`capforecast._units.parse_duration` reads with a unit).
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$"


class Invalid(ValueError):
    """A bad value: ``problem; fix``. ``key`` (relative to where the check runs) points below that place."""

    def __init__(self, message: str, *, key: str | None = None, where: str | None = None) -> None:
        super().__init__(message)
        self.key, self.where = key, where


def _in_file(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get("file"))


def _duration(value: Any, info: ValidationInfo, *, positive: bool) -> pd.Timedelta:
    try:  # in a file ``15`` is no duration (15m? 15s?); from Python it is seconds
        td = parse_duration(value, name="-", allow_numbers=not _in_file(info))
    except ConfigError as exc:
        raise Invalid(str(exc).removeprefix("-: ")) from None
    if positive and td <= pd.Timedelta(0):
        raise Invalid(f"must be longer than zero, got {value!r}; write e.g. '1h'")
    return td


_DURATION_SCHEMA = {"type": "string", "pattern": DURATION_PATTERN, "examples": ["15m", "1h30m"]}
#: A duration >= 0 (``15m``, ``1h30m``), read into a :class:`pandas.Timedelta`.
Duration = Annotated[
    pd.Timedelta, BeforeValidator(lambda v, info: _duration(v, info, positive=False)), WithJsonSchema(_DURATION_SCHEMA)
]
#: A duration > 0.
PositiveDuration = Annotated[
    pd.Timedelta, BeforeValidator(lambda v, info: _duration(v, info, positive=True)), WithJsonSchema(_DURATION_SCHEMA)
]


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {value!r}; write the value as text")
    return value.strip()


#: Non-empty text, stripped.
Text = Annotated[str, BeforeValidator(_text), Field(min_length=1)]


def whole(minimum: int, example: int | None = None) -> Callable[[Any], int]:
    """The check of an ``int`` >= ``minimum`` (``3.0`` and ``true`` are refused: YAML has integers)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise Invalid(f"expected a whole number, got {value!r}; write e.g. {max(minimum, example or 1)}")
        if value < minimum:
            raise Invalid(f"must be at least {minimum}, got {value!r}; write a whole number >= {minimum}")
        return int(value)

    return check


def share(low: float, high: float, example: str, *, high_open: bool = False) -> Callable[[Any], float]:
    """The check of a real number in ``[low, high]`` (``[low, high)`` when ``high_open``); ``true``, NaN refused."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(float(value)):
            raise Invalid(f"expected a number, got {value!r}; write e.g. {example}")
        number = float(value)
        if not low <= number <= high or (high_open and number == high):
            span = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
            raise Invalid(f"{value!r} is outside {span}; write e.g. {example}")
        return number

    return check


def field_names(cls: Any) -> list[str]:
    """The keys of a pydantic model or pydantic dataclass, in order."""
    return list(getattr(cls, "__pydantic_fields__", None) or cls.model_fields)


def required_fields(cls: type) -> list[str]:
    """The fields of a (pydantic) dataclass without a default, in order."""
    import dataclasses

    return [f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def key_path(loc: tuple[Any, ...]) -> str:
    """``('pools', 1, 'name')`` -> ``pools[1].name``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Problem(NamedTuple):
    """One bad value: where (``('pools', 0, 'lead_time')``), ``problem; fix``, and the keys missing there."""

    loc: tuple[Any, ...]
    text: str
    missing: tuple[str, ...] = ()
    where: str | None = None  # replaces the key path (e.g. "environment variable X")


def first_problem(exc: ValidationError, allowed: Callable[[tuple[Any, ...]], list[str]]) -> Problem:
    """The first error of ``exc``; the location includes an :class:`Invalid`'s key.

    ``allowed(parent_location)`` lists the keys valid where an unknown key was found (for the fix). The missing
    keys of one mapping are reported together.
    """
    errors = exc.errors(include_url=False)
    unknown = ("extra_forbidden", "unexpected_keyword_argument")
    err = next((e for e in errors if e["type"] in unknown), errors[0])  # a typo'd key, before the key it misses
    loc = tuple(err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):
        if cause.key:
            parts = cause.key.replace("[", ".").replace("]", "").split(".")
            loc = loc + tuple(int(p) if p.isdigit() else p for p in parts if p)
        return Problem(loc, str(cause), where=cause.where)
    if isinstance(cause, Exception):
        return Problem(loc, str(cause))
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        parent = loc[:-1]
        names = tuple(str(e["loc"][-1]) for e in errors if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent)
        return Problem(loc, "is required; add it", names)
    if kind in unknown:
        valid = allowed(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return Problem(loc, f"unknown key; {hint}remove it or use one of {valid}")
    if kind in ("model_type", "dict_type", "dataclass_type", "dataclass_args_type", "model_attributes_type"):
        return Problem(loc, f"expected a mapping of keys, got {type(value).__name__}")
    if kind in ("list_type", "tuple_type", "too_short"):
        return Problem(loc, f"expected a non-empty list, got {value!r}")
    if kind in ("bool_type", "bool_parsing"):
        return Problem(loc, f"expected true or false, got {value!r}")
    return Problem(loc, f"{err['msg'][0].lower()}{err['msg'][1:]}, got {value!r}")


def json_schema(model: Any, title: str, description: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a pydantic model or type, as editors read it."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(model).json_schema(mode="validation")
    for definition in schema.get("$defs", {}).values():  # a class's summary, not its docstring's examples
        if "description" in definition:
            definition["description"] = " ".join(definition["description"].split("\n\n")[0].split())
    _drop(schema, "doc_default")  # the docs' wording of a default, not a JSON Schema keyword
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, "description": description,
            **{k: v for k, v in schema.items() if k not in ("title", "description")}}


def _drop(node: Any, key: str) -> None:
    if isinstance(node, dict):
        node.pop(key, None)
        for value in node.values():
            _drop(value, key)
    elif isinstance(node, list):
        for value in node:
            _drop(value, key)


#: The head of a docs key table.
TABLE_HEAD = ("| key | default | meaning |", "|---|---|---|")


def _default(info: Any) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "doc_default" in extra:
        return str(extra["doc_default"])
    if info.is_required():
        return "required"
    value = extra.get("default", info.get_default(call_default_factory=True))
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, tuple)):
        return f"`[{', '.join(str(v) for v in value)}]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def table_row(key: str, info: Any) -> str:
    """One row of a docs key table for a pydantic field: its key, default and description."""
    return f"| `{key}` | {_default(info)} | {info.description} |"
