"""The pools file: PoolSpec fields, defaults, the budget, and an error naming pool + key + fix for bad values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from capforecast.errors import ConfigError
from capforecast.planning import Budget, PoolSpec, load_pools, parse_pools

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pools.yaml"


def pool(**over):
    base = {"name": "a100-train", "gpus_per_node": 8, "min_nodes": 1, "max_nodes": 10, "lead_time": "15m"}
    return {**base, **over}


def test_example_file_loads_with_every_documented_key():
    pools = load_pools(EXAMPLE)
    assert len(pools) >= 3
    assert isinstance(pools.budget, Budget) and pools.budget.gpus > 0
    by = {p.name: p for p in pools}
    train = by["a100-train"]
    assert train.lead_time == pd.Timedelta(minutes=15)
    assert train.service_quantile == pytest.approx(0.95)
    assert train.node_selector  # the placeholder pods land on the pool's nodes
    emitters = {e for p in pools for e in p.emitters}
    assert emitters == {"placeholder", "hpa", "karpenter", "capacity-buffer"}


def test_defaults_and_explicit_quantile_overrides_target_busy():
    p = parse_pools({"pools": [pool(target_busy=0.01, quantile=0.9)]})[0]
    assert p.service_quantile == 0.9
    q = parse_pools({"pools": [pool(target_busy=0.01)]})[0]
    assert q.service_quantile == 0.99
    assert q.headroom == 0 and q.scale_in_cooldown == pd.Timedelta(hours=1) and q.emitters == ("placeholder",)
    assert hash(q) == hash(parse_pools({"pools": [pool(target_busy=0.01)]})[0])  # frozen, hashable, equal


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("gpus_per_node", 0, "at least 1"),
        ("gpus_per_node", "eight", "whole number"),
        ("min_nodes", 20, "above max_nodes"),
        ("max_nodes", 2.5, "whole number"),
        ("lead_time", "ten minutes", "duration"),
        ("scale_in_cooldown", "-5m", "duration"),
        ("target_busy", 0.0, "infinite"),
        ("target_busy", 5, "outside"),
        ("quantile", 1.0, "between 0 and 1"),
        ("headroom", -0.1, "outside"),
        ("price_per_node_hour", "cheap", "number"),
        ("priority", "high", "tier"),
        ("node_selector", {"bad key!": "x"}, "label key"),
        ("node_selector", {"pool": "has space"}, "rejects"),
        ("emitters", ["placeholder", "terraform"], "unknown emitter"),
        ("emitters", ["placeholder", "capacity-buffer"], "twice"),
        ("namespace", "Bad_NS", "namespace"),
        ("placeholder_gpus", 16, "do not fit"),
        ("emitters", ["hpa"], "hpa.name"),
        ("emitters", ["karpenter"], "karpenter.nodepool"),
    ],
)
def test_bad_value_names_pool_key_and_fix(key, value, words):
    with pytest.raises(ConfigError) as err:
        parse_pools({"pools": [pool(**{key: value})]})
    msg = str(err.value)
    assert "'a100-train'" in msg and words in msg
    assert key.split(".")[0] in msg or "hpa" in msg or "karpenter" in msg
    assert ";" in msg  # problem; fix


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({}, "'pools:'"),
        ({"pools": []}, "non-empty list"),
        ({"pools": [pool()], "extra": 1}, "unknown top-level"),
        ({"pools": [{"name": "x", "gpus_per_node": 8}]}, "missing key(s) min_nodes, max_nodes, lead_time"),
        ({"pools": [pool(colour="red")]}, "unknown key(s) colour"),
        ({"pools": [pool(), pool()]}, "more than once"),
        ({"pools": ["a100"]}, "not a mapping"),
        ({"pools": [pool(min_nodes=4)], "budget": {"gpus": 16}}, "cannot hold the pools' min_nodes"),
        ({"pools": [pool()], "budget": {"gpus": 64, "pools": ["nope"]}}, "not pools in this file"),
        ({"pools": [pool()], "budget": "lots"}, "budget"),
    ],
)
def test_bad_file_structure(data, words):
    with pytest.raises(ConfigError, match=None) as err:
        parse_pools(data)
    assert words in str(err.value)


def test_budget_forms():
    assert parse_pools({"pools": [pool()], "budget": 64}).budget == Budget(gpus=64)
    b = parse_pools({"pools": [pool()], "budget": {"gpus": 64, "pools": ["a100-train"]}}).budget
    assert b == Budget(gpus=64, pools=("a100-train",))


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_pools(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pools:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_pools(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "pools:\n  - name: x\n    gpus_per_node: 8\n    min_nodes: 0\n    max_nodes: 0\n    lead_time: 1h\n"
    )
    with pytest.raises(ConfigError, match=r"wrong.yaml: pool 'x', key 'max_nodes'"):
        load_pools(wrong)


@pytest.mark.parametrize("key", ["lead_time", "scale_in_cooldown"])
def test_a_duration_without_unit_in_the_pools_file_is_an_error(tmp_path, key):
    path = tmp_path / "pools.yaml"
    path.write_text("pools:\n  - {name: x, gpus_per_node: 8, min_nodes: 0, max_nodes: 2, lead_time: 15m, "
                    f"{key}: 15}}\n")
    with pytest.raises(ConfigError, match=rf"pool 'x', key '{key}': 15 has no unit; .*15m, 1h, 90s, 1h30m"):
        load_pools(path)
    # from Python a number stays seconds (an API callers use), and pandas' spellings work
    spec = PoolSpec(name="x", gpus_per_node=8, min_nodes=0, max_nodes=2, lead_time=900, scale_in_cooldown="15min")
    assert spec.lead_time == spec.scale_in_cooldown == pd.Timedelta("15m")


def test_poolspec_direct_construction_is_checked():
    with pytest.raises(ConfigError, match="lead_time"):
        PoolSpec(name="p", gpus_per_node=8, min_nodes=0, max_nodes=2, lead_time="soon")


@pytest.mark.parametrize(("key", "value"), [
    ("hpa", [0]), ("karpenter", "gpu-a100"), ("hpa", {"name": "x", "target": 5}),
    ("karpenter", {"nodepool": "p", "nodeclass": ["x"]}),
])
def test_emitter_settings_of_the_wrong_shape_are_config_errors(key, value):
    emitters = {"hpa": ["hpa"], "karpenter": ["karpenter"]}[key]
    with pytest.raises(ConfigError, match=f"pool 'a100-train', key '{key}"):  # was a TypeError for a list
        parse_pools({"pools": [pool(**{key: value, "emitters": emitters})]})
