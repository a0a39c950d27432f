"""Bad input of any shape gives a capforecast error with a message, never another exception (hypothesis).

Generated bad frames (wrong dtypes, NaNs, duplicates, unsorted, mixed steps, empty, other time zones, strings),
files written from them, pools files and nightly configs with wrong types, missing or unknown keys and negative
numbers go to the public functions; each either works or raises a :class:`capforecast.errors.CapforecastError`
whose message is one non-empty line. Deterministic (derandomize) and fast (50 examples each).
"""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capforecast import frames
from capforecast.config import load_config, parse_config
from capforecast.errors import CapforecastError
from capforecast.ingest.files import read_series
from capforecast.planning import PoolSpec, load_pools, parse_pools, plan_capacity

CHECK = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def only_our_errors(call, *args, **kwargs):
    """Run ``call``: it may succeed, or raise a CapforecastError with a one-line message; anything else fails."""
    try:
        return call(*args, **kwargs)
    except CapforecastError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message, repr(message)
        return None


# ------------------------------------------------------------------------------------------------ frames

T0 = pd.Timestamp("2026-01-01", tz="UTC")
ids = st.one_of(st.sampled_from(["a", "b", "", "a100-train"]), st.integers(-3, 3), st.none(), st.just(float("nan")))
stamps = st.one_of(
    st.integers(-3, 30).map(lambda k: T0 + pd.Timedelta(hours=k)),                     # on an hourly grid
    st.integers(0, 100).map(lambda k: T0 + pd.Timedelta(minutes=7 * k)),               # off it: mixed steps
    st.integers(0, 5).map(lambda k: (T0 + pd.Timedelta(hours=k)).tz_convert("Europe/Berlin")),
    st.integers(0, 5).map(lambda k: (T0 + pd.Timedelta(hours=k)).tz_localize(None)),   # naive
    st.sampled_from(["2026-01-01T00:00:00Z", "yesterday", "", "2026-13-45"]),
    st.integers(-(2**40), 2**40), st.none(), st.just(pd.NaT),
)
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), st.none(),
                   st.sampled_from(["1.5", "lots", "", "1,5"]), st.booleans())


@st.composite
def bad_frames(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 8))
    data = {"unique_id": draw(st.lists(ids, min_size=n, max_size=n)),
            "ds": draw(st.lists(stamps, min_size=n, max_size=n)),
            "y": draw(st.lists(values, min_size=n, max_size=n))}
    if draw(st.booleans()):  # a column of one type, as pandas would make it
        data["ds"] = pd.to_datetime([T0 + pd.Timedelta(hours=draw(st.integers(0, 6))) for _ in range(n)], utc=True)
    if draw(st.booleans()):
        data["y"] = np.asarray(draw(st.lists(st.floats(allow_nan=True), min_size=n, max_size=n)), dtype=float)
    if draw(st.booleans()):
        data["extra"] = draw(st.lists(values, min_size=n, max_size=n))
    df = pd.DataFrame(data) if n else pd.DataFrame({k: pd.Series(dtype=object) for k in data})
    dropped = draw(st.sampled_from([None, "unique_id", "ds", "y"]))
    return df.drop(columns=dropped) if dropped else df


FAULTS = ["shuffle", "duplicate", "gap", "off_grid", "nan", "inf", "berlin", "naive", "int_ids", "str_y",
          "str_ds", "mixed_steps", "empty", "one_row", "bool_y", "huge_y", "extra_text"]


@st.composite
def near_valid_frames(draw) -> pd.DataFrame:
    """A valid two-series frame with one to three faults, so that every later check is reached too."""
    n = draw(st.integers(1, 30))
    ds = pd.date_range(T0, periods=n, freq=draw(st.sampled_from(["5min", "h", "D"])), tz="UTC")
    df = pd.concat([pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.arange(n, dtype=float)}) for uid in "ab"],
                   ignore_index=True)
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    for fault in draw(st.lists(st.sampled_from(FAULTS), min_size=1, max_size=3)):
        if not len(df):
            break
        try:
            df = _fault(df.copy(), fault, int(rng.integers(0, len(df))), rng)
        except (TypeError, ValueError, AttributeError):  # e.g. minutes added to text times: cannot be made
            continue
    return df


