"""Chunk planning and merging, without a server: every step asked for exactly once, merged exactly once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capforecast.errors import IngestError
from capforecast.ingest.chunks import align, assemble, decode, decode_body, plan_chunks, series_id


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(0, 10**6),
    n=st.integers(1, 50_000),
    step=st.sampled_from([1_000, 15_000, 60_000, 3_600_000]),
    max_points=st.integers(1, 11_000),
)
def test_chunks_cover_every_step_once_and_stay_under_the_limit(first: int, n: int, step: int, max_points: int) -> None:
    lo, hi = first * step, (first + n - 1) * step
    chunks = plan_chunks(lo, hi, step, max_points)
    assert chunks[0][0] == lo and chunks[-1][1] == hi
    for (_, b), (c, _) in zip(chunks, chunks[1:], strict=False):
        assert c == b + step  # the next chunk starts one step later: no overlap, no gap
    assert all((b - a) // step + 1 <= max_points for a, b in chunks)
    assert sum((b - a) // step + 1 for a, b in chunks) == n
    assert len(chunks) == -(-n // max_points)


def test_align_keeps_the_range_inside_start_and_end() -> None:
    assert align(0, 59_999, 60_000) == (0, 0)
    assert align(1, 60_000, 60_000) == (60_000, 60_000)
    first, last = align(1, 59_999, 60_000)
    assert last < first  # no step inside: the caller reports it


def matrix(labels: dict[str, str], ts: list[int], ys: list[str]) -> dict:
    return {"metric": labels, "values": [[t, y] for t, y in zip(ts, ys, strict=True)]}


def test_assemble_merges_chunks_and_drops_boundary_duplicates() -> None:
    a = decode([matrix({"pool": "b"}, [0, 60, 120], ["1", "2", "3"]), matrix({"pool": "a"}, [60], ["9"])])
    b = decode([matrix({"pool": "b"}, [120, 180], ["3.5", "NaN"])])  # 120 again: a server answering past the edge
    frame = assemble([a, b], ["pool"])
    assert frame["unique_id"].tolist() == ["a", "b", "b", "b", "b"]
    assert (frame["ds"].astype("int64") // 10**9).tolist() == [60, 0, 60, 120, 180]
    np.testing.assert_array_equal(frame["y"].to_numpy(), [9, 1, 2, 3.5, np.nan])  # the later chunk wins


def test_series_ids_and_their_errors() -> None:
    assert series_id((), None) == "all"
    assert series_id((("pool", "a100"), ("zone", "eu")), None) == "a100/eu"
    with pytest.raises(IngestError, match="no label 'pool'"):
        series_id((("node", "n1"),), ["pool"], "up")
    with pytest.raises(IngestError, match="infinite value"):
        assemble([decode([matrix({"pool": "a"}, [0], ["+Inf"])])], ["pool"], "a / b")


def test_fast_decoder_matches_json_and_falls_back_on_anything_unusual() -> None:
    import json

    result = [matrix({"pool": 'a},"values":[[tricky'}, [1777593600, 1777593660.5], ["0.1", "NaN"]),
              matrix({}, [1777593600], ["-Inf"]), {"metric": {"x": "y"}, "values": []}]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    compact = json.dumps(body, separators=(",", ":")).encode()
    fast, slow = decode_body(compact), decode(result)
    assert fast is not None and len(fast) == 2  # the series without samples is left out
    for (la, ta, ya), (lb, tb, yb) in zip(fast, [s for s in slow if len(s[1])], strict=True):
        assert la == lb
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(ya, yb)
    assert decode_body(json.dumps(body).encode()) is None  # spaced JSON: the caller uses json instead
    assert decode_body(compact.replace(b'"0.1"', b'"zero"')) is None


def test_fast_decoder_refuses_values_it_cannot_read_whole_without_touching_warning_filters() -> None:
    import json
    import warnings

    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        matrix({"pool": "a"}, [1777593600, 1777593660], ["1.5", "2"])]}}
    compact = json.dumps(body, separators=(",", ":")).encode()
    filters = list(warnings.filters)
    assert decode_body(compact) is not None
    for bad in (b'"2x"', b'"2,"', b'"2.0.1"', b'"2e"'):  # numpy stops early (or raises) on each
        assert decode_body(compact.replace(b'"2"', bad)) is None, bad
    assert warnings.filters == filters
