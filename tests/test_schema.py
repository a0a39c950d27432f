"""``capforecast schema``: the JSON Schema of the pools file and the nightly config, and the docs' key table.

The schema comes from the same typed model that checks the files, so a standard validator (``jsonschema``)
accepts the bundled files and refuses what capforecast refuses (a typo'd key, a float where a whole number goes).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from capforecast.config import parse_config
from capforecast.errors import ConfigError
from capforecast.planning import parse_pools

ROOT = Path(__file__).resolve().parents[1]


def schema(kind: str) -> dict:
    """``capforecast schema KIND`` as the command line prints it."""
    done = subprocess.run([sys.executable, "-m", "capforecast.cli", "schema", kind], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    out = json.loads(done.stdout)
    assert out["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(out)
    return out


def errors(kind_schema: dict, data: object) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(kind_schema).iter_errors(data)]


@pytest.fixture(scope="module")
def pools_schema() -> dict:
    return schema("pools")


@pytest.fixture(scope="module")
def nightly_schema() -> dict:
    return schema("nightly")


@pytest.mark.parametrize("path", ["data/sample/pools.yaml", "examples/pools.yaml"])
def test_the_bundled_pools_files_validate_and_a_typo_is_rejected(pools_schema, path):
    data = yaml.safe_load((ROOT / path).read_text())
    assert errors(pools_schema, data) == []
    typo = copy.deepcopy(data)
    typo["pools"][0]["lead_tme"] = typo["pools"][0].pop("lead_time")
    found = errors(pools_schema, typo)
    assert any("'lead_tme' was unexpected" in e for e in found) and any("'lead_time' is a required" in e
                                                                      for e in found), found
    with pytest.raises(ConfigError, match="lead_tme"):  # the reader refuses the same file
        parse_pools(typo)


def test_the_pools_schema_describes_every_key_and_the_rules(pools_schema):
    pool = pools_schema["$defs"]["PoolSpec"]
    assert pool["additionalProperties"] is False
    assert all(prop.get("description") for prop in pool["properties"].values())
    assert pool["properties"]["lead_time"]["pattern"]  # a duration carries a unit
    base = {"name": "a", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 4, "lead_time": "15m"}
    assert errors(pools_schema, {"pools": [base], "budget": 64}) == []
    for bad in ({"lead_time": 900}, {"target_busy": 0.9}, {"emitters": ["terraform"]}, {"namespace": "Bad_NS"}):
        assert errors(pools_schema, {"pools": [{**base, **bad}]}), bad


def test_the_nightly_schema_validates_the_example_and_rejects_a_typo(nightly_schema):
    data = yaml.safe_load((ROOT / "deploy" / "nightly.example.yaml").read_text())
    assert errors(nightly_schema, data) == []
    typo = copy.deepcopy(data)
    typo["output"]["keep_run"] = typo["output"].pop("keep_runs")
    assert any("'keep_run' was unexpected" in e for e in errors(nightly_schema, typo))
    typo["pools"][0]["gpus_per_nod"] = 8
    assert any("'gpus_per_nod' was unexpected" in e for e in errors(nightly_schema, typo))


@pytest.mark.parametrize(("kind", "path", "key"), [
    ("pools", "data/sample/pools.yaml", ("pools", 0, "max_nodes")),
    ("nightly", "deploy/nightly.example.yaml", ("pools", 0, "max_nodes")),
    ("nightly", "deploy/nightly.example.yaml", ("output", "keep_runs")),
])
def test_one_integer_rule_in_both_files(kind, path, key):
    """3.0 is no whole number in either file (the pools file used to accept it, the config refused it)."""
    data = yaml.safe_load((ROOT / path).read_text())
    node = data
    for k in key[:-1]:
        node = node[k]
    node[key[-1]] = 3.0
    read = parse_pools if kind == "pools" else lambda d: parse_config(d, environ={})
    with pytest.raises(ConfigError, match=r"expected a whole number, got 3\.0; write e\.g\."):
        read(data)


@pytest.mark.parametrize(("doc", "kind", "row"), [
    ("nightly.md", "nightly", "| `output.keep_runs` | `14` |"),
    ("planning.md", "pools", "| `scale_in_cooldown` | `1h` |"),
])
def test_the_docs_key_tables_are_the_models(doc, kind, row):
    done = subprocess.run([sys.executable, "-m", "capforecast.cli", "schema", kind, "--table"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    text = (ROOT / "docs" / doc).read_text()
    start = text.index("| key | default | meaning |")
    documented = text[start: text.index("\n\n", start) + 1]
    assert documented == done.stdout, f"docs/{doc} is out of date: paste 'capforecast schema {kind} --table'"
    assert row in documented
