"""Every command that reads a series file takes --id-col, --time-col, --target-col and --layout, and its errors
name those flags (not read_series' Python arguments)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import make_frame

ROOT_POOLS = "pools:\n  - {name: a, gpus_per_node: 8, min_nodes: 0, max_nodes: 50, lead_time: 15m}\n"


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "capforecast.cli", *args], capture_output=True, text=True, cwd=cwd)


def one_error_line(done) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("capforecast: error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def wide_file(tmp_path):
    """Two pools, one column each, time in 'time', ';'-separated with decimal commas (as spreadsheets export)."""
    frame = make_frame(ids=("a", "b"), periods=24 * 3)
    wide = frame.pivot(index="ds", columns="unique_id", values="y").reset_index()
    wide["ds"] = wide["ds"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "wide.csv"
    wide.rename(columns={"ds": "time"}).to_csv(path, index=False, sep=";", decimal=",")
    (tmp_path / "pools.yaml").write_text(ROOT_POOLS)
    return path


COMMANDS = {
    "forecast": ["forecast", "--model", "naive", "--horizon", "4", "--out", "f.csv", "--input"],
    "train": ["train", "--model", "naive", "--registry", "models", "--input"],
    "backtest": ["backtest", "--models", "naive", "--horizon", "4", "--windows", "1", "--no-plot", "--out",
                 "bt.csv", "--input"],
    "simulate": ["simulate", "--pools", "pools.yaml", "--out", "sim", "--input"],
    "demo": ["demo", "--model", "naive", "--pools", "pools.yaml", "--out", "demo", "--input"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_errors_about_the_file_name_the_flags(command, wide_file, tmp_path):
    line = one_error_line(run_cli(*COMMANDS[command], str(wide_file), cwd=tmp_path))
    assert "--time-col" in line and "--layout wide" in line, line
    assert "time_col=" not in line and "id_col=" not in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pools.yaml", "wide.csv"]


def test_plan_reads_its_history_with_the_same_flags(wide_file, tmp_path):
    line = one_error_line(run_cli("plan", "--forecast", "nope.csv", "--pools", "pools.yaml", "--out", "p",
                                  "--history", str(wide_file), "--layout", "long", cwd=tmp_path))
    assert "nope.csv" in line
    help_text = run_cli("plan", "--help", cwd=tmp_path).stdout
    assert "--id-col" in help_text and "--layout" in help_text


def test_a_wide_semicolon_file_forecasts_with_the_flags(wide_file, tmp_path):
    done = run_cli(*COMMANDS["forecast"], str(wide_file), "--time-col", "time", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "f.csv").read_text().splitlines()
    assert out[0].startswith("unique_id,ds,model,yhat") and len(out) == 1 + 2 * 4
    explicit = run_cli(*COMMANDS["forecast"], str(wide_file), "--time-col", "time", "--layout", "wide", cwd=tmp_path)
    assert explicit.returncode == 0, explicit.stderr


def test_a_long_file_with_own_column_names_trains(tmp_path):
    frame = make_frame(ids=("a",), periods=48).rename(columns={"unique_id": "pool", "ds": "timestamp",
                                                               "y": "gpus"})
    frame.to_csv(tmp_path / "long.csv", index=False)
    done = run_cli("train", "--model", "naive", "--registry", "models", "--input", "long.csv", "--id-col", "pool",
                   "--time-col", "timestamp", "--target-col", "gpus", "--layout", "long", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "naive v0001" in done.stdout


def test_plan_errors_about_the_forecast_file_say_how_to_fix_the_file(tmp_path):
    (tmp_path / "pools.yaml").write_text(ROOT_POOLS)
    rows = "unique_id,ds,model,yhat,p50,p90\na,2026-01-01T00:00:00Z,naive,5,5,4\n"
    (tmp_path / "crossed.csv").write_text(rows)
    (tmp_path / "nomodel.csv").write_text(rows.replace(",model", "").replace(",naive", ""))
    for name, words in (("crossed.csv", "quantile columns cross"), ("nomodel.csv", "missing column(s) ['model']")):
        line = one_error_line(run_cli("plan", "--forecast", name, "--pools", "pools.yaml", "--out", "p",
                                      cwd=tmp_path))
        assert f"error: {name}: " in line and words in line, line
        assert "np.sort" not in line and "df.rename" not in line and "read_series(" not in line, line


def test_a_one_row_file_says_what_to_do_without_python_arguments(tmp_path):
    (tmp_path / "one.csv").write_text("unique_id,ds,y\na,2026-01-01T00:00:00Z,1\n")
    line = one_error_line(run_cli("forecast", "--input", "one.csv", "--model", "naive", "--horizon", "2", "--out",
                                  "f.csv", cwd=tmp_path))
    assert "cannot infer the step" in line and "more history" in line and "step=" not in line, line
