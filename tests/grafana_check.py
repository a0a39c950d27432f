"""Test helpers: every PromQL expression of a Grafana dashboard, and the metric names an expression reads.

The names are found by a small tokenizer, not a full PromQL parser: strings, label matchers, ranges, Grafana
variables and the label lists of ``by``/``on``/``group_left``... are removed, then every identifier that is not
a keyword or aggregation and not followed by ``(`` (a function or aggregation) is a metric name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan",
             # aggregations, which may be followed by 'by (...)' rather than '('
             "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
             "count_values", "limitk", "limit_ratio"}
_LABEL_LISTS = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"


def _panels(panels: list[dict]) -> Iterator[dict]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))  # a collapsed row holds its panels


def expressions(dashboard: str | Path | dict) -> list[tuple[str, str]]:
    """``(where, expr)`` for every panel target and every query variable (``label_values(m, l)`` as ``m``)."""
    doc = dashboard if isinstance(dashboard, dict) else json.loads(Path(dashboard).read_text(encoding="utf-8"))
    out = [(p.get("title", ""), t["expr"]) for p in _panels(doc.get("panels", [])) for t in p.get("targets", [])]
    for var in doc.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"\s*label_values\((.+),\s*\w+\s*\)\s*", query)
            out.append((f"variable {var['name']}", m.group(1) if m else query))
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects, e.g. ``{'x_total', 'y'}`` for
    ``sum by (pool) (rate(x_total{a="b"}[5m])) and on (pool) y offset 1h``."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)
    s = re.sub(_LABEL_LISTS, r" \1 ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        before = s[m.start() - 1] if m.start() else " "
        if before.isdigit() or before == ".":  # 1e3, 5m, 1.5h
            continue
        if m.group().lower() in _KEYWORDS or s[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group())
    return names
