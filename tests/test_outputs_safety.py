"""Nothing lost: capforecast replaces only what it wrote, never an input, and a write fault is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capforecast.cli import main

POOLS = """
pools:
  - {name: a, gpus_per_node: 8, min_nodes: 0, max_nodes: 12, lead_time: 15m, quantile: 0.9}
"""


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("capforecast: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    ds = pd.date_range("2026-05-01", periods=24 * 8, freq="h", tz="UTC")
    y = 30 + 20 * np.sin(2 * np.pi * np.arange(len(ds)) / 24)
    series = tmp_path / "series.csv"
    pd.DataFrame({"unique_id": "a", "ds": ds.strftime("%Y-%m-%dT%H:%M:%SZ"), "y": y}).to_csv(series, index=False)
    fc = tmp_path / "forecast.csv"
    fds = pd.date_range(ds[-1] + pd.Timedelta("1h"), periods=24, freq="h", tz="UTC")
    mid = 30 + 20 * np.sin(2 * np.pi * np.arange(24) / 24)
    pd.DataFrame({"unique_id": "a", "ds": fds.strftime("%Y-%m-%dT%H:%M:%SZ"), "model": "m", "yhat": mid,
                  "p50": mid, "p90": mid + 6}).to_csv(fc, index=False)
    pools = tmp_path / "pools.yaml"
    pools.write_text(POOLS)
    return {"series": series, "forecast": fc, "pools": pools, "out": tmp_path / "out"}


def plan(inputs: dict[str, Path], *extra: str) -> int:
    return main(["plan", "--forecast", str(inputs["forecast"]), "--pools", str(inputs["pools"]),
                 "--out", str(inputs["out"]), *extra])


# ---------------------------------------------------------------- defect 4: write faults are one line


def test_write_faults_are_one_line_naming_the_path_and_the_cause(inputs, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    fc = ["forecast", "--input", str(inputs["series"]), "--model", "naive", "--horizon", "4"]
    assert main([*fc, "--out", str(blocker / "sub" / "fc.csv")]) == 1  # a path under a file: NotADirectoryError
    line = error_line(capsys)
    assert str(blocker / "sub") in line and "Not a directory" in line and "a part of the path is a file" in line
    assert blocker.read_text() == "x"


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux sysfs (not writable, even as root)")
def test_an_unwritable_place_is_one_line_from_every_writer(inputs, capsys):
    outs = {
        "forecast": ["forecast", "--input", str(inputs["series"]), "--model", "naive", "--horizon", "4",
                     "--out", "/sys/kernel/capforecast-test/fc.csv"],
        "sample": ["sample", "--days", "8", "--out", "/sys/kernel/capforecast-test"],
        "train": ["train", "--input", str(inputs["series"]), "--model", "naive",
                  "--registry", "/sys/kernel/capforecast-test"],
        "plan": ["plan", "--forecast", str(inputs["forecast"]), "--pools", str(inputs["pools"]),
                 "--out", "/sys/kernel/capforecast-test"],
    }
    for argv in outs.values():
        assert main(argv) == 1
        line = error_line(capsys)
        assert "/sys/kernel/" in line and ("ermission" in line or "not permitted" in line), line


def test_a_subprocess_run_shows_no_traceback_and_keeps_old_outputs(inputs, tmp_path):
    out = tmp_path / "fc.csv"
    fc = [sys.executable, "-m", "capforecast.cli", "forecast", "--input", str(inputs["series"]), "--model",
          "naive", "--horizon", "4"]
    assert subprocess.run([*fc, "--out", str(out)], capture_output=True).returncode == 0
    before = out.read_bytes()
    done = subprocess.run([*fc, "--out", str(out / "sub" / "x.csv")], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("capforecast: error:") and "Not a directory" in done.stderr
    assert out.read_bytes() == before


def test_a_multi_line_error_keeps_every_line(tmp_path, capsys):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("unique_id,ds,y\na,2026-05-01T00:00:00Z,1\na,2026-05-01T01:00:00Z,2,3,4\n")
    assert main(["forecast", "--input", str(ragged), "--model", "naive", "--horizon", "4",
                 "--out", str(tmp_path / "fc.csv")]) == 1
    assert "is the file complete?" in error_line(capsys)


