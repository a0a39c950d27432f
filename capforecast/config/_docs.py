"""The nightly config's JSON Schema and the key table of ``docs/nightly.md``, both made from :class:`NightlyFile`."""

from __future__ import annotations

import json
from typing import Any

from capforecast._schema import json_schema
from capforecast.config._model import NightlyFile

__all__ = ["key_table", "nightly_schema"]


def nightly_schema() -> dict[str, Any]:
    """The JSON Schema of the nightly config file (``capforecast schema nightly``)."""
    schema = json_schema(NightlyFile, "capforecast nightly config", NightlyFile.__doc__ or "")
    budget = schema["properties"]["budget"]  # ``budget: 96`` is short for ``budget: {gpus: 96}``
    budget["anyOf"] = [*budget.get("anyOf", []), {"type": "integer", "minimum": 0}]
    return schema


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
    if isinstance(value, list):
        return f"`[{', '.join(str(v) for v in value)}]`"
    if isinstance(value, dict):
        return f"`{json.dumps(value)}`"
    if isinstance(value, (str, int, float)):
        return f"`{value}`"
    return "a section"


def key_table() -> str:
    """The markdown table of every key: ``| key | default | meaning |`` (``capforecast schema nightly --table``)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for name, info in NightlyFile.model_fields.items():
        section = info.annotation
        fields = getattr(section, "model_fields", None) if isinstance(section, type) else None
        if name == "pools":
            rows.append(f"| `pools[]` | required | {info.description} |")
        elif fields is None or name == "budget":
            rows.append(f"| `{name}` | {_default(info)} | {info.description} |")
        else:
            for key, sub in fields.items():
                rows.append(f"| `{name}.{key}` | {_default(sub)} | {sub.description} |")
    return "\n".join(rows) + "\n"
