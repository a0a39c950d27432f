"""tests/promserver.py itself: the OpenMetrics it writes, and the message when Prometheus is not installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ..promserver import PrometheusNotInstalled, PrometheusServer, Series, write_openmetrics


def test_openmetrics_text_is_ordered_seconds_and_ends_with_eof(tmp_path: Path) -> None:
    series = [Series("gpu_used", {"pool": 'a"b'}, np.array([60, 120]), np.array([1.5, np.nan])),
              Series("jobs_total", {}, np.array([60]), np.array([3.0]), kind="counter")]
    text = write_openmetrics(series, tmp_path / "x.om").read_text()
    assert text == ('# TYPE gpu_used gauge\ngpu_used{pool="a\\"b"} 1.5 60\ngpu_used{pool="a\\"b"} NaN 120\n'
                    "# TYPE jobs_total counter\njobs_total 3.0 60\n# EOF\n")
    with pytest.raises(ValueError, match="strictly increasing"):
        write_openmetrics([Series("x", {}, np.array([60, 60]), np.array([1.0, 2.0]))], tmp_path / "y.om")


def test_missing_prometheus_says_to_run_make_test(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrometheusNotInstalled, match="run `make test`, which installs Debian's prometheus"):
        PrometheusServer.from_samples([], tmp_path)
