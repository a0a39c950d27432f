"""Issue 13's bar tried again on other inputs: every fault is one line naming the problem and the fix, a non-zero
exit, no traceback, and every file that existed before is byte-identical (and a failed run creates nothing)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from capforecast.cli import main
from capforecast.errors import CapforecastError
from capforecast.ingest.sample import write_sample


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file (its bytes), folder and symlink under ``root``."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            out[rel] = ("link:" + os.readlink(path) if path.is_symlink() else "dir" if path.is_dir()
                        else path.read_bytes())
    return out


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    write_sample(root / "data", days=14)
    return root


@pytest.fixture
def work(sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample (data/series.csv, data/pools.yaml), as the current folder."""
    shutil.copytree(sample_dir, tmp_path / "w")
    monkeypatch.chdir(tmp_path / "w")
    return tmp_path / "w"


def fails_cleanly(argv: list[str], root: Path, capsys: pytest.CaptureFixture[str], code: int = 1) -> str:
    """Run the CLI; assert the bar; return the error line."""
    before = tree(root)
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == code, err
    assert "Traceback" not in err
    assert lines and lines[-1].startswith("capforecast: error: "), err
    assert sum(line.startswith("capforecast: error:") for line in lines) == 1, err
    assert tree(root) == before
    return lines[-1]


S, P = "data/series.csv", "data/pools.yaml"


# ---------------------------------------------------------------- usage errors: one line, not argparse's usage


