"""The command line as a user runs it: help, one-line errors, exit codes."""

import subprocess
import sys

import pytest

from capforecast.cli import COMMANDS, build_parser, main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "capforecast.cli", *args], capture_output=True, text=True,
                          cwd=cwd)


def test_help_lists_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout, f"{name} missing from --help"


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_explains_itself(name, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([name, "--help"])
    assert info.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 3


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_a_bad_input_is_one_line_no_traceback(tmp_path):
    out = run_cli("demo", "--input", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out"))
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.startswith("capforecast: error:")]
    assert len(lines) == 1 and "no such file" in lines[0]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()