def _fault(df: pd.DataFrame, fault: str, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """Apply one named fault to ``df`` (row ``k`` where it touches one row)."""
    if fault == "shuffle":
        df = df.sample(frac=1, random_state=int(rng.integers(0, 99))).reset_index(drop=True)
    elif fault == "duplicate":
        df = pd.concat([df, df.iloc[[k]]], ignore_index=True).sort_values(["unique_id", "ds"],
                                                                           ignore_index=True)
    elif fault == "gap":
        df = df.drop(index=k).reset_index(drop=True)
    elif fault == "off_grid":
        df.loc[k, "ds"] = df.loc[k, "ds"] + pd.Timedelta(minutes=7)
    elif fault in ("nan", "inf", "huge_y"):
        df.loc[k, "y"] = {"nan": np.nan, "inf": -np.inf, "huge_y": 1e308}[fault]
    elif fault == "berlin":
        df["ds"] = df["ds"].dt.tz_convert("Europe/Berlin")
    elif fault == "naive":
        df["ds"] = df["ds"].dt.tz_localize(None)
    elif fault == "int_ids":
        df["unique_id"] = df["unique_id"].map({"a": 1, "b": 2}).fillna(3)
    elif fault == "str_y":
        df["y"] = df["y"].astype(str)
    elif fault == "str_ds":
        df["ds"] = df["ds"].astype(str)
    elif fault == "mixed_steps":
        df = pd.concat([df[df["unique_id"] == "a"], df[df["unique_id"] != "a"].iloc[::2]], ignore_index=True)
    elif fault == "empty":
        df = df.iloc[:0]
    elif fault == "one_row":
        df = df.iloc[:1]
    elif fault == "bool_y":
        df["y"] = df["y"] > 3
    elif fault == "extra_text":
        df["note"] = "x"
    return df


@CHECK
@given(st.one_of(bad_frames(), near_valid_frames()))
def test_frame_functions_raise_only_capforecast_errors(df):
    only_our_errors(frames.validate, df)
    only_our_errors(frames.regularize, df)
    only_our_errors(frames.regularize, df, "1h", gaps="raise")
    if only_our_errors(frames.validate, df) is not None and len(df):
        only_our_errors(frames.infer_step, df)
        only_our_errors(frames.find_gaps, df)


@CHECK
@given(st.one_of(bad_frames(), near_valid_frames()), st.sampled_from(["csv", "csv.gz", "parquet"]),
       st.sampled_from(["long", "wide", "auto"]), st.integers(0, 2**32 - 1))
def test_read_series_on_written_files_raises_only_capforecast_errors(df, suffix, layout, seed):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f.{suffix}"
        if suffix == "parquet":
            try:
                df.to_parquet(path)
            except Exception:  # noqa: BLE001 - pyarrow cannot store mixed objects (test setup, not our code)
                df.astype(str).to_parquet(path)
        else:
            df.to_csv(path, index=False)
        only_our_errors(read_series, path, layout=layout, time_col="ds")
        raw = path.read_bytes()
        cut = np.random.default_rng(seed).integers(0, max(len(raw), 1))
        path.write_bytes(raw[:cut])  # truncated, e.g. a copy that stopped half-way
        only_our_errors(read_series, path, layout=layout)


# ------------------------------------------------------------------------------------------------ pools

POOL_KEYS = ["name", "gpus_per_node", "min_nodes", "max_nodes", "lead_time", "target_busy", "quantile",
             "headroom", "scale_in_cooldown", "price_per_node_hour", "priority", "node_selector", "tolerations",
             "emitters", "namespace", "gpu_resource", "placeholder_gpus", "hpa", "karpenter", "surprise"]
scalars = st.one_of(st.integers(-5, 50), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
                    st.sampled_from(["15m", "15", "-5m", "x", "", "a100", "placeholder", "nvidia.com/gpu"]))
yaml_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.sampled_from(["a", "gpus", "name"]),
                                                                            inner, max_size=3)), max_leaves=6)
GOOD_POOL = {"name": "a100", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10, "lead_time": "15m"}
emitter_settings = st.dictionaries(st.sampled_from(["name", "target", "namespace", "gpus_per_replica", "nodepool",
                                                    "nodeclass", "other"]),
                                   st.one_of(st.sampled_from(["llm", "Bad Name", "gpu-a100"]), scalars), max_size=4)
KEY_VALUES = {  # values of the right shape for a key, so that the checks after the type checks run too
    "emitters": st.lists(st.sampled_from(["placeholder", "hpa", "karpenter", "capacity-buffer", "x"]), max_size=3),
    "hpa": emitter_settings, "karpenter": emitter_settings,
    "node_selector": st.dictionaries(st.sampled_from(["pool", "a/b", "bad key!", ""]), scalars, max_size=2),
    "tolerations": st.lists(st.dictionaries(st.sampled_from(["key", "operator", "effect"]), scalars), max_size=2),
}


@st.composite
def pool_files(draw) -> object:
    pools = []
    for _ in range(draw(st.integers(0, 3))):
        pool = dict(GOOD_POOL) if draw(st.booleans()) else {}
        for key in draw(st.lists(st.sampled_from(POOL_KEYS), max_size=4)):
            pool[key] = draw(st.one_of(yaml_values, KEY_VALUES.get(key, yaml_values)))
        for key in draw(st.lists(st.sampled_from(POOL_KEYS), max_size=2)):
            pool.pop(key, None)
        pools.append(pool if draw(st.integers(0, 9)) else draw(yaml_values))
    data: dict = {"pools": pools}
    if draw(st.booleans()):
        data["budget"] = draw(yaml_values)
    if draw(st.integers(0, 5)) == 0:
        data["extra"] = 1
    return data if draw(st.integers(0, 9)) else draw(yaml_values)


