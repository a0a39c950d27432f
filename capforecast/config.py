"""The nightly job's configuration: one YAML file, read into typed, validated, frozen objects.

Every problem is reported as a :class:`~capforecast.errors.ConfigError` whose first line names the key
(``config.yaml: pools[1].gpus_per_node``) and the fix. Secrets are never written in the file: the bearer
token and passwords are references to an environment variable (``{env: PROM_TOKEN}``) or a file
(``{file: /var/run/secrets/prometheus/token}``), resolved only when the connection is made. Relative paths
are taken relative to the config file. The Prometheus URL can be overridden by an environment variable
(``CAPFORECAST_PROMETHEUS_URL`` unless ``prometheus.url_env`` names another).

A complete, commented example is ``deploy/nightly.example.yaml``; ``docs/nightly.md`` describes every key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from capforecast._units import format_duration, parse_duration
from capforecast.errors import ConfigError

__all__ = [
    "BacktestConfig",
    "Config",
    "ForecastConfig",
    "ModelsConfig",
    "OutputConfig",
    "PoolConfig",
    "PrometheusConfig",
    "SecretRef",
    "SeriesConfig",
    "load_config",
    "parse_config",
]

DEFAULT_URL_ENV = "CAPFORECAST_PROMETHEUS_URL"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_METRICS = ("mase", "smape", "mae", "rmse")


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: an environment variable or a file. The value is read only by :meth:`resolve`.

    Examples
    --------
    >>> ref = SecretRef(env="PROM_TOKEN")
    >>> ref  # the value never appears in a repr
    SecretRef(env='PROM_TOKEN')
    """

    env: str | None = None
    file: Path | None = None

    def resolve(self) -> str:
        """Return the secret, stripped of surrounding whitespace; ConfigError if it is missing or empty."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(
                    f"secret: environment variable {self.env} is not set or empty; export it "
                    "(in Kubernetes: env.valueFrom.secretKeyRef) or reference a file instead"
                )
            return value.strip()
        assert self.file is not None
        try:
            value = self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"secret: cannot read file {self.file} ({exc.strerror}); mount the secret or fix the path"
            ) from None
        if not value:
            raise ConfigError(f"secret: file {self.file} is empty; write the secret into it")
        return value

    def __repr__(self) -> str:
        where = f"env={self.env!r}" if self.env is not None else f"file={str(self.file)!r}"
        return f"SecretRef({where})"


@dataclass(frozen=True)
class PrometheusConfig:
    """Connection to Prometheus (or Thanos, Mimir, VictoriaMetrics): URL, auth, TLS and timeout."""

    url: str
    token: SecretRef | None = None
    username: str | None = None
    password: SecretRef | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_file: Path | None = None
    verify_tls: bool = True
    timeout: pd.Timedelta = pd.Timedelta(seconds=30)
    retries: int = 3
    workers: int = 4


@dataclass(frozen=True)
class SeriesConfig:
    """What to ingest: a PromQL query (or a metric preset) returning one series per pool, and how much."""

    step: pd.Timedelta
    history: pd.Timedelta
    query: str | None = None
    preset: Mapping[str, Any] | None = None
    id_labels: tuple[str, ...] = ("pool",)


@dataclass(frozen=True)
class PoolConfig:
    """One node pool: its name (the series ``unique_id``), an optional own query, and its planner spec."""

    name: str
    spec: Mapping[str, Any]
    query: str | None = None


@dataclass(frozen=True)
class ModelsConfig:
    """Candidate models, their parameters, the fallback, and how much better a challenger must score."""

    candidates: tuple[str, ...] = ("seasonal_naive", "seasonal_quantile", "gbm")
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fallback: str = "seasonal_naive"
    min_improvement: float = 0.0


@dataclass(frozen=True)
class BacktestConfig:
    """Rolling-origin backtest used to pick the champion: windows, horizon, spacing and the score."""

    windows: int = 3
    horizon: pd.Timedelta = pd.Timedelta(hours=24)
    step: pd.Timedelta = pd.Timedelta(hours=24)
    metric: str = "mase"


@dataclass(frozen=True)
class ForecastConfig:
    """The forecast the plan is made from: horizon and quantile levels."""

    horizon: pd.Timedelta = pd.Timedelta(hours=24)
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class OutputConfig:
    """Where the job writes: dated run directories (and ``latest``), the model registry, the ingest
    cache, the node-exporter textfile, the lock file, and how many old runs to keep."""

    dir: Path
    registry: Path
    cache_dir: Path
    metrics_file: Path | None = None
    keep_runs: int = 14

    @property
    def runs_dir(self) -> Path:
        """Dated run directories live here (``runs/2026-05-01``)."""
        return self.dir / "runs"

    @property
    def latest(self) -> Path:
        """The ``latest`` symlink, swapped atomically to the newest good run."""
        return self.dir / "latest"

    @property
    def lock_file(self) -> Path:
        """The lock that stops two nightly runs at once."""
        return self.dir / ".nightly.lock"


@dataclass(frozen=True)
class Config:
    """The whole nightly configuration, as read by :func:`load_config`.

    Examples
    --------
    >>> cfg = parse_config({
    ...     "prometheus": {"url": "http://prometheus:9090"},
    ...     "series": {"step": "1h", "history": "30d", "query": "sum by (pool) (gpu_demand)"},
    ...     "pools": [{"name": "a100", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10}],
    ...     "output": {"dir": "/tmp/capforecast"},
    ... }, environ={})
    >>> cfg.pools[0].name, cfg.series.step
    ('a100', Timedelta('0 days 01:00:00'))
    """

    prometheus: PrometheusConfig
    series: SeriesConfig
    pools: tuple[PoolConfig, ...]
    models: ModelsConfig
    backtest: BacktestConfig
    forecast: ForecastConfig
    output: OutputConfig
    source: Path | None = None
    budget: Any = None

    @property
    def pool_names(self) -> list[str]:
        """The pool names, in file order."""
        return [p.name for p in self.pools]

    def pool_specs(self) -> Any:
        """The pools (and optional shared ``budget``) as the planner's ``PoolSet`` of ``PoolSpec``."""
        from capforecast.planning.pools import parse_pools

        data: dict[str, Any] = {"pools": [{"name": p.name, **p.spec} for p in self.pools]}
        if self.budget is not None:
            data["budget"] = self.budget
        try:
            return parse_pools(data)
        except ConfigError as exc:
            where = self.source.name if self.source is not None else "config"
            raise ConfigError(f"{where}: pools: {exc}") from None

    def quantiles(self) -> list[float]:
        """``forecast.quantiles`` plus every pool's service quantile (the planner needs those columns)."""
        return sorted({*self.forecast.quantiles, *(p.service_quantile for p in self.pool_specs())})


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the YAML config at ``path`` (relative paths in it are relative to its folder)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path} ({exc.strerror}); pass an existing YAML file, "
            "e.g. --config deploy/nightly.example.yaml"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{path.name}: not valid YAML{where}; fix the syntax ({getattr(exc, 'problem', exc)})"
        ) from None
    return parse_config(data, base_dir=path.resolve().parent, environ=environ, source=path, label=path.name)


