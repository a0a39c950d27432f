"""The README's shell examples do what it says: run as written (bash, the CLI of this checkout) on real files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_frame

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TOKEN_FILE = Path("/var/run/secrets/capforecast/prometheus-token")


def readme_lines(*words: str) -> list[str]:
    """The command lines of the README's ``sh`` blocks that contain every one of ``words``."""
    lines = [line for block in re.findall(r"```sh\n(.*?)```", README, re.S) for line in block.splitlines()]
    found = [line for line in lines if all(w in line for w in words) and not line.startswith("#")]
    assert found, f"no README command line with {words}"
    return found


def run_sh(lines: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run ``lines`` in bash with ``capforecast`` being this checkout's CLI; the environment has no token."""
    script = 'capforecast() { "$PY" -m capforecast.cli "$@"; }\nset -e\n' + "\n".join(lines) + "\n"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_TOKEN"}
    env.update(PY=sys.executable, PYTHONPATH=str(ROOT))
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True)


def test_nightly_check_of_the_example_fails_on_the_missing_token_file_and_passes_with_a_variable(tmp_path):
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    if not TOKEN_FILE.exists():  # as the README says: elsewhere --check stops at the mounted token file
        done = run_sh(readme_lines("--config deploy/nightly.example.yaml --check"), tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"prometheus.token: cannot read file {TOKEN_FILE}" in done.stderr, done.stderr
    local = readme_lines("sed ") + readme_lines("PROMETHEUS_TOKEN=", "--check")
    done = run_sh(local, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "config nightly.yaml: OK" in done.stdout and "prometheus.token" in done.stdout, done.stdout
    assert "dummy" not in done.stdout + done.stderr  # the secret's value is never printed


@pytest.mark.parametrize("words", [("--layout wide",), ("--id-col pool",)])
def test_the_own_data_examples_with_input_flags_forecast(tmp_path, words):
    frame = make_frame(ids=("a100-train", "h100-infer"), periods=24 * 3)
    wide = frame.pivot(index="ds", columns="unique_id", values="y").reset_index()
    wide.rename(columns={"ds": "timestamp"}).to_csv(tmp_path / "my_gpus_wide.csv", index=False)
    frame.rename(columns={"unique_id": "pool", "ds": "timestamp", "y": "gpus_busy"}).to_csv(
        tmp_path / "my_gpus.csv", index=False)
    done = run_sh(readme_lines("capforecast forecast", *words), tmp_path)
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "fc.csv").read_text().splitlines()
    assert out[0].startswith("unique_id,ds,model,yhat") and len(out) == 1 + 2 * 48
    assert {line.split(",")[0] for line in out[1:]} == {"a100-train", "h100-infer"}
