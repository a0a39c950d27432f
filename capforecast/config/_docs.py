"""The nightly config's JSON Schema and the key table of ``docs/nightly.md``, both made from :class:`NightlyFile`."""

from __future__ import annotations

from typing import Any

from capforecast._schema import TABLE_HEAD, json_schema, table_row
from capforecast.config._model import NightlyFile

__all__ = ["key_table", "nightly_schema"]


def nightly_schema() -> dict[str, Any]:
    """The JSON Schema of the nightly config file (``capforecast schema nightly``)."""
    schema = json_schema(NightlyFile, "capforecast nightly config", NightlyFile.__doc__ or "")
    budget = schema["properties"]["budget"]  # ``budget: 96`` is short for ``budget: {gpus: 96}``
    budget["anyOf"] = [*budget.get("anyOf", []), {"type": "integer", "minimum": 0}]
    return schema


def key_table() -> str:
    """The markdown table of every key: ``| key | default | meaning |`` (``capforecast schema nightly --table``)."""
    rows = list(TABLE_HEAD)
    for name, info in NightlyFile.model_fields.items():
        section = info.annotation
        fields = getattr(section, "model_fields", None) if isinstance(section, type) else None
        if name == "pools":
            rows.append(f"| `pools[]` | required | {info.description} |")
        elif fields is None or name == "budget":
            rows.append(table_row(name, info))
        else:
            rows.extend(table_row(f"{name}.{key}", sub) for key, sub in fields.items())
    return "\n".join(rows) + "\n"