@CHECK
@given(pool_files())
def test_pools_files_raise_only_capforecast_errors(data):
    only_our_errors(parse_pools, data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pools.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        only_our_errors(load_pools, path)


@CHECK
@given(st.binary(max_size=200))
def test_any_bytes_as_a_pools_or_config_file_raise_only_capforecast_errors(raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.yaml"
        path.write_bytes(raw)
        only_our_errors(load_pools, path)
        only_our_errors(load_config, path)


# ------------------------------------------------------------------------------------------------ config

BASE = {
    "prometheus": {"url": "http://prom:9090", "token": {"env": "PROM_TOKEN"}},
    "series": {"step": "1h", "history": "30d", "query": "sum by (pool) (gpu_demand)"},
    "pools": [dict(GOOD_POOL)],
    "models": {"candidates": ["seasonal_naive"]},
    "backtest": {"windows": 3, "horizon": "24h", "step": "24h"},
    "forecast": {"horizon": "24h", "quantiles": [0.5, 0.9]},
    "output": {"dir": "state"},
}
CONFIG_PATHS = ["prometheus", "prometheus.url", "prometheus.token", "prometheus.timeout", "prometheus.retries",
                "prometheus.workers", "prometheus.verify_tls", "prometheus.headers", "prometheus.basic_auth",
                "series", "series.step", "series.history", "series.query", "series.preset", "series.id_labels",
                "pools", "pools.0", "pools.0.lead_time", "pools.0.min_nodes", "budget", "models",
                "models.candidates", "models.params", "models.fallback", "models.min_improvement", "backtest",
                "backtest.windows", "backtest.metric", "forecast.horizon", "forecast.quantiles", "output",
                "output.dir", "output.keep_runs", "surprise"]


@st.composite
def configs(draw) -> object:
    data = copy.deepcopy(BASE)
    for path in draw(st.lists(st.sampled_from(CONFIG_PATHS), min_size=1, max_size=3)):
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) and key.isdigit() and int(key) < len(node) else (
                node.get(key) if isinstance(node, dict) else None)
        if isinstance(node, list) and last.isdigit() and int(last) < len(node):
            node[int(last)] = draw(yaml_values)
        elif isinstance(node, dict) and draw(st.integers(0, 3)) == 0:
            node.pop(last, None)
        elif isinstance(node, dict):
            node[last] = draw(yaml_values)
    return data


@CHECK
@given(configs())
def test_nightly_configs_raise_only_capforecast_errors(data):
    cfg = only_our_errors(parse_config, data, environ={})
    if cfg is not None:
        only_our_errors(cfg.quantiles)
        only_our_errors(cfg.check_references)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nightly.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        only_our_errors(load_config, path, environ={})


# ------------------------------------------------------------------------------------------------ planning


@st.composite
def bad_forecasts(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    ds = [T0 + pd.Timedelta(hours=draw(st.integers(0, 4))) for _ in range(n)]
    df = pd.DataFrame({
        "unique_id": draw(st.lists(st.sampled_from(["a100", "other", ""]), min_size=n, max_size=n)),
        "ds": pd.to_datetime(ds, utc=True) if draw(st.booleans()) else draw(st.lists(stamps, min_size=n,
                                                                                      max_size=n)),
        "model": "m",
        "yhat": draw(st.lists(st.one_of(st.floats(-1e3, 1e6), values), min_size=n, max_size=n)),
        "p95": draw(st.lists(st.one_of(st.floats(-1e3, 1e6), values), min_size=n, max_size=n)),
    })
    dropped = draw(st.sampled_from([None, "unique_id", "ds", "model", "yhat", "p95"]))
    return df.drop(columns=dropped) if dropped else df


@CHECK
@given(bad_forecasts(), st.sampled_from([None, "2026-01-01T02:00:00Z", "later", 1e30]),
       st.dictionaries(st.sampled_from(["a100", "x"]), st.integers(-2, 20), max_size=2))
def test_plan_capacity_raises_only_capforecast_errors(forecast, now, state):
    pool = PoolSpec(**{**GOOD_POOL, "lead_time": "1h"})
    only_our_errors(plan_capacity, forecast, [pool], now=now, state=state)


def test_the_helper_rejects_other_exceptions():
    with pytest.raises(ZeroDivisionError):
        only_our_errors(lambda: 1 / 0)
    assert math.isnan(only_our_errors(lambda: float("nan")))
