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

from capforecast.config._load import load_config, parse_config
from capforecast.config._types import DEFAULT_URL_ENV as DEFAULT_URL_ENV
from capforecast.config._types import (
    BacktestConfig,
    Config,
    ForecastConfig,
    ModelsConfig,
    OutputConfig,
    PoolConfig,
    PrometheusConfig,
    RealisedConfig,
    SecretRef,
    SeriesConfig,
)

__all__ = [
    "BacktestConfig",
    "Config",
    "ForecastConfig",
    "ModelsConfig",
    "OutputConfig",
    "PoolConfig",
    "PrometheusConfig",
    "RealisedConfig",
    "SecretRef",
    "SeriesConfig",
    "load_config",
    "parse_config",
]
