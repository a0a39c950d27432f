"""Failures on the way: 500, 429 and hanging answers from a proxy, and a server stopped mid-ingest. Each
gives a clear error (query, range, what the server said) and leaves the cache and the output file as they were."""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from pathlib import Path

import pytest

from capforecast.cli import main
from capforecast.errors import IngestError
from capforecast.ingest.client import RangeClient, retry_after_seconds, retry_pause
from capforecast.ingest.connection import Connection
from capforecast.ingest.prometheus import fetch

from ..promserver import PrometheusServer
from .conftest import END, START, all_series

QUERY = "sum by (pool) (gpu_used)"


def fast(url: str, **kw) -> Connection:
    return Connection(url, **{"retries": 2, "backoff": 0.01, "timeout": 5, **kw})


def warm_cache(url: str, cache: Path) -> bytes:
    fetch(fast(url), QUERY, START, START + 86_400, "1h", cache=cache)
    (path,) = cache.glob("*.parquet")
    return path.read_bytes()


@pytest.mark.parametrize("mode", ["500", "429"])
def test_server_errors_are_retried_then_reported_and_the_cache_is_untouched(
    proxy, tmp_path: Path, mode: str, caplog
) -> None:
    cache = tmp_path / "cache"
    before = warm_cache(proxy.url, cache)
    proxy.mode = mode
    proxy.requests.clear()
    with caplog.at_level(logging.WARNING, logger="capforecast"), pytest.raises(IngestError) as err:
        fetch(fast(proxy.url), QUERY, START, START + 2 * 86_400, "1h", cache=cache)
    msg = str(err.value)
    assert f"failed after 3 attempt(s): HTTP {mode} 'injected failure'" in msg
    # the range pulled starts at the 2 newest cached steps, read again
    assert "sum by (pool) (gpu_used)" in msg and "from 2026-05-01T23:00:00Z to 2026-05-03T00:00:00Z step 1h" in msg
    assert len(proxy.requests) == 3 and caplog.text.count("retry ") == 2
    assert next(cache.glob("*.parquet")).read_bytes() == before
    assert len(list(cache.iterdir())) == 1


def test_one_chunk_failing_for_good_cancels_the_queued_chunks(proxy) -> None:
    proxy.mode = "503"
    with pytest.raises(IngestError, match="HTTP 503"):
        fetch(fast(proxy.url, workers=2), QUERY, START, END, "1m")  # 4 chunks, 2 in flight, 3 attempts each
    # without stopping: 4 x 3 = 12 requests; queued chunks are cancelled, or stop after their first attempt
    assert len(proxy.requests) <= 8


def test_a_transient_429_with_retry_after_recovers(proxy) -> None:
    proxy.mode, proxy.fail_first, proxy.retry_after = "429", 2, "0"
    frame = fetch(fast(proxy.url, workers=1), QUERY, START, START + 86_400, "1h")
    assert len(frame) == 3 * 25 and len(proxy.requests) == 3


def test_a_hanging_server_times_out_with_a_clear_error(proxy, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = warm_cache(proxy.url, cache)
    proxy.mode, proxy.hang_seconds = "hang", 2.0
    with pytest.raises(IngestError, match=r"failed after 2 attempt\(s\): no answer within the 0.3s timeout"):
        fetch(fast(proxy.url, timeout=0.3, retries=1), QUERY, START, START + 2 * 86_400, "1h", cache=cache)
    assert next(cache.glob("*.parquet")).read_bytes() == before


def test_a_server_stopped_mid_ingest_leaves_cache_and_output_as_they_were(tmp_path: Path) -> None:
    server = PrometheusServer.from_samples(all_series()[:3], tmp_path / "prom").start()
    try:
        cache, out = tmp_path / "cache", tmp_path / "gpus.parquet"
        assert main(["ingest", "--url", server.url, "--query", QUERY, "--start", str(START), "--end",
                     str(START + 86_400), "--step", "1m", "--cache", str(cache), "--out", str(out)]) == 0
        cached, written = next(cache.glob("*.parquet")).read_bytes(), out.read_bytes()
        client = RangeClient(fast(server.url, workers=1, retries=1, max_backoff=0.05))
        seen = []

        def stop_during_second_answer(resp, *args, **kwargs) -> None:  # runs before the body is read
            seen.append(resp)
            if len(seen) == 2:
                server.stop()

        client.session.hooks["response"].append(stop_during_second_answer)
        with pytest.raises(IngestError) as err:
            fetch(client, QUERY, START, END, "1m", cache=cache)
        assert "cannot connect" in str(err.value) and "failed after 2 attempt(s)" in str(err.value)
        # chunk 1 came back; chunk 2 came back too (Prometheus finishes answers on SIGTERM) or broke
        # mid-answer; then every attempt found no server
        assert client.requests_sent in (3, 4)
    finally:
        server.stop()
    assert next(cache.glob("*.parquet")).read_bytes() == cached
    assert out.read_bytes() == written


def test_cli_failure_is_one_line_exit_1_and_keeps_the_output_file(proxy, tmp_path: Path, capsys) -> None:
    out = tmp_path / "gpus.csv"
    out.write_text("previous content\n")
    proxy.mode = "500"
    code = main(["ingest", "--url", proxy.url, "--query", QUERY, "--since", "2d", "--step", "1h",
                 "--retries", "0", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("capforecast: error: Prometheus at http://127.0.0.1:")
    assert "HTTP 500" in err[-1] and "Traceback" not in "\n".join(err)
    assert out.read_text() == "previous content\n"


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_in_seconds_or_as_an_http_date_is_waited_for_with_jitter(proxy, caplog, form: str) -> None:
    """Four workers hit a 429 at once: each waits at least what the server asked, and not all the same time."""
    proxy.mode, proxy.fail_first = "429", 4
    proxy.retry_after = "2" if form == "seconds" else email.utils.formatdate(time.time() + 3, usegmt=True)
    least = 2.0 if form == "seconds" else 1.9  # an HTTP-date has whole seconds: 2 to 3 s from now
    with caplog.at_level(logging.WARNING, logger="capforecast.ingest.client"):
        frame = fetch(fast(proxy.url, workers=4, backoff=0.01), QUERY, START, START + 86_400, "1h", max_points=7)
    assert len(frame) == 3 * 25 and len(proxy.requests) == 8  # 4 chunks, each failed once, then answered
    pauses = [float(m) for m in re.findall(r"retry 1 of 2 in ([0-9.]+)s", caplog.text)]
    assert len(pauses) == 4 and all(least <= p <= 3.0 * 1.25 for p in pauses), pauses
    assert len(set(pauses)) == 4, pauses  # jitter: the workers come back at different times


def test_retry_pauses_grow_are_capped_and_are_never_shorter_than_asked() -> None:
    rng = random.Random(0)
    pauses = [retry_pause(0.5, 30.0, attempt, None, rng) for attempt in (1, 2, 3, 4)]
    assert all(b * 1.0 <= p <= b * 1.25 for p, b in zip(pauses, [0.5, 1.0, 2.0, 4.0], strict=True))
    assert 30.0 <= retry_pause(0.5, 30.0, 10, None, rng) <= 37.5
    assert 7.0 <= retry_pause(0.5, 30.0, 1, 7.0, rng) <= 8.75
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
