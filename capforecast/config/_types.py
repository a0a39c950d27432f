"""The typed, frozen objects the nightly config is read into (see :func:`capforecast.config.load_config`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast.errors import ConfigError

#: The environment variable that, when set, overrides ``prometheus.url``.
DEFAULT_URL_ENV = "CAPFORECAST_PROMETHEUS_URL"


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
        except UnicodeDecodeError:  # the message would show a byte of the secret: say only what is wrong
            raise ConfigError(f"secret: file {self.file} is not UTF-8 text; write the secret as text") from None
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
class RealisedConfig:
    """Scoring earlier plans against the demand observed since: when a pool is flagged, how much it is widened."""

    flag_after_days: int = 2  # days of the last 7 with realised busy above target that flag the pool
    widen: float = 0.5  # a flagged pool plans for this share of its miss rate (p95 -> p97.5)


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
    >>> from capforecast.config import parse_config
    >>> cfg = parse_config({
    ...     "prometheus": {"url": "http://prometheus:9090"},
    ...     "series": {"step": "1h", "history": "30d", "query": "sum by (pool) (gpu_demand)"},
    ...     "pools": [{"name": "a100", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10, "lead_time": "10m"}],
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
    realised: RealisedConfig = RealisedConfig()
    compute: Any = None  # capforecast.compute.Compute: where the fan-out runs (None: in this process)

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

    def references(self) -> dict[str, SecretRef | Path]:
        """What the run will read besides the config: ``{key: secret reference or file}`` (``prometheus.token``,
        ``prometheus.basic_auth.password``, ``prometheus.ca_file``)."""
        p = self.prometheus
        refs = {"prometheus.token": p.token, "prometheus.basic_auth.password": p.password,
                "prometheus.ca_file": p.ca_file}
        return {key: ref for key, ref in refs.items() if ref is not None}

    def check_references(self) -> list[str]:
        """Resolve every secret reference and open every file the run reads, now rather than at 2 a.m.

        Returns one line per reference (where it points, never the value); raises :class:`ConfigError` naming
        the first one that is missing, empty or unreadable, and the fix.
        """
        where = self.source.name if self.source is not None else "config"
        lines = []
        for key, ref in self.references().items():
            try:
                if isinstance(ref, SecretRef):
                    ref.resolve()
                else:
                    ref.read_bytes()
            except ConfigError as exc:
                raise ConfigError(f"{where}: {key}: {str(exc).removeprefix('secret: ')}") from None
            except OSError as exc:
                raise ConfigError(f"{where}: {key}: cannot read {ref} ({exc.strerror}); fix the path or mount "
                                  "the file") from None
            lines.append(f"{key} ({ref!r}): " + ("set" if isinstance(ref, SecretRef) else "readable"))
        return lines

    def quantiles(self) -> list[float]:
        """``forecast.quantiles`` plus every pool's service quantile (the planner needs those columns)."""
        return sorted({*self.forecast.quantiles, *(p.service_quantile for p in self.pool_specs())})
