"""Nothing lost: capforecast replaces only what it wrote, never an input, and a write fault is one line."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------- defect 1: only what capforecast wrote


def test_plan_keeps_the_users_own_k8s_and_report_folders(inputs, capsys):
    out = inputs["out"]
    (out / "k8s").mkdir(parents=True)
    (out / "k8s" / "deployment.yaml").write_text("kind: Deployment  # mine\n")
    (out / "report").mkdir()
    (out / "report" / "notes.md").write_text("my notes\n")
    before = snapshot(out)
    assert plan(inputs) == 1
    line = error_line(capsys)
    assert str(out / "k8s") in line and "not written by capforecast" in line and "--out" in line
    assert snapshot(out) == before


def test_plan_reruns_into_its_own_folder_but_not_over_a_file_added_to_it(inputs, capsys):
    out = inputs["out"]
    assert plan(inputs) == 0
    assert (out / ".capforecast-manifest.json").is_file() and (out / "k8s" / ".capforecast-manifest.json").is_file()
    assert plan(inputs) == 0  # its own outputs are replaced
    capsys.readouterr()
    (out / "k8s" / "mine.yaml").write_text("kind: ConfigMap\n")
    before = snapshot(out)
    assert plan(inputs) == 1
    assert str(out / "k8s" / "mine.yaml") in error_line(capsys)
    assert snapshot(out) == before


def test_a_changed_output_file_is_not_replaced(inputs, capsys):
    out = inputs["out"]
    assert plan(inputs) == 0
    (out / "report.md").write_text("# my own report\n")
    before = snapshot(out)
    assert plan(inputs) == 1
    assert str(out / "report.md") in error_line(capsys)
    assert snapshot(out) == before


def test_a_folder_from_an_older_capforecast_without_manifest_is_refused_with_the_fix(inputs, capsys):
    out = inputs["out"]
    assert plan(inputs) == 0
    (out / "k8s" / ".capforecast-manifest.json").unlink()
    before = snapshot(out)
    assert plan(inputs) == 1
    line = error_line(capsys)
    assert "no .capforecast-manifest.json" in line and "move it away" in line
    assert snapshot(out) == before


def test_sample_replaces_its_own_files_and_recognises_old_ones_by_their_header(tmp_path, capsys):
    out = tmp_path / "sample"
    assert main(["sample", "--out", str(out), "--days", "8"]) == 0
    (out / ".capforecast-manifest.json").unlink()  # as written by a capforecast without manifests
    assert main(["sample", "--out", str(out), "--days", "9"]) == 0
    (out / "pools.yaml").write_text("pools: []  # my own pools\n")
    before = snapshot(out)
    capsys.readouterr()
    assert main(["sample", "--out", str(out), "--days", "8"]) == 1
    assert str(out / "pools.yaml") in error_line(capsys)
    assert snapshot(out) == before


def test_backtest_does_not_replace_a_png_it_did_not_write(inputs, tmp_path, capsys):
    png = tmp_path / "bt" / "scores.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG\r\n\x1a\nmine")
    before = snapshot(png.parent)
    assert main(["backtest", "--input", str(inputs["series"]), "--models", "naive", "--horizon", "24",
                 "--windows", "1", "--no-progress", "--out", str(png.with_suffix(".csv"))]) == 1
    assert str(png) in error_line(capsys)
    assert snapshot(png.parent) == before


# ---------------------------------------------------------------- defect 2: an output is never an input


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_forecast_refuses_to_overwrite_its_input(inputs, tmp_path, capsys, how):
    series = inputs["series"]
    out = {"same": series, "symlink": tmp_path / "link.csv", "hardlink": tmp_path / "hard.csv"}[how]
    if how == "symlink":
        out.symlink_to(series)
    elif how == "hardlink":
        os.link(series, out)
    before = series.read_bytes()
    assert main(["forecast", "--input", str(series), "--model", "naive", "--horizon", "4", "--out", str(out)]) == 1
    line = error_line(capsys)
    assert "--input" in line and "another path" in line
    assert series.read_bytes() == before


def test_plan_refuses_an_input_inside_an_output_folder(inputs, capsys):
    out = inputs["out"]
    assert plan(inputs) == 0
    pools = out / "k8s" / "pools.yaml"
    pools.write_text(POOLS)
    before = snapshot(out)
    assert main(["plan", "--forecast", str(inputs["forecast"]), "--pools", str(pools), "--out", str(out)]) == 1
    assert "--pools" in error_line(capsys)
    assert snapshot(out) == before


def test_simulate_and_backtest_refuse_their_input_as_output(inputs, tmp_path, capsys):
    series = inputs["series"]
    copy = tmp_path / "sim" / "plan.csv"
    copy.parent.mkdir()
    copy.write_bytes(series.read_bytes())
    assert main(["simulate", "--input", str(copy), "--pools", str(inputs["pools"]), "--out", str(copy.parent)]) == 1
    assert "--input" in error_line(capsys)
    assert main(["backtest", "--input", str(series), "--out", str(series)]) == 1
    assert "--input" in error_line(capsys)
    assert copy.read_bytes() == series.read_bytes()


def test_a_refusal_comes_before_any_work(tmp_path, capsys):
    mine = tmp_path / "gpus.parquet"
    pd.DataFrame({"x": [1.0]}).to_parquet(mine)  # the user's own parquet file
    before = mine.read_bytes()
    argv = ["ingest", "--url", "http://127.0.0.1:9", "--query", "up", "--since", "1h", "--step", "1m",
            "--retries", "0", "--out", str(mine)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert str(mine) in err and "not written by capforecast" in err and "cannot connect" not in err
    assert mine.read_bytes() == before


def test_ingest_refuses_an_output_inside_its_cache(tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    argv = ["ingest", "--url", "http://127.0.0.1:9", "--query", "up", "--since", "1h", "--step", "1m",
            "--cache", str(cache), "--out", str(cache / "up.parquet")]
    assert main(argv) == 1
    assert "--cache" in error_line(capsys)
    assert list(cache.iterdir()) == []


def test_train_does_not_replace_a_champion_file_it_did_not_write(inputs, tmp_path, capsys):
    pointer = tmp_path / "models" / "naive" / "CHAMPION"
    pointer.parent.mkdir(parents=True)
    pointer.write_text("my notes about the champion\n")
    argv = ["train", "--input", str(inputs["series"]), "--model", "naive", "--registry", str(tmp_path / "models")]
    assert main([*argv, "--promote"]) == 1
    assert str(pointer) in error_line(capsys)
    assert pointer.read_text() == "my notes about the champion\n"
    pointer.unlink()
    assert main([*argv, "--promote"]) == 0 and main([*argv, "--promote"]) == 0  # its own pointer is replaced
    assert pointer.read_text() == "v0002\n"  # the refused run saved no version


# ---------------------------------------------------------------- defect 4: write faults are one line


def test_write_faults_are_one_line_naming_the_path_and_the_cause(inputs, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    fc = ["forecast", "--input", str(inputs["series"]), "--model", "naive", "--horizon", "4"]
    assert main([*fc, "--out", str(blocker / "sub" / "fc.csv")]) == 1  # a path under a file: NotADirectoryError
    line = error_line(capsys)
    assert str(blocker / "sub") in line and "Not a directory" in line and "a part of the path is a file" in line
    assert main([*fc, "--out", str(blocker / "fc.csv")]) == 1
    assert f"{blocker} is a file" in error_line(capsys)
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert main([*fc, "--out", str(folder)]) == 1
    assert "is a folder" in error_line(capsys)
    assert plan({**inputs, "out": blocker}) == 1  # a file where a folder is expected
    assert "is a file" in error_line(capsys)
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
        "backtest": ["backtest", "--input", str(inputs["series"]), "--models", "naive", "--windows", "1",
                     "--no-progress", "--out", "/sys/kernel/capforecast-test/scores.csv"],
        "simulate": ["simulate", "--input", str(inputs["series"]), "--pools", str(inputs["pools"]), "--test-days",
                     "2", "--val-days", "2", "--model", "naive", "--out", "/sys/kernel/capforecast-test"],
        "demo": ["demo", "--input", str(inputs["series"]), "--pools", str(inputs["pools"]), "--model", "naive",
                 "--horizon", "4h", "--out", "/sys/kernel/capforecast-test"],
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


# ---------------------------------------------------------------- defect 5: a previous plan that is not one


def test_a_previous_plan_that_is_not_a_plan_is_one_line(inputs, capsys):
    assert plan(inputs, "--previous-plan", str(inputs["series"])) == 1
    line = error_line(capsys)
    assert str(inputs["series"]) in line and "'nodes'" in line and "--previous-plan" in line
    assert not inputs["out"].exists()


def test_a_stale_plan_csv_in_out_is_ignored_as_previous_and_named_with_the_fix(inputs, caplog, capsys):
    out = inputs["out"]
    assert plan(inputs) == 0
    stale = out / "plan.csv"
    stale.write_text("unique_id,ds,gpus\na,2026-05-01T00:00:00Z,3\n")
    before = snapshot(out)
    assert plan(inputs) == 1  # edited since capforecast wrote it: refused before any work, nothing read
    assert f"{stale} was changed since capforecast wrote it" in error_line(capsys)
    assert snapshot(out) == before
    manifest = out / ".capforecast-manifest.json"  # plan.csv as from before manifests: read, warned about, refused
    doc = json.loads(manifest.read_text())
    del doc["files"]["plan.csv"]
    manifest.write_text(json.dumps(doc))
    assert plan(inputs) == 1
    assert any("not comparing with" in r.getMessage() for r in caplog.records)
    assert str(stale) in error_line(capsys)
    stale.unlink()
    assert plan(inputs) == 0  # the fix the message names


# ---------------------------------------------------------------- defect 6: a horizon past the year 2262


def test_a_horizon_past_the_last_timestamp_is_one_line(inputs, tmp_path, capsys):
    assert main(["forecast", "--input", str(inputs["series"]), "--model", "naive", "--horizon", "100000000",
                 "--out", str(tmp_path / "fc.csv")]) == 1
    line = error_line(capsys)
    assert "too far ahead" in line and "at most" in line
    assert not (tmp_path / "fc.csv").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux procfs (no folder can be made there)")
def test_a_place_no_folder_can_be_made_is_refused_with_the_fix_before_any_work(inputs, capsys):
    """procfs refuses a new folder even to root (ENOENT). A test window longer than the series would fail the
    simulation itself: the output's refusal comes first (before, simulate ran, then failed without a fix)."""
    for argv in (["simulate", "--input", str(inputs["series"]), "--pools", str(inputs["pools"]), "--test-days", "400",
                  "--val-days", "2", "--model", "naive", "--out", "/proc/capforecast-test/out"],
                 ["forecast", "--input", str(inputs["series"]), "--model", "naive", "--horizon", "4",
                  "--out", "/proc/capforecast-test/fc.csv"]):
        assert main(argv) == 1
        line = error_line(capsys)
        assert "/proc/capforecast-test" in line and "choose a folder you may write to" in line, line
