"""capforecast: forecast GPU demand from Prometheus and plan Kubernetes node pre-reservations ahead of it.

The notebook user's door: ``import capforecast as cf``, then the names below. They are imported on first use,
so ``import capforecast`` stays light (TensorFlow is imported only when an LSTM is built or loaded).

Examples
--------
>>> import capforecast as cf
>>> frame = cf.make_sample(days=14, pools=["a100-train"])
>>> forecast = cf.get_model("seasonal_naive").fit(frame).predict(24, quantiles=[0.5, 0.95])
>>> pool = cf.PoolSpec(name="a100-train", gpus_per_node=8, min_nodes=0, max_nodes=20, lead_time="15m")
>>> plan = cf.plan_capacity(forecast, [pool], now=frame["ds"].max())
>>> list(plan.columns[:4])
['unique_id', 'ds', 'nodes', 'gpus']
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: name -> "module:attribute" (or "module" for a module), imported on first access.
_API: dict[str, str] = {
    # data in: Prometheus, files, the bundled sample; the series-frame contract
    "fetch": "capforecast.ingest.prometheus:fetch",
    "Connection": "capforecast.ingest.connection:Connection",
    "SecretRef": "capforecast.config._types:SecretRef",
    "read_series": "capforecast.ingest.files:read_series",
    "make_sample": "capforecast.ingest.sample:make_sample",
    "validate": "capforecast.frames:validate",
    "validate_forecast": "capforecast.frames:validate_forecast",
    "infer_step": "capforecast.frames:infer_step",
    "find_gaps": "capforecast.frames:find_gaps",
    "regularize": "capforecast.frames:regularize",
    # models and their evaluation
    "MODELS": "capforecast.models:MODELS",
    "get_model": "capforecast.models:get_model",
    "load_model": "capforecast.models.base:load_model",
    "Forecaster": "capforecast.models.base:Forecaster",
    "cross_validation": "capforecast.evaluation.backtest:cross_validation",
    "Backtest": "capforecast.evaluation.backtest:Backtest",
    "plot_forecast": "capforecast.evaluation.plot:plot_backtest",
    "registry": "capforecast.registry",
    # planning and what comes out of it
    "PoolSpec": "capforecast.planning.pools:PoolSpec",
    "Budget": "capforecast.planning.pools:Budget",
    "PoolSet": "capforecast.planning.pools:PoolSet",
    "load_pools": "capforecast.planning._pools_file:load_pools",
    "parse_pools": "capforecast.planning._pools_file:parse_pools",
    "plan_capacity": "capforecast.planning.planner:plan_capacity",
    "simulate": "capforecast.planning.simulate:simulate",
    "ForecastMethod": "capforecast.planning.simulate:ForecastMethod",
    "write_overlay": "capforecast.emit:write_overlay",
    "write_report": "capforecast.emit:write_report",
    "load_config": "capforecast.config:load_config",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'capforecast' has no attribute {name!r}; the public names are "
                             f"{', '.join(__all__)}")
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attr) if attr else module
    if attr:  # a module stays a module attribute of its own (``capforecast.registry``)
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