@pytest.mark.parametrize(("argv", "expect"), [
    (["forecast", "--input", S, "--model", "seasonal_naive", "--horizon", "nan", "--out", "o.csv"],
     "argument --horizon: invalid int value: 'nan'; see 'capforecast forecast --help'"),
    (["train", "--input", S, "--model", "nope"], "argument --model: invalid choice: 'nope'"),
    (["backtest", "--input", S, "--windows", "abc", "--out", "b.csv"], "argument --windows: invalid int value"),
    (["simulate", "--input", S, "--pools", P, "--out", "s", "--val-days", "abc"],
     "argument --val-days: invalid float value: 'abc'; see 'capforecast simulate --help'"),
    (["demo", "--horizon", "-2h"], "expected one argument (write a value that starts with '-' as --option=VALUE)"),
    (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_a_usage_error_is_one_line_naming_the_option_and_the_help(work, capsys, argv, expect) -> None:
    line = fails_cleanly(argv, work, capsys, code=2)
    assert expect in line, line


# ---------------------------------------------------------------- window lengths pandas cannot hold


@pytest.mark.parametrize("days", ["inf", "1e300", "nan", "-1"])
def test_simulate_refuses_window_days_that_are_not_a_finite_positive_span(work, capsys, days) -> None:
    line = fails_cleanly(["simulate", "--input", S, "--pools", P, "--out", "sim", "--test-days", days], work, capsys)
    assert "--test-days must be a positive number of days" in line and "e.g. --test-days 7" in line, line


def test_split_windows_from_python_names_its_own_arguments() -> None:
    from capforecast.planning.simulate import split_windows

    with pytest.raises(CapforecastError, match=r"^val_days must be a positive number of days.*e\.g\. val_days=7"):
        split_windows(500, pd.Timedelta("1h"), 7, float("inf"))


# ---------------------------------------------------------------- sample --days


@pytest.mark.parametrize("days", ["0", "-1", "1.5", "abc"])
def test_sample_days_below_one_names_the_flag(work, capsys, days) -> None:
    line = fails_cleanly(["sample", "--out", "smp", f"--days={days}"], work, capsys, code=2)
    assert "argument --days: must be a whole number of days >= 1" in line and "e.g. --days 60" in line, line


def test_make_sample_with_no_days_is_a_config_error_naming_days() -> None:
    from capforecast.ingest.sample import make_sample

    with pytest.raises(CapforecastError, match=r"^days must be a whole number >= 1, got 0; e\.g\. days=60"):
        make_sample(days=0)


# ---------------------------------------------------------------- durations past what pandas holds


def test_a_duration_past_pandas_range_is_a_config_error_not_an_overflow_later() -> None:
    from capforecast._units import parse_duration

    with pytest.raises(CapforecastError, match=r"--horizon: '200000d' is too long a duration \(at most about 292"):
        parse_duration("200000d", name="--horizon")
    assert parse_duration("100000d") == pd.Timedelta(days=100000)


def test_demo_with_a_horizon_of_200000_days_is_one_line(work, capsys) -> None:
    line = fails_cleanly(["demo", "--input", S, "--pools", P, "--out", "out", "--horizon", "200000d"], work, capsys)
    assert "too long a duration" in line, line


# ---------------------------------------------------------------- flags checked before any work


@pytest.mark.parametrize(("flags", "expect"), [
    (["--horizon", "30m"], "--horizon 30m is shorter than one step (1h in data/sample/series.csv)"),
    (["--horizon", "100000d"], "--horizon 100000d is too far ahead: at most"),
    (["--horizon", "48"], "'48' has no unit"),
    (["--model", "nope"], "unknown model 'nope'"),
    (["--pools", "nowhere.yaml"], "pools file nowhere.yaml does not exist"),
])
def test_a_demo_that_cannot_finish_generates_no_sample(tmp_path, monkeypatch, capsys, flags, expect) -> None:
    monkeypatch.chdir(tmp_path)  # no data/sample here: demo would generate it
    line = fails_cleanly(["demo", "--out", "out", *flags], tmp_path, capsys)
    assert expect in line, line
    assert not (tmp_path / "data").exists()


def test_a_forecast_too_far_ahead_is_refused_before_the_fit(work, capsys) -> None:
    # fitted first, auto would fail on its own backtest ("too few to backtest a 100000000-step horizon")
    line = fails_cleanly(["forecast", "--input", S, "--model", "auto", "--horizon", "100000000", "--out", "o.csv"],
                         work, capsys)
    assert "--horizon 100000000 is too far ahead: at most" in line and " steps of 1h fit after " in line, line


# ---------------------------------------------------------------- hyperparameters of the wrong type


@pytest.mark.parametrize(("alias", "param", "expect"), [
    ("auto", "n_windows=abc", "auto: n_windows must be a whole number >= 1, got 'abc'"),
    ("auto", "n_windows=0", "auto: n_windows must be a whole number >= 1, got 0"),
    ("auto", "shrink=abc", "auto: shrink must be a number between 0 and 1"),
    ("auto", "horizon=abc", "auto: horizon must be a whole number >= 1"),
    ("auto", "n_jobs=abc", "auto: n_jobs must be a non-zero whole number"),
    ("auto", "candidates=[1, 2]", "auto: candidates must be a list of names"),
    ("auto", "calibrate=maybe", "auto: calibrate must be true or false"),
    ("gbm", "horizon=abc", "gbm: horizon must be a whole number >= 1, got 'abc'"),
    ("gbm", "seed=abc", "gbm: seed must be a whole number >= 0, got 'abc'"),
    ("gbm", "learning_rate=abc", "gbm: learning_rate must be a number > 0, got 'abc'"),
    ("holt_winters", "season=abc", "holt_winters: season must be a whole number of steps >= 2, got 'abc'"),
    ("seasonal_naive", "season=[1]", "season must be 'daily', 'weekly' or a number of steps, got [1]"),
])
def test_a_hyperparameter_of_the_wrong_type_is_one_line(work, capsys, alias, param, expect) -> None:
    line = fails_cleanly(["forecast", "--input", S, "--model", alias, "--param", param, "--horizon", "12",
                          "--out", "o.csv"], work, capsys)
    assert expect in line, line


def test_models_refuse_settings_of_the_wrong_type_from_python(frame) -> None:
    from capforecast.models import get_model

    for alias, params in [("auto", {"n_windows": "3"}), ("gbm", {"seed": 1.5}), ("holt_winters", {"season": "24"}),
                          ("seasonal_naive", {"season": {"daily": 1}})]:
        with pytest.raises(CapforecastError, match="must be"):
            get_model(alias, **params).fit(frame)


# ---------------------------------------------------------------- an output edited since capforecast wrote it


@pytest.mark.parametrize("edited", ["report.md", "plan.csv"])
def test_plan_refuses_an_output_edited_since_it_was_written_even_with_its_first_line(work, capsys, edited) -> None:
    argv = ["plan", "--forecast", "fc.csv", "--pools", P, "--out", "out"]
    assert main(["forecast", "--input", S, "--model", "seasonal_naive", "--horizon", "12",
                 "--quantiles", "0.5,0.9,0.95,0.99", "--out", "fc.csv"]) == 0
    assert main(argv) == 0
    with open(work / "out" / edited, "a", encoding="utf-8") as fh:  # the first line (title, header) stays
        fh.write("my own note\n" if edited == "report.md" else "a100-train,2030-01-01T00:00:00Z,3,24,manual\n")
    capsys.readouterr()
    line = fails_cleanly(argv, work, capsys)
    assert f"out/{edited} was changed since capforecast wrote it, so it is not replaced" in line, line


def test_forecast_refuses_its_earlier_output_once_edited(work, capsys) -> None:
    argv = ["forecast", "--input", S, "--model", "naive", "--horizon", "6", "--out", "fc.csv"]
    assert main(argv) == 0
    (work / "fc.csv").write_text((work / "fc.csv").read_text().replace("naive", "mine", 1))
    capsys.readouterr()
    assert "fc.csv was changed since capforecast wrote it" in fails_cleanly(argv, work, capsys)


# ---------------------------------------------------------------- a refused promote leaves no new version


@pytest.mark.parametrize("pointer", [b"\x89PNG\r\n\x1a\n binary", b"my notes about the champion\n"])
def test_train_promote_over_a_foreign_champion_file_writes_no_version(work, capsys, pointer) -> None:
    argv = ["train", "--input", S, "--model", "naive", "--registry", "reg"]
    assert main(argv) == 0
    (work / "reg" / "naive" / "CHAMPION").write_bytes(pointer)
    capsys.readouterr()
    line = fails_cleanly([*argv, "--promote"], work, capsys)
    assert "reg/naive/CHAMPION was not written by capforecast" in line, line


def test_refusals_say_a_symlink_is_a_symlink_and_a_corrupt_manifest_is_corrupt(work, capsys) -> None:
    fc = ["forecast", "--input", S, "--model", "naive", "--horizon", "6", "--out", "fc.csv"]
    assert main(fc) == 0
    (work / "mine").mkdir()
    (work / "plan").mkdir()
    (work / "plan" / "k8s").symlink_to(work / "mine")
    capsys.readouterr()
    line = fails_cleanly(["plan", "--forecast", "fc.csv", "--pools", P, "--out", "plan"], work, capsys)
    assert f"plan/k8s is a symlink (to {work / 'mine'}), where capforecast writes a folder" in line, line
    (work / ".capforecast-manifest.json").write_text("{not json")
    line = fails_cleanly([*fc, "--quantiles", "0.5"], work, capsys)  # another header: not let through by it
    assert "fc.csv exists and was not written by capforecast (its folder's .capforecast-manifest.json cannot " \
           "be read: edited or corrupt)" in line, line


# ---------------------------------------------------------------- a server answering JSON that is not a matrix


@pytest.fixture
def answering(request: pytest.FixtureRequest):
    """A real HTTP server on 127.0.0.1 that answers every request with ``request.param`` (200, JSON)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = request.param.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


MATRIX = '{{"status":"success","data":{{"resultType":"matrix","result":{}}}}}'


@pytest.mark.parametrize("answering", [
    MATRIX.format('[{"metric":{"pool":"a"},"values":[[1777593600,"1"],["noon","2"]]}]'),  # a time as text
    MATRIX.format('[{"metric":{"pool":"a"},"values":[[1777593600]]}]'),  # a pair without its value
    MATRIX.format('[{"metric":{"pool":"a"},"values":[[1777593600,{"v":1}]]}]'),  # a value that is an object
    MATRIX.format('{"pool":"a"}'),  # a result that is not a list of series
    '[1, 2, 3]',  # JSON, but no answer at all
], indirect=True)
def test_ingest_of_a_malformed_answer_is_one_line_and_writes_nothing(work, capsys, answering) -> None:
    line = fails_cleanly(["ingest", "--url", answering, "--query", "sum by (pool) (gpu)", "--start",
                          "2026-05-01T00:00:00Z", "--end", "2026-05-01T06:00:00Z", "--step", "1h", "--retries", "0",
                          "--out", "i.csv"], work, capsys)
    assert f"Prometheus at {answering} answered" in line and "Prometheus HTTP API" in line, line


def test_decode_refuses_a_malformed_matrix_with_an_ingest_error() -> None:
    from capforecast.ingest.chunks import decode

    with pytest.raises(CapforecastError, match=r"not a matrix of \[time, \"value\"\] pairs \(ValueError"):
        decode([{"metric": {}, "values": [[0, "1"], ["noon", "2"]]}])


# ---------------------------------------------------------------- a horizon past pandas' last time, from Python


@pytest.mark.parametrize("alias", ["naive", "seasonal_naive", "seasonal_quantile"])
def test_predict_refuses_a_horizon_past_the_last_timestamp_before_allocating(frame, alias) -> None:
    model = get_model_fitted(alias, frame)
    with pytest.raises(CapforecastError, match=r"^horizon=1000000000 is too far ahead: at most \d+ steps of 1h fit "
                                               r"after .* \(times end in 2262\); e\.g\. horizon=48$"):
        model.predict(10**9)  # without the check: arrays of 10**9 steps per series, until the memory runs out


def get_model_fitted(alias: str, frame: pd.DataFrame):  # noqa: ANN201 - a Forecaster
    from capforecast.models import get_model

    return get_model(alias).fit(frame)


# ---------------------------------------------------------------- library calls given the wrong kind of value


def _library_faults():  # noqa: ANN202 - (name, call) pairs, built lazily (they need a fitted forecast)
    import numpy as np

    from capforecast import frames
    from capforecast.emit import write_overlay, write_plan_json
    from capforecast.evaluation import conformalize, cross_validation
    from capforecast.ingest.chunks import plan_chunks
    from capforecast.models import get_model
    from capforecast.planning import parse_pools, plan_capacity

    ds = pd.date_range("2026-01-01", periods=72, freq="h", tz="UTC")
    good = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(72.0) % 24})
    fc = get_model("naive").fit(good).predict(6, quantiles=[0.5, 0.9])
    pools = parse_pools({"pools": [{"name": "a", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 4,
                                    "lead_time": "15m", "quantile": 0.9}]})
    return [
        ("a frame with a repeated column", lambda: frames.validate(pd.concat([good, good[["y"]]], axis=1))),
        ("quantiles=None", lambda: frames.parse_quantiles(None)),
        ("plan_capacity(state={'a': 'many'})", lambda: plan_capacity(fc, pools, state={"a": "many"})),
        ("plan_capacity(state=[1])", lambda: plan_capacity(fc, pools, state=[1])),
        ("plan_capacity(pools=[1])", lambda: plan_capacity(fc, [1])),
        ("plan_capacity(history='x')", lambda: plan_capacity(fc, pools, history="x")),
        ("cross_validation(models=None)", lambda: cross_validation(good, None, h=6, progress=False)),
        ("cross_validation(models=3)", lambda: cross_validation(good, 3, h=6, progress=False)),
        ("cross_validation(n_jobs=0)", lambda: cross_validation(good, ["naive"], h=6, n_jobs=0, progress=False)),
        ("conformalize(backtest=None)", lambda: conformalize(fc, None)),
        ("write_overlay(None)", lambda: write_overlay(None, pools, "ov")),
        ("write_plan_json(None)", lambda: write_plan_json(None, pools, "pj")),
        ("plan_chunks(max_points='a')", lambda: plan_chunks(0, 10, 1, max_points="a")),
    ]


def test_library_calls_with_the_wrong_kind_of_value_raise_capforecast_errors(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, call in _library_faults():
        with pytest.raises(CapforecastError) as err:
            call()
        assert str(err.value), name
    assert list(tmp_path.iterdir()) == []  # nothing written on the way


# ---------------------------------------------------------------- an absurd forecast is capped, not wrapped around


def test_a_forecast_of_1e300_gpus_plans_max_nodes_capped_not_min_nodes() -> None:
    import warnings

    from capforecast.planning import parse_pools, plan_capacity

    ds = pd.date_range("2026-05-01", periods=4, freq="h", tz="UTC")
    fc = pd.DataFrame({"unique_id": "a", "ds": ds, "model": "m", "yhat": 1e300, "p50": 1e300, "p90": 1e300})
    pools = parse_pools({"pools": [{"name": "a", "gpus_per_node": 8, "min_nodes": 2, "max_nodes": 12,
                                    "lead_time": "15m", "quantile": 0.9}]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value encountered in cast" was the only sign
        plan = plan_capacity(fc, pools)
    assert (plan["nodes"] == 12).all() and plan["capped"].all(), plan[["nodes", "wanted_nodes", "reason"]]
    assert plan["reason"].str.contains("p90 1e+300 GPU", regex=False).all()
