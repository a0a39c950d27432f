"""Metric presets: the PromQL they render, and that it runs on a real Prometheus with the expected answers."""

from __future__ import annotations

import pandas as pd
import pytest

from capforecast.errors import ConfigError
from capforecast.ingest.prometheus import fetch
from capforecast.ingest.queries import PRESETS, get_preset, render, selector_text

from .conftest import START


def at(frame: pd.DataFrame, uid: str, hour: int) -> float | None:
    rows = frame[(frame["unique_id"] == uid) & (frame["ds"] == pd.Timestamp(START + hour * 3600, unit="s", tz="UTC"))]
    return None if rows.empty else float(rows["y"].iloc[0])


def test_presets_render_with_selectors_and_aggregation() -> None:
    assert render("gpu_util", selector={"cluster": "prod"}) == (
        'avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{cluster="prod"})')
    assert render("gpu_active", by=[], agg="max") == "max(DCGM_FI_PROF_GR_ENGINE_ACTIVE)"
    assert render("pending_pods", selector='{namespace=~"ml-.*"}') == (
        'sum by (namespace) (kube_pod_status_phase{phase="Pending", namespace=~"ml-.*"})')
    assert render("vllm_waiting") == "sum by (model_name) (vllm:num_requests_waiting)"
    assert selector_text({"a": 'x"y'}) == 'a="x\\"y"'
    assert set(PRESETS) == {"gpu_util", "gpu_active", "gpus_requested", "pending_pods", "kueue_pending",
                            "vllm_waiting"}


def test_bad_preset_input_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="unknown metric preset 'gpu'; use one of"):
        get_preset("gpu")
    with pytest.raises(ConfigError, match="aggregation 'mean'"):
        render("gpu_util", agg="mean")
    with pytest.raises(ConfigError, match="not a label name"):
        render("gpu_util", by=["host name"])
    with pytest.raises(ConfigError, match="unknown parameter 'node_label'"):
        render("gpu_util", node_label="x")


def test_gpus_requested_counts_only_running_pods_per_pool(prom) -> None:
    query = render("gpus_requested", selector={"namespace": "ml"}, node_label="label_pool")
    frame = fetch(prom.url, query, START, START + 86_400, "1h")
    assert sorted(frame["unique_id"].unique()) == ["a100", "h100"]
    assert at(frame, "a100", 3) == 3.0 and at(frame, "a100", 18) == 2.0  # pod c (1 GPU) ended at noon
    assert at(frame, "h100", 3) is None  # pod b is pending until 06:00: no GPUs in use, no invented zero
    assert at(frame, "h100", 9) == 4.0


def test_queue_presets_run_on_prometheus(prom) -> None:
    pending = fetch(prom.url, render("pending_pods"), START, START + 86_400, "1h")
    assert at(pending, "ml", 3) == 1.0 and at(pending, "ml", 9) == 0.0
    kueue = fetch(prom.url, render("kueue_pending"), START, START + 3600, "1m")
    assert list(kueue["unique_id"].unique()) == ["team-a"] and kueue["y"].max() == 6.0
    vllm = fetch(prom.url, render("vllm_waiting"), START, START + 3600, "1m")
    assert list(vllm["unique_id"].unique()) == ["llama"] and vllm["y"].max() == 4.0