def parse_config(
    data: Any,
    *,
    base_dir: str | os.PathLike[str] = ".",
    environ: Mapping[str, str] | None = None,
    source: Path | None = None,
    label: str = "config",
) -> Config:
    """Validate an already-parsed YAML mapping into a :class:`Config` (see :func:`load_config`)."""
    r = _Reader(label, Path(base_dir), os.environ if environ is None else environ)
    top = r.mapping(
        data,
        "",
        required=("prometheus", "series", "pools", "output"),
        allowed=("prometheus", "series", "pools", "budget", "models", "backtest", "forecast", "output"),
    )
    cfg = Config(
        prometheus=r.prometheus(top["prometheus"]),
        series=r.series(top["series"]),
        pools=r.pools(top["pools"]),
        models=r.models(top.get("models", {})),
        backtest=r.backtest(top.get("backtest", {})),
        forecast=r.forecast(top.get("forecast", {})),
        output=r.output(top["output"]),
        source=source,
        budget=top.get("budget"),
    )
    cfg.pool_specs()  # the planner's own checks of every pool key, now rather than at the end of a run
    for key, span in (
        ("forecast.horizon", cfg.forecast.horizon),
        ("backtest.horizon", cfg.backtest.horizon),
        ("backtest.step", cfg.backtest.step),
        ("series.history", cfg.series.history),
    ):
        if span % cfg.series.step != pd.Timedelta(0):
            raise ConfigError(
                f"{label}: {key}: must be a whole number of series.step ({format_duration(cfg.series.step)}); "
                f"use a multiple such as {format_duration(cfg.series.step * 24)}"
            )
    needs_query = [p.name for p in cfg.pools if p.query is None]
    if needs_query and cfg.series.query is None and cfg.series.preset is None:
        raise ConfigError(
            f"{label}: series.query is missing and pools {needs_query} have no own query; set series.query "
            "(one series per pool, labelled by series.id_labels) or series.preset, or a query per pool"
        )
    return cfg


