"""Options shared by ``capforecast train`` and ``capforecast forecast``: model choice and hyperparameters."""

from __future__ import annotations

import argparse
from typing import Any


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--model`` (one of :data:`capforecast.models.MODELS`), ``--param`` and ``--no-progress``."""
    from capforecast.models import MODELS

    parser.add_argument("--model", required=True, choices=tuple(MODELS), metavar="NAME",
                        help=f"model alias: one of {', '.join(MODELS)}")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a model hyperparameter, repeatable, e.g. --param epochs=20 --param units=32 "
                        "(see docs/models.md)")
    parser.add_argument("--no-progress", action="store_true", help="do not show the LSTM training progress bar")


def parse_key_values(items: list[str], option: str, example: str) -> dict[str, Any]:
    """``{key: value}`` from repeated ``KEY=VALUE`` options; values are read as YAML (``20``, ``null``, ``[1, 2]``)."""
    import yaml

    from capforecast.errors import ConfigError

    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: write KEY=VALUE, e.g. {option} {example}")
        try:
            params[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            params[key.strip()] = value
    return params


def build_model(args: argparse.Namespace, horizon: int | None = None) -> Any:
    """Create the model named by ``--model`` with ``--param`` values (and the horizon when it takes one)."""
    from capforecast.errors import ConfigError
    from capforecast.models import get_model, model_class

    params = parse_key_values(args.param, "--param", "epochs=20")
    accepted = model_class(args.model)._param_names()
    if horizon is not None and "horizon" in accepted:
        params.setdefault("horizon", horizon)
    if "verbose" in accepted:
        params.setdefault("verbose", 0 if args.no_progress or getattr(args, "quiet", False) else 2)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(f"--param {unknown[0]}: model {args.model!r} has no such parameter; valid: "
                          f"{', '.join(accepted) or '(none)'}")
    if isinstance(params.get("quantiles"), (list, str)):
        from capforecast.frames import parse_quantiles

        params["quantiles"] = tuple(parse_quantiles(params["quantiles"]))
    return get_model(args.model, **params)


def print_selection(model: object) -> None:
    """Print what ``auto`` chose per series, with the backtest scores and the reason (other models: nothing)."""
    report = getattr(model, "report", None)
    if callable(report):
        print("model selection (backtest MASE, lower is better; a switch from the default needs consistent wins, "
              "and seasonal_naive is the floor):")
        print(report().to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def check_horizon(horizon: int, last: Any, step: Any, option: str) -> None:
    """The library's :func:`capforecast._units.check_horizon`, its fix spelled as the command line's flag."""
    from capforecast._units import check_horizon as check

    check(horizon, last, step, option, example="--horizon 48")
