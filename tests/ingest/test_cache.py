"""The incremental parquet cache: pulls only what is new, never loses or duplicates samples, survives crashes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest

from capforecast.config import PrometheusConfig, SeriesConfig
from capforecast.errors import IngestError
from capforecast.ingest.cache import CacheKey, QueryCache
from capforecast.ingest.prometheus import fetch, fetch_cached

from .conftest import START

DAY = 86_400


def starts(proxy) -> list[int]:
    """The ``start`` of every query_range request the proxy saw."""
    return [int(float(parse_qs(urlsplit(path).query)["start"][0])) for path, _ in proxy.requests
            if "query_range" in path]


def test_second_run_pulls_only_new_steps_and_the_newest_stored_ones_again(prom, proxy, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = fetch(proxy.url, "gpu_used", START, START + 2 * DAY, "1m", id_labels=["pool"], cache=cache)
    assert len(first) == 3 * 2881
    assert starts(proxy)[0] == START
    proxy.requests.clear()
    second = fetch(proxy.url, "gpu_used", START + DAY, START + 3 * DAY, "1m", id_labels=["pool"], cache=cache)
    assert starts(proxy) == [START + 2 * DAY - 60]  # resumes at the last 2 stored steps, read again
    direct = fetch(prom.url, "gpu_used", START + DAY, START + 3 * DAY, "1m", id_labels=["pool"])
    pd.testing.assert_frame_equal(second, direct)  # nothing lost, nothing duplicated
    stored = pd.read_parquet(next(cache.glob("*.parquet")))
    assert len(stored) == 3 * (3 * 1440 + 1) and not stored.duplicated(["unique_id", "ds"]).any()


def test_asking_for_earlier_data_extends_the_cache_backwards(prom, proxy, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fetch(proxy.url, "gpu_used", START + DAY, START + 2 * DAY, "5m", cache=cache)
    proxy.requests.clear()
    both = fetch(proxy.url, "gpu_used", START, START + 3 * DAY, "5m", cache=cache)
    assert sorted(starts(proxy)) == [START, START + 2 * DAY - 300]
    pd.testing.assert_frame_equal(both, fetch(prom.url, "gpu_used", START, START + 3 * DAY, "5m"))
    proxy.requests.clear()
    again = fetch(proxy.url, "gpu_used", START, START + 3 * DAY, "5m", cache=cache)
    assert starts(proxy) == [START + 3 * DAY - 300] and again.equals(both)  # fully cached: only the tail again
    proxy.requests.clear()
    assert fetch(proxy.url, "gpu_used", START, START + 3 * DAY, "5m", cache=cache, reread_steps=0).equals(both)
    assert starts(proxy) == []  # reread_steps=0: no request at all


def test_a_crash_mid_write_leaves_the_previous_cache_intact(prom, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    fetch(prom.url, "gpu_used", START, START + DAY, "1h", cache=cache)
    (path,) = cache.glob("*.parquet")
    before = path.read_bytes()

    def crash(table, where, **kwargs) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(KeyboardInterrupt):
        fetch(prom.url, "gpu_used", START, START + 2 * DAY, "1h", cache=cache)
    assert path.read_bytes() == before
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temp file left behind
    monkeypatch.undo()
    frame = fetch(prom.url, "gpu_used", START, START + 2 * DAY, "1h", cache=cache)
    assert len(frame) == 3 * 49


def test_an_unreadable_cache_file_names_the_file_and_the_fix(prom, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fetch(prom.url, "gpu_used", START, START + DAY, "1h", cache=cache)
    (path,) = cache.glob("*.parquet")
    path.write_bytes(b"not parquet")
    with pytest.raises(IngestError, match=f"ingest cache file {path} is unreadable .*delete it"):
        fetch(prom.url, "gpu_used", START, START + DAY, "1h", cache=cache)


def test_nightly_entry_point_counts_new_rows_and_names_pools(prom, tmp_path: Path) -> None:
    cfg = PrometheusConfig(url=prom.url)
    series = SeriesConfig(step=pd.Timedelta("1h"), history=pd.Timedelta("2D"), query="sum by (pool) (gpu_used)")
    pools = [("a100", None), ("h100", None), ("all-gpus", "sum(DCGM_FI_DEV_GPU_UTIL)")]
    t0 = pd.Timestamp(START, unit="s", tz="UTC")
    frame, new = fetch_cached(cfg, series, pools, start=t0, end=t0 + pd.Timedelta("1D"), cache_dir=tmp_path)
    assert new == 4 * 25 and sorted(frame["unique_id"].unique()) == ["a100", "all-gpus", "h100", "l4"]
    frame, new = fetch_cached(cfg, series, pools, start=t0 + pd.Timedelta("1D"), end=t0 + pd.Timedelta("2D"),
                              cache_dir=tmp_path)
    assert new == 4 * 24 and len(frame) == 4 * 25
    # the window moved a day: the cache keeps only the window, so it does not grow night after night
    stored = pd.concat([pd.read_parquet(p) for p in tmp_path.glob("*.parquet")])
    assert len(stored) == 4 * 25 and stored["ds"].min() == t0 + pd.Timedelta("1D")


def _key(url: str, query: str, step_s: int, id_labels=None) -> CacheKey:
    return CacheKey(url, query, step_s * 1000, None if id_labels is None else tuple(id_labels))


def test_a_series_absent_from_an_earlier_pull_is_back_filled(prom, proxy, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fetch(proxy.url, "gpu_used", START, START + DAY, "1h", id_labels=["pool"], cache=cache)
    store, key = QueryCache(cache), _key(proxy.url, "gpu_used", 3600, ["pool"])
    earlier = store.load(key)
    store.save(key, earlier[earlier["unique_id"] != "h100"])  # an earlier run in which h100 did not answer
    proxy.requests.clear()
    got = fetch(proxy.url, "gpu_used", START, START + 2 * DAY, "1h", id_labels=["pool"], cache=cache)
    pd.testing.assert_frame_equal(got, fetch(prom.url, "gpu_used", START, START + 2 * DAY, "1h", id_labels=["pool"]))
    assert sorted(starts(proxy)) == [START, START + DAY - 3600]  # the new steps, then the back-fill of h100
    proxy.requests.clear()
    fetch(proxy.url, "gpu_used", START, START + 2 * DAY, "1h", id_labels=["pool"], cache=cache)
    assert starts(proxy) == [START + 2 * DAY - 3600]  # complete now: only the tail again


def test_the_newest_cached_steps_are_read_again_every_run(prom, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = fetch(prom.url, "gpu_used", START, START + DAY, "1h", id_labels=["pool"], cache=cache)
    store, key = QueryCache(cache), _key(prom.url, "gpu_used", 3600, ["pool"])
    stale = first.copy()
    hours_back = (pd.Timestamp(START + DAY, unit="s", tz="UTC") - stale["ds"]) // pd.Timedelta("1h")
    stale.loc[hours_back <= 2, "y"] = -1.0  # as pulled before a late scrape or a recording rule caught up
    store.save(key, stale)
    assert fetch(prom.url, "gpu_used", START, START + DAY, "1h", id_labels=["pool"], cache=cache,
                 reread_steps=0).equals(stale)
    again = fetch(prom.url, "gpu_used", START, START + DAY, "1h", id_labels=["pool"], cache=cache)
    pd.testing.assert_frame_equal(again[hours_back < 2], first[hours_back < 2])  # the last 2 steps: corrected
    assert (again.loc[hours_back == 2, "y"] == -1.0).all()  # older steps are final: not read again
    pd.testing.assert_frame_equal(store.load(key), again)
