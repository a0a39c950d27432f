"""Loading the nightly config: read the YAML file, validate every section, check the whole."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from capforecast._units import format_duration
from capforecast.compute import Compute
from capforecast.config._reader import _Reader
from capforecast.config._types import Config
from capforecast.errors import ConfigError


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
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text (a binary or compressed file?); pass the YAML "
                          "file, e.g. --config deploy/nightly.example.yaml") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", exc)).split())  # one line: PyYAML's messages have several
        raise ConfigError(f"{path.name}: not valid YAML{where}; fix the syntax ({problem})") from None
    return parse_config(data, base_dir=path.resolve().parent, environ=environ, source=path, label=path.name)


def _compute(r: _Reader, value: Any) -> Compute | None:
    """``compute: {backend: dask, address: tcp://...:8786, workers: 2}``: where the job's fan-out runs."""
    if value is None:
        return None
    m = r.mapping(value, "compute", required=("backend",), allowed=("backend", "address", "workers"))
    backend = r.text(m["backend"], "compute.backend")
    address = None if m.get("address") is None else r.text(m["address"], "compute.address")
    workers = None if m.get("workers") is None else r.integer(m["workers"], "compute.workers", minimum=1)
    try:
        return Compute(backend, address, workers)
    except ConfigError as exc:
        raise r.fail("compute", str(exc)) from None


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
        allowed=("prometheus", "series", "pools", "budget", "models", "backtest", "forecast", "output", "compute"),
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
        compute=_compute(r, top.get("compute")),
    )
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
