"""Ingest from a real VictoriaMetrics (``tests/vmserver.py``) against the same data in a real Prometheus.

Raw series and their aggregations come back sample for sample; the only differences are by design and
measured here: Prometheus carries a series' last sample 5 minutes (its lookback delta) into a gap, and
VictoriaMetrics about one sample interval, so Prometheus has a few more rows right after a gap starts (or a
series ends). Nothing is ever invented deeper inside a gap. Also: the chunking past VictoriaMetrics' own
per-query limit (``-search.maxPointsPerTimeseries``) and the tenant header Thanos, Mimir and Cortex need.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capforecast.cli import main
from capforecast.config import parse_config
from capforecast.errors import IngestError
from capforecast.ingest.client import RangeClient
from capforecast.ingest.connection import Connection
from capforecast.ingest.files import read_series
from capforecast.ingest.prometheus import fetch
from capforecast.ingest.queries import render

from ..promserver import Series
from ..vmserver import VictoriaMetricsServer, exposition_lines
from .conftest import DAY_TS, END, HOLE, MINUTE_TS, POOLS, START, pool_values, require_victoria_metrics

DAY = START + 86_400
LOOKBACK = 300  # Prometheus's default --query.lookback-delta (5m), which the session's server keeps


def seconds(frame: pd.DataFrame) -> np.ndarray:
    return (frame["ds"].astype("int64") // 10**9).to_numpy()


def pull_both(prom, vm, query: str, end: int, step: str, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    return fetch(prom.url, query, START, end, step, **kwargs), fetch(vm.url, query, START, end, step, **kwargs)


def test_thirty_days_at_one_minute_match_prometheus_sample_for_sample(prom, vm) -> None:
    frames = {}
    for name, server in (("prometheus", prom), ("victoriametrics", vm)):
        client = RangeClient(Connection(server.url, workers=2))
        frames[name] = fetch(client, "gpu_used", START, END, "1m", id_labels=["pool"])
        assert client.requests_sent == 4  # 43,201 points per series: four chunks of at most 11,000
    pd.testing.assert_frame_equal(frames["victoriametrics"], frames["prometheus"], check_exact=True)
    got = frames["victoriametrics"]
    for pool in POOLS:
        one = got[got["unique_id"] == pool]
        assert (seconds(one) == MINUTE_TS).all()
        np.testing.assert_array_equal(one["y"].to_numpy(), pool_values(pool))  # bit-exact, as imported


@pytest.mark.parametrize(("query", "end", "step", "id_labels"), [
    ("DCGM_FI_DEV_GPU_UTIL", END, "1m", ["Hostname", "gpu"]),
    (render("gpu_util"), DAY, "1m", None),
    ("sum by (pool) (gpu_used)", DAY, "5m", None),
    (render("pending_pods"), DAY, "1m", None),
    (render("kueue_pending"), DAY, "1m", None),
    (render("vllm_waiting"), DAY, "1m", None),
])
def test_presets_and_aggregations_match_prometheus(prom, vm, query: str, end: int, step: str, id_labels) -> None:
    want, got = pull_both(prom, vm, query, end, step, id_labels=id_labels)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize(("step", "prom_rows", "vm_rows"), [
    # rows inside the two-hour hole of 1-minute samples (measured), all at its start and all repeating the
    # last sample: Prometheus fills its 5-minute lookback (5 steps of 1m), VictoriaMetrics one sample interval
    (30, 9, 1), (60, 5, 1), (120, 3, 1), (300, 1, 1), (3600, 1, 1),
])
def test_around_a_gap_only_the_lookback_differs_and_nothing_is_invented(prom, vm, step, prom_rows, vm_rows) -> None:
    want, got = pull_both(prom, vm, "gpu_hole", DAY, f"{step}s", id_labels=["pool"])
    last_before = HOLE[0] - 60  # the last real sample before the hole
    inside = {name: f[(seconds(f) >= HOLE[0]) & (seconds(f) < HOLE[1])] for name, f in (("p", want), ("v", got))}
    assert (len(inside["p"]), len(inside["v"])) == (prom_rows, vm_rows)
    for rows in inside.values():  # nothing deep inside the hole, and only the last value carried forward
        assert (seconds(rows) - last_before <= LOOKBACK).all()
        assert (rows["y"] == 5.0).all()
    assert (seconds(inside["v"]) - last_before <= 60).all()
    # outside the hole's first steps the two are the same frame, row for row
    edge = (seconds(want) >= HOLE[0]) & (seconds(want) <= last_before + LOOKBACK)
    pd.testing.assert_frame_equal(got, want[~edge | want["ds"].isin(got["ds"])].reset_index(drop=True),
                                  check_exact=True)


def test_a_series_that_ends_counts_a_few_steps_less_in_victoriametrics(prom, vm) -> None:
    # pod c (1 GPU on node-1, pool a100) leaves kube-state-metrics at 12:00: Prometheus still counts it for
    # its 5-minute lookback (12:01..12:04 at 1m), VictoriaMetrics does not; the rest is equal
    want, got = pull_both(prom, vm, render("gpus_requested", node_label="label_pool"), DAY, "1m")
    merged = want.merge(got, on=["unique_id", "ds"], how="outer", suffixes=("_prom", "_vm"), validate="1:1")
    differ = merged[merged["y_prom"] != merged["y_vm"]]
    noon = START + 12 * 3600
    assert differ["unique_id"].eq("a100").all() and (seconds(differ) - noon).tolist() == [60, 120, 180, 240]
    assert (differ["y_prom"] - differ["y_vm"]).eq(1.0).all()


def test_capforecast_ingest_writes_the_same_file_from_either_server(prom, vm, tmp_path: Path, capsys) -> None:
    frames = []
    for server in (prom, vm):
        out = tmp_path / f"{server.__class__.__name__}.parquet"
        code = main(["ingest", "--url", server.url, "--query", "gpu_used", "--id-labels", "pool",
                     "--start", "2026-05-01T00:00:00Z", "--end", str(END), "--step", "1m", "--out", str(out)])
        assert code == 0
        assert "wrote 129603 rows of 3 series (4w2d at 1m)" in capsys.readouterr().out
        frames.append(read_series(out))
    pd.testing.assert_frame_equal(frames[1], frames[0], check_exact=True)


@pytest.fixture(scope="module")
def vm_small(tmp_path_factory: pytest.TempPathFactory):
    """A VictoriaMetrics that answers at most 4,000 points per series per query (its default is 30,000)."""
    require_victoria_metrics()
    server = VictoriaMetricsServer(tmp_path_factory.mktemp("vm-small"), ["-search.maxPointsPerTimeseries=4000"])
    with server:
        yield server.seed([Series("gpu_used", {"pool": p}, MINUTE_TS, pool_values(p)) for p in POOLS])


def test_chunks_stay_under_victoriametrics_own_limit_and_stay_exact(prom, vm_small, tmp_path: Path, capsys) -> None:
    out = tmp_path / "gpus.parquet"
    args = ["ingest", "--url", vm_small.url, "--query", "gpu_used", "--id-labels", "pool", "--start", str(START),
            "--end", str(END), "--step", "1m", "--out", str(out)]
    assert main(args) == 1  # 11,000 points per request by default: this server refuses them, with the fix
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 422" in err and "cannot exceed -search.maxPointsPerTimeseries=4000" in err
    assert "lower --max-points (max_points) to 4000 or less" in err and not out.exists()
    with pytest.raises(IngestError, match="lower --max-points"):
        fetch(vm_small.url, "gpu_used", START, START + 4000 * 60, "1m")  # 4,001 points: one too many
    client = RangeClient(Connection(vm_small.url, workers=2))
    got = fetch(client, "gpu_used", START, END, "1m", id_labels=["pool"], max_points=4000)
    assert client.requests_sent == 11  # ceil(43,201 / 4,000)
    pd.testing.assert_frame_equal(got, fetch(prom.url, "gpu_used", START, END, "1m", id_labels=["pool"]),
                                  check_exact=True)
    assert main([*args, "--max-points", "4000"]) == 0
    pd.testing.assert_frame_equal(read_series(out), got, check_exact=True, check_dtype=False)


def test_the_tenant_header_is_sent_on_every_request(vm, vm_proxy, tmp_path: Path) -> None:
    # Thanos, Mimir and Cortex pick the tenant from X-Scope-OrgID: from the command line ...
    out = tmp_path / "gpus.csv"
    code = main(["ingest", "--url", vm_proxy.url, "--header", "X-Scope-OrgID: team-a", "--query", "gpu_used",
                 "--id-labels", "pool", "--start", str(START), "--end", str(END), "--step", "1m", "--out", str(out)])
    assert code == 0 and len(vm_proxy.requests) == 4
    assert [headers.get("X-Scope-OrgID") for _, headers in vm_proxy.requests] == ["team-a"] * 4
    # ... and from the nightly config's prometheus.headers, through the connection the nightly job builds
    cfg = parse_config({
        "prometheus": {"url": vm_proxy.url, "headers": {"X-Scope-OrgID": "team-b"}},
        "series": {"step": "1m", "history": "1d", "query": "gpu_used"},
        "pools": [{"name": "a100", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 4, "lead_time": "15m"}],
        "output": {"dir": str(tmp_path / "state")},
    }, environ={})
    frame = fetch(Connection.from_config(cfg.prometheus), "gpu_used", START, DAY, "1m", id_labels=["pool"])
    assert [headers.get("X-Scope-OrgID") for _, headers in vm_proxy.requests[4:]] == ["team-b"]
    assert len(frame) == 3 * len(DAY_TS)
    pd.testing.assert_frame_equal(read_series(out), fetch(vm.url, "gpu_used", START, END, "1m", id_labels=["pool"]),
                                  check_exact=True, check_dtype=False)


def test_the_import_text_has_millisecond_timestamps(tmp_path: Path) -> None:
    series = [Series("gpu_used", {"pool": 'a"b'}, np.array([60, 120]), np.array([1.5, np.inf]))]
    assert list(exposition_lines(series)) == ['gpu_used{pool="a\\"b"} 1.5 60000\n',
                                              'gpu_used{pool="a\\"b"} +Inf 120000\n']


def test_missing_victoria_metrics_skips_and_says_to_run_make_test(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run `make test`, which installs Debian's victoria-metrics"):
        VictoriaMetricsServer(tmp_path).start()
    with pytest.raises(pytest.skip.Exception, match="victoria-metrics. is not on PATH: run `make test`"):
        require_victoria_metrics()
