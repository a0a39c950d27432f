"""The nightly config file as one typed model (pydantic): every key, its default, its check and its meaning.

:class:`NightlyFile` validates the parsed YAML (context: ``base_dir`` for relative paths, ``environ`` for the URL
override, ``file=True`` so durations need a unit); ``capforecast schema nightly`` prints its JSON Schema and the
key table of ``docs/nightly.md`` is made from its field descriptions. A pool entry is a
:class:`~capforecast.planning.pools.PoolSpec` plus an optional ``query``: the pools file's own model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import pandas as pd
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from capforecast._schema import Invalid, PositiveDuration, Text, share, whole
from capforecast.config._connection import FilePath, PrometheusSection, _Section
from capforecast.planning.pools import Budget, PoolSpec

__all__ = ["NightlyFile", "NightlyPool"]

_NAME_RE = r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$"
METRICS = ("mase", "smape", "mae", "rmse")
_BV = BeforeValidator


def _names(value: Any) -> Any:
    return [s.strip() for s in value.split(",")] if isinstance(value, str) else value  # "a, b" == [a, b]


def _model_names() -> list[str]:
    from capforecast.models import MODELS  # the one model list (no TensorFlow import)

    return sorted(MODELS)


def _preset(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value.strip()}
    if isinstance(value, Mapping) and not value.get("name"):
        raise Invalid("is required; add it (see deploy/nightly.example.yaml)", key="name")
    return value


class SeriesSection(_Section):
    """What to ingest: a PromQL query (or a metric preset) returning one series per pool, and how much."""

    step: Annotated[PositiveDuration, Field(description="step of the series, e.g. `1h`")]
    history: Annotated[PositiveDuration, Field(description="how much history the models see, e.g. `35d`")]
    query: Annotated[Text | None, Field(description="PromQL returning one series per pool (labelled by "
                                        "`id_labels`)", json_schema_extra={"doc_default": "—"})] = None
    preset: Annotated[dict[str, Any] | None, _BV(_preset), Field(
        description="a metric preset of the ingest module instead of `query`", json_schema_extra={
            "doc_default": "—"})] = None
    id_labels: Annotated[list[Text], _BV(_names), Field(min_length=1, description="labels whose values form the "
                                                        "pool name (`unique_id`)")] = ["pool"]

    @model_validator(mode="after")
    def _checks(self) -> SeriesSection:
        if self.history < 2 * self.step:
            raise Invalid(f"holds fewer than two steps of {self.step}; make it longer (e.g. 30d)", key="history")
        if self.query is not None and self.preset is not None:
            raise Invalid("give either query or preset, not both", key="query")
        return self


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid", arbitrary_types_allowed=True))
class NightlyPool(PoolSpec):
    """A pool of the nightly job: a :class:`~capforecast.planning.pools.PoolSpec` and optionally its own query."""

    query: Annotated[Text | None, Field(description="PromQL of this pool's demand alone (else series.query)")] = None


def _pool_name(value: Any) -> Any:
    if isinstance(value, str) and not re.match(_NAME_RE, value):
        raise Invalid(f"{value!r} is not a valid pool name; use lower-case letters, digits, '-', '_' or '.' "
                      "(it becomes a Kubernetes name)")
    return value


class ModelsSection(_Section):
    """Candidate models, their parameters, the fallback, and how much better a challenger must score."""

    candidates: Annotated[list[str], _BV(_names), Field(min_length=1, description="models backtested each night")
                          ] = ["seasonal_naive", "seasonal_quantile", "gbm"]
    params: Annotated[dict[str, dict[str, Any]], Field(description="hyperparameters per model alias")] = {}
    fallback: Annotated[str, Field(description="model used when the champion cannot be trained")] = "seasonal_naive"
    min_improvement: Annotated[float, Field(ge=0, lt=1), _BV(share(0.0, 1.0, "0.02", high_open=True)), Field(
        description="share by which a challenger must beat the champion")] = 0.0

    @model_validator(mode="after")
    def _known(self) -> ModelsSection:
        from capforecast.models import model_class

        known = _model_names()
        for i, alias in enumerate(self.candidates):
            if alias not in known:
                raise Invalid(f"unknown model {alias!r}; use one of {known}", key=f"candidates[{i}]")
        if self.fallback not in known:
            raise Invalid(f"unknown model {self.fallback!r}; use one of {known}", key="fallback")
        for alias, p in self.params.items():
            if alias not in known:
                raise Invalid(f"unknown model; use one of {known}", key=f"params.{alias}")
            takes = model_class(alias)._param_names()  # what build_model checks --param against
            for key in p:
                if key not in takes:
                    raise Invalid(f"model {alias!r} has no such parameter; valid: {', '.join(takes) or '(none)'}",
                                  key=f"params.{alias}.{key}")
        return self


def _metric(value: Any) -> Any:
    if value not in METRICS:
        raise Invalid(f"unknown metric {value!r}; use one of {list(METRICS)}")
    return value


class BacktestSection(_Section):
    """Rolling-origin backtest used to pick the champion."""

    windows: Annotated[int, Field(ge=1), _BV(whole(1, 3)), Field(description="backtest windows")] = 3
    horizon: Annotated[PositiveDuration, Field(description="length of each window", json_schema_extra={
        "default": "24h"})] = pd.Timedelta(hours=24)
    step: Annotated[PositiveDuration, Field(description="spacing of the windows", json_schema_extra={
        "default": "24h"})] = pd.Timedelta(hours=24)
    metric: Annotated[str, _BV(_metric), Field(description="score that picks the champion (`mase`, `smape`, "
                                               "`mae`, `rmse`)"),
                      WithJsonSchema({"enum": list(METRICS)})] = "mase"


def _quantiles(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = [float(s) for s in value.split(",")]
        except ValueError:
            raise Invalid(f"cannot read {value!r}; write e.g. [0.5, 0.9, 0.99]") from None
    ok = isinstance(value, list) and value and all(
        isinstance(q, (int, float)) and not isinstance(q, bool) and 0 < q < 1 for q in value)
    if not ok:
        raise Invalid(f"expected a list of levels strictly between 0 and 1 such as [0.5, 0.9, 0.99], got {value!r}")
    return sorted({float(q) for q in value})


class ForecastSection(_Section):
    """The forecast the plan is made from."""

    horizon: Annotated[PositiveDuration, Field(description="how far ahead to forecast", json_schema_extra={
        "default": "24h"})] = pd.Timedelta(hours=24)
    quantiles: Annotated[list[Annotated[float, Field(gt=0, lt=1)]], _BV(_quantiles), Field(
        min_length=1, description="quantile levels forecast (the pools' service quantiles are added)")
    ] = [0.5, 0.9, 0.95, 0.99]


class OutputSection(_Section):
    """Where the job writes."""

    dir: Annotated[FilePath, Field(description="state root: `runs/<date>/`, `latest`, `models/`, `cache/`")]
    registry: Annotated[FilePath | None, Field(description="model registry", json_schema_extra={
        "doc_default": "`DIR/models`"})] = None
    cache: Annotated[FilePath | None, Field(description="ingest cache", json_schema_extra={
        "doc_default": "`DIR/cache`"})] = None
    metrics_file: Annotated[FilePath | None, Field(description="node-exporter textfile to write")] = None
    keep_runs: Annotated[int, Field(ge=1), _BV(whole(1, 14)), Field(description="dated runs kept (older ones are "
                                                                        "deleted)")] = 14


def _widen(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise Invalid(f"expected a share in (0, 1] such as 0.5 (1: never widen), got {value!r}")
    return float(value)


class RealisedSection(_Section):
    """How earlier plans are scored against the demand seen since (`realised.json`)."""

    flag_after_days: Annotated[int, Field(ge=1), _BV(whole(1, 2)), Field(
        description="a pool whose realised busy exceeded its `target_busy` on this many of the last 7 days is "
        "flagged")] = 2
    widen: Annotated[float, _BV(_widen), Field(
        description="a flagged pool is planned for this share of its miss rate: quantile `1 - (1 - q) * widen` "
        "(p95 -> p97.5, p99 -> p99.5); `1` turns widening off")] = 0.5


class ComputeSection(_Section):
    """Where the job's fan-out (backtests, per-pool fits) runs (docs/compute.md)."""

    backend: Annotated[Text, Field(description="`sequential`, `threading`, `loky` or `dask`")]
    address: Annotated[Text | None, Field(description="Dask scheduler, e.g. `tcp://dask-scheduler:8786` (dask "
                                                      "only; default: a LocalCluster for the run)")] = None
    workers: Annotated[int | None, Field(ge=1), _BV(lambda v: v if v is None else whole(1, 2)(v)), Field(
        description="local workers (default: every core)")] = None


