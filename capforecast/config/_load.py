"""Loading the nightly config: read the YAML file, validate every section, check the whole."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._units import format_duration
from capforecast._yaml_file import read_yaml_file
from capforecast.config import _types as t
from capforecast.errors import ConfigError


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> t.Config:
    """Read and validate the YAML config at ``path`` (relative paths in it are relative to its folder)."""
    path = Path(path)
    data = read_yaml_file(path, "config file", "--config deploy/nightly.example.yaml")
    return parse_config(data, base_dir=path.resolve().parent, environ=environ, source=path, label=path.name)


def parse_config(
    data: Any,
    *,
    base_dir: str | os.PathLike[str] = ".",
    environ: Mapping[str, str] | None = None,
    source: Path | None = None,
    label: str = "config",
) -> t.Config:
    """Validate an already-parsed YAML mapping into a :class:`Config` (see :func:`load_config`)."""
    from pydantic import ValidationError

    from capforecast.config._model import NightlyFile

    if not isinstance(data, Mapping):
        raise ConfigError(f"{label}: the top level: expected a mapping of keys, got {type(data).__name__}; "
                          "see deploy/nightly.example.yaml for the layout")
    context = {"file": True, "base_dir": Path(base_dir), "environ": os.environ if environ is None else environ}
    try:
        nf = NightlyFile.model_validate(data, context=context)
    except ValidationError as exc:
        raise _error(exc, data, label) from None
    cfg = _to_config(nf, data, source, label)
    cfg.pool_specs()  # the planner's own checks of every pool key, now rather than at the end of a run
    for key, span in (
        ("forecast.horizon", cfg.forecast.horizon),
        ("backtest.horizon", cfg.backtest.horizon),
        ("backtest.step", cfg.backtest.step),
        ("series.history", cfg.series.history),
    ):
        try:  # a span that overflows pandas' times from today would fail the run itself (times end in 2262)
            pd.Timestamp.now(tz="UTC") + span
        except (OverflowError, ValueError):  # OutOfBoundsDatetime is a ValueError
            raise ConfigError(f"{label}: {key}: {format_duration(span)} is too far ahead (times end in "
                              f"{pd.Timestamp.max.year}); use a shorter span such as 30d") from None
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


def _to_config(nf: Any, data: Mapping[str, Any], source: Path | None, label: str) -> t.Config:
    p, s, m, o = nf.prometheus, nf.series, nf.models, nf.output
    auth = p.basic_auth
    pools = tuple(
        t.PoolConfig(name=pool.name, query=pool.query,
                   spec={k: v for k, v in data["pools"][i].items() if k not in ("name", "query")})
        for i, pool in enumerate(nf.pools)
    )
    return t.Config(
        prometheus=t.PrometheusConfig(
            url=p.url, token=p.token, username=auth.username if auth else None,
            password=auth.password if auth else None, headers=dict(p.headers), ca_file=p.ca_file,
            verify_tls=p.verify_tls, timeout=p.timeout, retries=p.retries, workers=p.workers),
        series=t.SeriesConfig(step=s.step, history=s.history, query=s.query, preset=s.preset,
                            id_labels=tuple(s.id_labels)),
        pools=pools,
        models=t.ModelsConfig(candidates=tuple(dict.fromkeys(m.candidates)), params=dict(m.params), fallback=m.fallback,
                            min_improvement=m.min_improvement),
        backtest=t.BacktestConfig(windows=nf.backtest.windows, horizon=nf.backtest.horizon, step=nf.backtest.step,
                                metric=nf.backtest.metric),
        forecast=t.ForecastConfig(horizon=nf.forecast.horizon, quantiles=tuple(nf.forecast.quantiles)),
        output=t.OutputConfig(dir=o.dir, registry=o.registry or o.dir / "models", cache_dir=o.cache or o.dir / "cache",
                            metrics_file=o.metrics_file, keep_runs=o.keep_runs),
        source=source,
        budget=data.get("budget"),
        realised=t.RealisedConfig(flag_after_days=nf.realised.flag_after_days, widen=nf.realised.widen),
        compute=_compute(nf.compute, label),
    )


def _compute(section: Any, label: str) -> Any:
    """``compute: {backend: dask, address: tcp://...:8786, workers: 2}``: where the job's fan-out runs."""
    if section is None:
        return None
    from capforecast.compute import Compute

    try:
        return Compute(section.backend, section.address, section.workers)
    except ConfigError as exc:
        raise ConfigError(f"{label}: compute: {exc}") from None


def _allowed(parent: tuple[Any, ...]) -> list[str]:
    """The keys valid at ``parent`` (for the fix of an unknown key)."""
    from capforecast._schema import field_names
    from capforecast.config import _connection, _model

    sections: dict[tuple[str, ...], Any] = {
        (): _model.NightlyFile, ("prometheus",): _connection.PrometheusSection, ("prometheus", "basic_auth"):
        _connection.BasicAuth, ("series",): _model.SeriesSection, ("models",): _model.ModelsSection,
        ("backtest",): _model.BacktestSection, ("forecast",): _model.ForecastSection, ("output",): _model.OutputSection,
        ("budget",): _model.Budget, ("pools",): _model.NightlyPool, ("realised",): _model.RealisedSection,
        ("compute",): _model.ComputeSection,
    }
    cls = sections.get(tuple(str(k) for k in parent if not isinstance(k, int)))
    if cls is None:
        return []
    return field_names(cls)


def _error(exc: Any, data: Mapping[str, Any], label: str) -> ConfigError:
    """The first problem of the nightly file as one line: ``label: key.path: problem; fix``."""
    from capforecast._schema import first_problem, key_path, required_fields
    from capforecast.config._model import NightlyPool

    problem = first_problem(exc, _allowed)
    loc, text = problem.loc, problem.text
    if problem.where:
        return ConfigError(f"{label}: {problem.where}: {text}")
    pool = ""
    if loc[:1] == ("pools",) and len(loc) >= 2 and isinstance(loc[1], int) and len(loc) > 2:
        entry = data["pools"][loc[1]]
        pool = f" (pool {str(entry.get('name', '?'))!r})" if isinstance(entry, Mapping) else ""
    if problem.missing:
        where = key_path(loc[:-1])
        if pool:
            required = required_fields(NightlyPool)
            return ConfigError(f"{label}: {where}{pool}: missing key(s) {', '.join(problem.missing)}; every pool "
                               f"needs {', '.join(required)}")
        key = key_path(loc)
        return ConfigError(f"{label}: {key}: is required; add it (see deploy/nightly.example.yaml)")
    if text.startswith("expected a mapping of keys"):
        text += "; see deploy/nightly.example.yaml for the layout"
    elif ";" not in text:
        text += "; fix the value (see deploy/nightly.example.yaml and docs/nightly.md)"
    return ConfigError(f"{label}: {key_path(loc) or 'the top level'}{pool}: {text}")
