"""The nightly config (YAML -> typed, validated), its secrets, the job-metrics textfile and deploy/."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from capforecast import jobmetrics
from capforecast.config import SecretRef, load_config, parse_config
from capforecast.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "nightly.example.yaml"

BASE = {
    "prometheus": {"url": "http://prom:9090", "token": {"env": "PROM_TOKEN"}},
    "series": {"step": "1h", "history": "30d", "query": "sum by (pool) (gpu_demand)"},
    "pools": [
        {"name": "a100", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10, "lead_time": "15m"},
        {
            "name": "h100",
            "gpus_per_node": 8,
            "min_nodes": 1,
            "max_nodes": 4,
            "lead_time": "10m",
            "target_busy": 0.01,
        },
    ],
    "output": {"dir": "state"},
}


def cfg_with(path: str, value: object, *, delete: bool = False) -> dict:
    data = copy.deepcopy(BASE)
    keys = path.split(".")
    node = data
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    if delete:
        del node[keys[-1]]
    elif isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value
    return data


def test_example_config_loads_and_relative_paths_follow_the_file(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.pool_names == ["a100-train", "h100-infer"]
    assert cfg.series.step == pd.Timedelta("1h") and cfg.forecast.horizon == pd.Timedelta("24h")
    assert cfg.prometheus.token == SecretRef(file=Path("/var/run/secrets/capforecast/prometheus-token"))
    # every pool's service quantile is forecast, beside the configured ones
    assert cfg.quantiles() == [0.5, 0.9, 0.95, 0.99]
    local = parse_config(BASE, base_dir=tmp_path, environ={})
    assert local.output.dir == tmp_path / "state" and local.output.latest == tmp_path / "state" / "latest"


def test_url_is_overridden_by_the_environment() -> None:
    assert parse_config(BASE, environ={}).prometheus.url == "http://prom:9090"
    env = {"CAPFORECAST_PROMETHEUS_URL": "https://thanos.example:10902/"}
    assert parse_config(BASE, environ=env).prometheus.url == "https://thanos.example:10902"
    custom = cfg_with("prometheus.url_env", "MY_PROM")
    assert parse_config(custom, environ={"MY_PROM": "http://other:9090"}).prometheus.url == "http://other:9090"


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("prometheus.token", "s3cr3t-token", ["prometheus.token", "{env: PROM_TOKEN}"]),
        ("prometheus.url", "prom:9090", ["prometheus.url", "http://prometheus:9090"]),
        ("prometheus.url", "http://bob:s3cr3t@prom:9090", ["prometheus.url", "basic_auth"]),
        ("prometheus.headers", {"Authorization": "Bearer x"}, ["Authorization", "prometheus.token"]),
        ("series.step", "1 hour", ["series.step", "15m, 1h, 90s, 1h30m"]),
        ("series.step", 3600, ["series.step", "3600 has no unit", "15m, 1h, 90s, 1h30m"]),
        ("series.step", "3600", ["series.step", "has no unit"]),
        ("prometheus.timeout", 30, ["prometheus.timeout", "has no unit"]),
        ("forecast", {"horizon": 24}, ["forecast.horizon", "has no unit"]),
        ("backtest", {"step": 86400}, ["backtest.step", "has no unit"]),
        ("pools.0.lead_time", 15, ["a100", "lead_time", "15 has no unit", "15m, 1h, 90s, 1h30m"]),
        ("pools.1.scale_in_cooldown", 3600, ["h100", "scale_in_cooldown", "has no unit"]),
        ("series.history", "1h", ["series.history", "two steps"]),
        ("pools.0.gpus_per_node", "eight", ["gpus_per_node", "a100"]),
        ("pools.1.name", "A100 Train", ["pools[1].name", "lower-case"]),
        ("pools.1.name", "a100", ["pools[1].name", "twice"]),
        ("models", {"candidates": ["prophet"]}, ["models.candidates[0]", "seasonal_naive"]),
        ("models", {"min_improvement": 2}, ["models.min_improvement", "0.02"]),
        ("backtest", {"metric": "r2"}, ["backtest.metric", "mase"]),
        ("backtest", {"windows": 0}, ["backtest.windows", ">= 1"]),
        ("forecast", {"horizon": "90m"}, ["forecast.horizon", "whole number of series.step (1h)"]),
        ("forecast", {"quantiles": [0.5, 1.5]}, ["forecast.quantiles", "between 0 and 1"]),
        ("output.keep_runs", -1, ["output.keep_runs", ">= 1"]),
        ("surprise", 1, ["surprise", "unknown key"]),
        # a span past pandas' last time, or a parameter the model does not take: --check says so, not the run
        ("forecast", {"horizon": "100000d"}, ["forecast.horizon", "too far ahead (times end in 2262)"]),
        ("models", {"params": {"seasonal_naive": {"foo": 1}}},
         ["models.params.seasonal_naive.foo", "has no such parameter; valid: season"]),
    ],
)
def test_bad_values_name_the_key_and_the_fix(path: str, value: object, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(cfg_with(path, value), environ={})
    first_line = str(err.value).splitlines()[0]
    for word in words:
        assert word in first_line
    assert "s3cr3t" not in str(err.value)  # a secret written by mistake is never echoed


def test_missing_sections_and_queries_are_named() -> None:
    with pytest.raises(ConfigError, match="output: is required"):
        parse_config(cfg_with("output", None, delete=True), environ={})
    with pytest.raises(ConfigError, match="series.query is missing"):
        parse_config(cfg_with("series.query", None, delete=True), environ={})
    per_pool = cfg_with("series.query", None, delete=True)
    for pool in per_pool["pools"]:
        pool["query"] = f'sum(gpu_demand{{pool="{pool["name"]}"}})'
    assert parse_config(per_pool, environ={}).pools[0].query == 'sum(gpu_demand{pool="a100"})'


def test_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.yaml does not exist; pass an existing YAML file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("prometheus: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad)


def test_secrets_resolve_late_and_never_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config(BASE, environ={})
    assert "PROM_TOKEN" in repr(cfg.prometheus) and "tok-123" not in repr(cfg.prometheus)
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="PROM_TOKEN is not set"):
        cfg.prometheus.token.resolve()
    monkeypatch.setenv("PROM_TOKEN", " tok-123\n")
    assert cfg.prometheus.token.resolve() == "tok-123"
    secret = tmp_path / "token"
    secret.write_text("file-tok\n", encoding="utf-8")
    by_file = parse_config(cfg_with("prometheus.token", {"file": "token"}), base_dir=tmp_path, environ={})
    assert by_file.prometheus.token.resolve() == "file-tok"
    with pytest.raises(ConfigError, match="cannot read file"):
        SecretRef(file=tmp_path / "missing").resolve()


def test_job_metrics_textfile_is_valid_and_keeps_last_success(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "capforecast_nightly.prom"
    ok = jobmetrics.JobMetrics(
        start_time=1000.0,
        end_time=1090.5,
        status="success",
        last_success_time=1090.5,
        backtest_score={"a100": 0.81},
        planned_nodes_max={"a100": 7},
        fallback={"a100": 0},
        step_seconds={"ingest": 1.5},
    )
    jobmetrics.write_textfile(path, ok)
    text = path.read_text()
    assert 'capforecast_nightly_planned_nodes_max{pool="a100"} 7' in text
    assert 'capforecast_nightly_backtest_error{metric="mase",pool="a100"} 0.81' in text  # labels come sorted
    assert "capforecast_nightly_duration_seconds 90.5" in text
    # the caller carries the last success over (the nightly job from latest/run.json, tests/test_pipeline.py)
    failed = jobmetrics.JobMetrics(start_time=2000.0, end_time=2010.0, status="failure", last_success_time=1090.5)
    jobmetrics.write_textfile(path, failed)
    text = path.read_text()
    assert "capforecast_nightly_last_success_timestamp_seconds 1090.5" in text
    assert 'capforecast_nightly_status{status="failure"} 1' in text
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    if shutil.which("promtool"):
        done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_deploy_manifests_build_and_validate_for_kubernetes_1_32(tmp_path: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (make test installs it)")
    built = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    kinds = {d["kind"] for d in docs}
    assert {"CronJob", "ConfigMap", "PersistentVolumeClaim"} <= kinds
    for doc in docs:
        kubernetes_validate.validate(doc, "1.32", strict=True)
    cron = next(d for d in docs if d["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["prometheus-token"]["secret"]["secretName"] == "capforecast-prometheus"
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]  # kustomize wired the hash
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    # the config shipped in the ConfigMap is the example, and it is valid
    shipped = tmp_path / "nightly.yaml"
    shipped.write_text(configmap["data"]["nightly.yaml"], encoding="utf-8")
    cfg = load_config(shipped, environ={})
    assert cfg.prometheus.token.file == Path("/var/run/secrets/capforecast/prometheus-token")
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert str(cfg.prometheus.token.file).startswith(mounts["prometheus-token"])
    assert str(cfg.output.dir).startswith(mounts["state"])


def test_crontab_line_runs_the_nightly_command() -> None:
    lines = [ln for ln in (ROOT / "deploy" / "crontab").read_text().splitlines() if ln and not ln.startswith("#")]
    job = next(ln for ln in lines if "nightly" in ln)
    fields = job.split(None, 5)
    assert len(fields) == 6 and fields[:5] == ["30", "1", "*", "*", "*"]
    assert "capforecast" in fields[5] and "nightly --config" in fields[5]


def _check(tmp_path: Path, prometheus: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
    import os
    import sys

    data = copy.deepcopy(BASE)
    data["prometheus"] = {"url": "http://prom:9090", **prometheus}
    path = tmp_path / "nightly.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k not in ("PROM_TOKEN", "PROM_PASSWORD")}
    return subprocess.run([sys.executable, "-m", "capforecast.cli", "nightly", "--config", str(path), "--check"],
                          capture_output=True, text=True, env={**environ, **env}, cwd=tmp_path)


SECRET = "s3cr3t-Value-9f2c"


@pytest.mark.parametrize(
    ("prometheus", "words"),
    [
        ({"token": {"env": "PROM_TOKEN"}}, ["prometheus.token", "PROM_TOKEN is not set"]),
        ({"token": {"file": "missing-token"}}, ["prometheus.token", "missing-token", "mount the secret"]),
        ({"basic_auth": {"username": "u", "password": {"env": "PROM_PASSWORD"}}},
         ["prometheus.basic_auth.password", "PROM_PASSWORD"]),
        ({"token": {"file": "empty-token"}}, ["prometheus.token", "is empty"]),
        ({"token": {"file": "binary-token"}}, ["prometheus.token", "not UTF-8"]),
        ({"ca_file": "no-such-ca.pem"}, ["prometheus.ca_file", "no-such-ca.pem"]),
    ],
)
def test_nightly_check_fails_on_a_missing_secret_without_showing_one(tmp_path: Path, prometheus: dict,
                                                                     words: list[str]) -> None:
    (tmp_path / "empty-token").write_text("\n", encoding="utf-8")
    (tmp_path / "binary-token").write_bytes(b"\xff\xfe" + SECRET.encode())
    done = _check(tmp_path, prometheus, {"PROM_PASSWORD_OTHER": SECRET})
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("capforecast: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert SECRET not in done.stdout + done.stderr


def test_nightly_check_passes_when_every_reference_resolves_and_never_prints_it(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET + "\n", encoding="utf-8")
    by_file = _check(tmp_path, {"token": {"file": "token"}}, {})
    by_env = _check(tmp_path, {"basic_auth": {"username": "u", "password": {"env": "PROM_PASSWORD"}}},
                    {"PROM_PASSWORD": SECRET})
    for done in (by_file, by_env):
        assert done.returncode == 0, done.stderr
        assert "OK" in done.stdout and "reference" in done.stdout
        assert SECRET not in done.stdout + done.stderr