class NightlyFile(_Section):
    """The nightly job's configuration file (``capforecast nightly --config FILE``)."""

    prometheus: Annotated[PrometheusSection, Field(description="where the demand series are read from")]
    series: Annotated[SeriesSection, Field(description="what is read")]
    pools: Annotated[list[NightlyPool], Field(
        min_length=1, description="`name` plus the planner's PoolSpec keys (`gpus_per_node`, `min_nodes`, "
        "`max_nodes`, `lead_time`, `target_busy`, `headroom`, `scale_in_cooldown`, `price_per_node_hour`, "
        "`priority`, `node_selector`, `emitters`, ...); optional `query` for that pool alone")]
    budget: Annotated[Budget | None, _BV(lambda v: {"gpus": v} if isinstance(v, int) and not isinstance(v, bool)
                                         else v), Field(
        description="shared GPU cap across pools (`{gpus: N}`), as in the pools file")] = None
    models: Annotated[ModelsSection, Field(description="the candidates and the champion rule")] = ModelsSection()
    backtest: Annotated[BacktestSection, Field(description="how candidates are scored")] = BacktestSection()
    forecast: Annotated[ForecastSection, Field(description="what is forecast")] = ForecastSection()
    output: Annotated[OutputSection, Field(description="where the job writes")]
    realised: Annotated[RealisedSection, Field(description="scoring of earlier plans")] = RealisedSection()
    compute: Annotated[ComputeSection | None, Field(description="where backtests and per-pool fits run: "
        "`{backend, address, workers}`, backend `sequential`, `threading`, `loky` or `dask` (dask: a scheduler "
        "at `address`, or a LocalCluster); `--backend`, `--scheduler`, `--workers` override it; see docs/compute.md",
        json_schema_extra={"doc_default": "none (in the job's process)"})] = None

    @model_validator(mode="before")
    @classmethod
    def _pool_names(cls, data: Any) -> Any:
        pools = data.get("pools") if isinstance(data, Mapping) else None
        seen: list[Any] = []
        for i, entry in enumerate(pools if isinstance(pools, list) else []):
            name = entry.get("name") if isinstance(entry, Mapping) else None
            _pool_name_at(name, i)
            if name in seen:
                raise Invalid(f"pool {name!r} is listed twice; give each pool once", key=f"pools[{i}].name")
            seen.append(name)
        return data


def _pool_name_at(name: Any, i: int) -> None:
    try:
        _pool_name(name)
    except Invalid as exc:
        raise Invalid(str(exc), key=f"pools[{i}].name") from None
