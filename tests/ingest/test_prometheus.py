"""fetch() against a real Prometheus: exact round trips past the 11,000-points limit, holes, counter resets,
series identity and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prometheus_api_client import PrometheusConnect

from capforecast.errors import IngestError
from capforecast.ingest.client import RangeClient
from capforecast.ingest.connection import Connection
from capforecast.ingest.prometheus import fetch

from .conftest import DAY_TS, END, GPUS, HOLE, MINUTE_TS, POOLS, RESET_AT, START, gpu_values, pool_values


def test_thirty_days_at_one_minute_round_trip_exactly(prom) -> None:
    client = RangeClient(Connection(prom.url, workers=2))
    frame = fetch(client, "gpu_used", START, END, "1m", id_labels=["pool"])
    assert client.requests_sent == 4  # 43,201 points per series: four chunks of at most 11,000
    assert list(frame.columns) == ["unique_id", "ds", "y"]
    assert sorted(frame["unique_id"].unique()) == sorted(POOLS)
    expected_ds = pd.to_datetime(MINUTE_TS, unit="s", utc=True)
    for pool in POOLS:
        one = frame[frame["unique_id"] == pool]
        assert len(one) == 43_201
        assert (one["ds"].to_numpy() == expected_ds.to_numpy()).all()  # no duplicate, no missing at the edges
        np.testing.assert_array_equal(one["y"].to_numpy(), pool_values(pool))  # bit-exact values
    assert str(frame["ds"].dt.tz) == "UTC" and frame["y"].dtype == np.float64


def test_per_gpu_series_are_named_by_host_and_gpu(prom) -> None:
    frame = fetch(prom.url, "DCGM_FI_DEV_GPU_UTIL", START, END, "1m", id_labels=["Hostname", "gpu"])
    assert sorted(frame["unique_id"].unique()) == ["host-1/0", "host-1/1", "host-2/0", "host-2/1"]
    for host, gpu in GPUS:
        np.testing.assert_array_equal(frame.loc[frame["unique_id"] == f"{host}/{gpu}", "y"], gpu_values(host, gpu))


def test_ids_are_stable_and_default_to_all_label_values(prom) -> None:
    one = fetch(prom.url, "gpu_used", START, START + 3600, "5m")
    two = fetch(prom.url, "gpu_used", START, START + 3600, "5m")
    assert list(one["unique_id"].unique()) == sorted(POOLS)
    pd.testing.assert_frame_equal(one, two)


def test_range_is_aligned_to_the_step_grid(prom) -> None:
    frame = fetch(prom.url, "gpu_used{pool='a100'}", START + 61, START + 3599, "5m")
    assert frame["ds"].min() == pd.Timestamp(START + 300, unit="s", tz="UTC")
    assert frame["ds"].max() == pd.Timestamp(START + 3300, unit="s", tz="UTC")


def test_a_hole_stays_a_hole(prom) -> None:
    frame = fetch(prom.url, "gpu_hole", START, START + 86_400, "1m", id_labels=["pool"], max_points=500)
    got = set(frame["ds"].astype("int64") // 10**9)
    assert frame["y"].notna().all()  # nothing is filled with NaN either: missing steps are absent rows
    # Prometheus's own 5-minute lookback repeats the last sample for 5 steps into the hole; the rest stays empty
    lookback = set(range(HOLE[0], HOLE[0] + 5 * 60, 60))
    expected = (set(DAY_TS.tolist()) - set(range(HOLE[0], HOLE[1], 60))) | lookback
    assert got == expected
    assert len(got) == len(DAY_TS) - 120 + 5


def test_counter_reset_is_handled_through_rate(prom) -> None:
    raw = fetch(prom.url, "jobs_total", START, START + 86_400, "1m")
    assert (np.diff(raw["y"].to_numpy()) < 0).sum() == 1  # the raw counter drops once, at the restart
    rate = fetch(prom.url, "rate(jobs_total[5m])", START + 600, START + 86_400, "1m", id_labels=["pool"])
    np.testing.assert_allclose(rate["y"].to_numpy(), 1.0, rtol=1e-9)  # one job per second, reset or not
    near = rate[(rate["ds"] >= pd.Timestamp(RESET_AT, unit="s", tz="UTC"))]
    assert len(near) > 0 and near["y"].min() > 0.99


def test_an_empty_result_is_a_clear_error(prom) -> None:
    with pytest.raises(IngestError) as err:
        fetch(prom.url, 'gpu_used{pool="nope"}', START, START + 3600, "1m")
    msg = str(err.value)
    assert "returned no data" in msg and 'gpu_used{pool="nope"}' in msg and "2026-05-01T00:00:00Z" in msg


def test_a_bad_query_is_reported_with_what_the_server_said(prom) -> None:
    with pytest.raises(IngestError) as err:
        fetch(prom.url, "sum(gpu_used", START, START + 3600, "1m")
    msg = str(err.value)
    assert "HTTP 400" in msg and "parse error" in msg and "sum(gpu_used" in msg


def test_missing_and_ambiguous_id_labels_are_errors(prom) -> None:
    with pytest.raises(IngestError, match="has no label 'node'"):
        fetch(prom.url, "gpu_used", START, START + 3600, "1m", id_labels=["node"])
    with pytest.raises(IngestError, match="same unique_id 'host-1'"):
        fetch(prom.url, "DCGM_FI_DEV_GPU_UTIL", START, START + 3600, "1m", id_labels=["Hostname"])


def test_prometheus_api_client_connection_is_accepted(prom) -> None:
    pc = PrometheusConnect(url=prom.url)
    frame = fetch(pc, "gpu_used", START, START + 7200, "1m", id_labels=["pool"])
    assert len(frame) == 3 * 121


def test_too_many_points_per_request_says_how_to_fix_it(prom) -> None:
    with pytest.raises(IngestError) as err:
        fetch(prom.url, "gpu_used", START, END, "1m", max_points=20_000)
    assert "11,000 points" in str(err.value) and "lower --max-points" in str(err.value)


def test_bad_ranges_and_steps_are_clear_errors(prom) -> None:
    with pytest.raises(IngestError, match="before start"):
        fetch(prom.url, "gpu_used", START + 60, START, "1m")
    with pytest.raises(IngestError, match="no multiple of the step"):
        fetch(prom.url, "gpu_used", START + 1, START + 59, "1m")
    with pytest.raises(IngestError, match="query is empty"):
        fetch(prom.url, " ", START, START + 60, "1m")


def test_gzip_and_post_give_the_same_frame(prom) -> None:
    plain = fetch(prom.url, "gpu_used", START, START + 86_400, "1m")
    other = fetch(Connection(prom.url, compress=True, method="POST"), "gpu_used", START, START + 86_400, "1m")
    pd.testing.assert_frame_equal(plain, other)