def _known_models() -> list[str]:
    """Model aliases of ``capforecast.models`` (its lazy registry; no TensorFlow import)."""
    try:
        from capforecast import models
    except ImportError:  # pragma: no cover - the package always has it
        return []
    for name in ("MODEL_ALIASES", "ALIASES", "REGISTRY", "_REGISTRY", "MODELS"):
        table = getattr(models, name, None)
        if isinstance(table, Mapping) and table:
            return sorted(table)
    return ["auto", "gbm", "holt_winters", "lstm", "naive", "seasonal_naive", "seasonal_quantile"]


class _Reader:
    """Validates one section at a time; every error names ``label: key.path`` and the fix."""

    def __init__(self, label: str, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.label, self.base_dir, self.environ = label, base_dir, environ

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.label}: {key}: {problem}")

    def mapping(
        self, value: Any, key: str, *, required: tuple[str, ...] = (), allowed: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        where = key or "the top level"
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(
                where,
                f"expected a mapping of keys, got {type(value).__name__}; "
                "see deploy/nightly.example.yaml for the layout",
            )
        prefix = f"{key}." if key else ""
        if allowed is not None:
            unknown = sorted(str(k) for k in value if k not in allowed)
            if unknown:
                raise self.fail(f"{prefix}{unknown[0]}", f"unknown key; remove it or use one of {list(allowed)}")
        for name in required:
            if value.get(name) is None:
                raise self.fail(f"{prefix}{name}", "is required; add it (see deploy/nightly.example.yaml)")
        return dict(value)

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def duration(self, value: Any, key: str, *, positive: bool = True) -> pd.Timedelta:
        try:
            td = parse_duration(value, name=key)
        except ConfigError as exc:
            raise self.fail(key, str(exc).split(": ", 1)[-1]) from None
        if positive and td <= pd.Timedelta(0):
            raise self.fail(key, f"must be longer than zero, got {value!r}; write e.g. '1h'")
        return td

    def integer(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def path(self, value: Any, key: str) -> Path:
        p = Path(os.path.expanduser(self.text(value, key)))
        return p if p.is_absolute() else (self.base_dir / p)

    def secret(self, value: Any, key: str) -> SecretRef:
        if isinstance(value, str):
            raise self.fail(
                key,
                "secrets may not be written in the config; reference them instead: "
                "{env: PROM_TOKEN} or {file: /var/run/secrets/prometheus/token}",
            )
        m = self.mapping(value, key, allowed=("env", "file"))
        if len(m) != 1:
            raise self.fail(key, "give exactly one of env: VAR or file: PATH")
        if "env" in m:
            name = self.text(m["env"], f"{key}.env")
            if not _ENV_RE.match(name):
                raise self.fail(f"{key}.env", f"{name!r} is not an environment variable name; e.g. PROM_TOKEN")
            return SecretRef(env=name)
        return SecretRef(file=self.path(m["file"], f"{key}.file"))

    def prometheus(self, value: Any) -> PrometheusConfig:
        m = self.mapping(
            value,
            "prometheus",
            allowed=(
                "url",
                "url_env",
                "token",
                "basic_auth",
                "headers",
                "ca_file",
                "verify_tls",
                "timeout",
                "retries",
                "workers",
            ),
        )
        url_env = self.text(m.get("url_env", DEFAULT_URL_ENV), "prometheus.url_env")
        url = self.environ.get(url_env) or m.get("url")
        if not url:
            raise self.fail("prometheus.url", f"is required; set it, or export {url_env}=http://host:9090")
        url = self.text(url, "prometheus.url")
        if not re.match(r"^https?://[^/\s]+", url):
            source = f"environment variable {url_env}" if self.environ.get(url_env) else "prometheus.url"
            raise self.fail(source, f"{url!r} is not an http(s) URL; write e.g. http://prometheus:9090")
        if "@" in url.split("//", 1)[1].split("/", 1)[0]:
            raise self.fail(
                "prometheus.url",
                "credentials may not be written in the URL; remove 'user:password@' and use "
                "basic_auth: {username: NAME, password: {env: VAR}} or token: {env: VAR}",
            )
        username = password = None
        if m.get("basic_auth") is not None:
            ba = self.mapping(
                m["basic_auth"],
                "prometheus.basic_auth",
                required=("username", "password"),
                allowed=("username", "password"),
            )
            username = self.text(ba["username"], "prometheus.basic_auth.username")
            password = self.secret(ba["password"], "prometheus.basic_auth.password")
        token = self.secret(m["token"], "prometheus.token") if m.get("token") is not None else None
        if token is not None and username is not None:
            raise self.fail("prometheus.token", "use either token or basic_auth, not both")
        headers = self.mapping(m.get("headers"), "prometheus.headers")
        for name, val in headers.items():
            if str(name).lower() == "authorization":
                raise self.fail(
                    f"prometheus.headers.{name}",
                    "put credentials in prometheus.token (an env or file reference), not in headers",
                )
            self.text(val, f"prometheus.headers.{name}")
        verify = m.get("verify_tls", True)
        if not isinstance(verify, bool):
            raise self.fail("prometheus.verify_tls", f"expected true or false, got {verify!r}")
        return PrometheusConfig(
            url=url.rstrip("/"),
            token=token,
            username=username,
            password=password,
            headers={str(k): str(v) for k, v in headers.items()},
            ca_file=self.path(m["ca_file"], "prometheus.ca_file") if m.get("ca_file") else None,
            verify_tls=verify,
            timeout=self.duration(m.get("timeout", "30s"), "prometheus.timeout"),
            retries=self.integer(m.get("retries", 3), "prometheus.retries", minimum=0),
            workers=self.integer(m.get("workers", 4), "prometheus.workers", minimum=1),
        )

    def series(self, value: Any) -> SeriesConfig:
        m = self.mapping(
            value,
            "series",
            required=("step", "history"),
            allowed=("step", "history", "query", "preset", "id_labels"),
        )
        step = self.duration(m["step"], "series.step")
        history = self.duration(m["history"], "series.history")
        if history < 2 * step:
            raise self.fail(
                "series.history",
                f"{m['history']!r} holds fewer than two steps of {m['step']!r}; make it longer (e.g. 30d)",
            )
        if m.get("query") is not None and m.get("preset") is not None:
            raise self.fail("series.query", "give either query or preset, not both")
        preset = None
        if m.get("preset") is not None:
            p = m["preset"]
            preset = (
                {"name": self.text(p, "series.preset")}
                if isinstance(p, str)
                else self.mapping(p, "series.preset", required=("name",))
            )
        labels = m.get("id_labels", ["pool"])
        if isinstance(labels, str):
            labels = [s.strip() for s in labels.split(",")]
        if not isinstance(labels, list) or not labels:
            raise self.fail("series.id_labels", f"expected a list of label names, got {labels!r}")
        return SeriesConfig(
            step=step,
            history=history,
            preset=preset,
            query=self.text(m["query"], "series.query") if m.get("query") is not None else None,
            id_labels=tuple(self.text(x, f"series.id_labels[{i}]") for i, x in enumerate(labels)),
        )

    def pools(self, value: Any) -> tuple[PoolConfig, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(
                "pools",
                "expected a non-empty list of pools, each with at least name, gpus_per_node, min_nodes and max_nodes",
            )
        out: list[PoolConfig] = []
        for i, item in enumerate(value):
            key = f"pools[{i}]"
            m = self.mapping(item, key, required=("name",))
            name = self.text(m.pop("name"), f"{key}.name")
            if not _NAME_RE.match(name):
                raise self.fail(
                    f"{key}.name",
                    f"{name!r} is not a valid pool name; use lower-case letters, "
                    "digits, '-', '_' or '.' (it becomes a Kubernetes name)",
                )
            if name in (p.name for p in out):
                raise self.fail(f"{key}.name", f"pool {name!r} is listed twice; give each pool once")
            query = m.pop("query", None)
            out.append(
                PoolConfig(name=name, spec=m, query=self.text(query, f"{key}.query") if query is not None else None)
            )
        return tuple(out)

    def models(self, value: Any) -> ModelsConfig:
        m = self.mapping(value, "models", allowed=("candidates", "params", "fallback", "min_improvement"))
        known = _known_models()
        cands = m.get("candidates", list(ModelsConfig.candidates))
        if isinstance(cands, str):
            cands = [s.strip() for s in cands.split(",")]
        if not isinstance(cands, list) or not cands:
            raise self.fail("models.candidates", f"expected a non-empty list of model names from {known}")
        for i, alias in enumerate(cands):
            if alias not in known:
                raise self.fail(f"models.candidates[{i}]", f"unknown model {alias!r}; use one of {known}")
        fallback = m.get("fallback", "seasonal_naive")
        if fallback not in known:
            raise self.fail("models.fallback", f"unknown model {fallback!r}; use one of {known}")
        params = self.mapping(m.get("params"), "models.params")
        for alias, p in params.items():
            self.mapping(p, f"models.params.{alias}")
            if alias not in known:
                raise self.fail(f"models.params.{alias}", f"unknown model; use one of {known}")
        imp = m.get("min_improvement", 0.0)
        if isinstance(imp, bool) or not isinstance(imp, (int, float)) or not 0 <= imp < 1:
            raise self.fail("models.min_improvement", f"expected a share in [0, 1) such as 0.02, got {imp!r}")
        return ModelsConfig(
            candidates=tuple(dict.fromkeys(cands)),
            fallback=fallback,
            min_improvement=float(imp),
            params={str(k): dict(v) for k, v in params.items()},
        )

    def backtest(self, value: Any) -> BacktestConfig:
        m = self.mapping(value, "backtest", allowed=("windows", "horizon", "step", "metric"))
        metric = m.get("metric", "mase")
        if metric not in _METRICS:
            raise self.fail("backtest.metric", f"unknown metric {metric!r}; use one of {list(_METRICS)}")
        return BacktestConfig(
            windows=self.integer(m.get("windows", 3), "backtest.windows", minimum=1),
            horizon=self.duration(m.get("horizon", "24h"), "backtest.horizon"),
            step=self.duration(m.get("step", "24h"), "backtest.step"),
            metric=metric,
        )

    def forecast(self, value: Any) -> ForecastConfig:
        m = self.mapping(value, "forecast", allowed=("horizon", "quantiles"))
        qs = m.get("quantiles", list(ForecastConfig.quantiles))
        if isinstance(qs, str):
            try:
                qs = [float(s) for s in qs.split(",")]
            except ValueError:
                raise self.fail("forecast.quantiles", f"cannot read {qs!r}; write e.g. [0.5, 0.9, 0.99]") from None
        if (
            not isinstance(qs, list)
            or not qs
            or not all(isinstance(q, (int, float)) and not isinstance(q, bool) and 0 < q < 1 for q in qs)
        ):
            raise self.fail(
                "forecast.quantiles",
                f"expected a list of levels strictly between 0 and 1 such as [0.5, 0.9, 0.99], got {qs!r}",
            )
        return ForecastConfig(
            horizon=self.duration(m.get("horizon", "24h"), "forecast.horizon"),
            quantiles=tuple(sorted({float(q) for q in qs})),
        )

    def output(self, value: Any) -> OutputConfig:
        m = self.mapping(
            value,
            "output",
            required=("dir",),
            allowed=("dir", "registry", "cache", "metrics_file", "keep_runs"),
        )
        root = self.path(m["dir"], "output.dir")
        return OutputConfig(
            dir=root,
            registry=self.path(m["registry"], "output.registry") if m.get("registry") else root / "models",
            cache_dir=self.path(m["cache"], "output.cache") if m.get("cache") else root / "cache",
            metrics_file=self.path(m["metrics_file"], "output.metrics_file") if m.get("metrics_file") else None,
            keep_runs=self.integer(m.get("keep_runs", 14), "output.keep_runs", minimum=1),
        )
