"""``capforecast forecast``: write a forecast frame, fitting a model on the input or loading a trained one."""

from __future__ import annotations

import argparse
import logging

from capforecast.commands._inputargs import add_input_options, read_input
from capforecast.commands._modelargs import add_model_options, build_model, check_horizon, print_selection

logger = logging.getLogger("capforecast.forecast")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forecast",
        help="forecast a series file: fit --model on it, or use a trained model from --registry",
        description="Write the forecast frame (unique_id, ds, model, yhat, p50, p90, ...) of the next --horizon "
        "steps after each series. Without --registry the model is fitted on --input; with --registry the saved "
        "version (--version, default latest) is used without retraining: lstm and gbm forecast from the end of "
        "--input (which must hold the trained series), other models from the end of their training data. "
        "Example: capforecast forecast --input demand.csv --model "
        "seasonal_naive --horizon 48 --quantiles 0.5,0.9 --out forecast.csv",
    )
    parser.add_argument("--input", default=None, help="series file (.csv or .parquet): unique_id, ds, y")
    add_input_options(parser)
    add_model_options(parser)
    parser.add_argument("--horizon", type=int, required=True, help="steps to forecast, e.g. 48")
    parser.add_argument("--quantiles", default="0.5,0.9", help="quantile levels (default: 0.5,0.9)")
    parser.add_argument("--out", required=True, help="output file (.csv or .parquet), written atomically")
    parser.add_argument("--registry", default=None, help="registry root: forecast with a trained model")
    parser.add_argument("--name", default=None, help="registry name (default: the --model alias)")
    parser.add_argument("--version", default="latest", help="latest (default), champion, or e.g. v0003")
    parser.set_defaults(func=run)


def _check_against(model, frame) -> None:  # noqa: ANN001 - internal
    from capforecast.errors import ModelError

    unknown = sorted(set(frame["unique_id"].unique()) - set(model.ids_))
    if unknown:
        raise ModelError(
            f"series {unknown[:5]} were not in the training data of this model; retrain with them "
            "(capforecast train ...) or forecast without --registry to fit on this input"
        )
    newest = frame.groupby("unique_id")["ds"].max()
    newer = [u for u, ts in newest.items() if ts > model.last_ds_[u]]
    if newer:
        logger.warning("the input has data after the model's training end for %d series (e.g. %s); the forecast "
                       "starts after the training end: retrain to use the newer data", len(newer), newer[0])


def _check_learned_horizon(model, horizon: int, fix: str) -> None:  # noqa: ANN001 - a Forecaster
    """gbm and lstm forecast at most the horizon they learned: say so with the command's fix, before any fit.

    (How far ahead any model can forecast before the timestamps end is :func:`._modelargs.check_horizon`.)"""
    from capforecast.errors import ConfigError

    learned = model.get_params().get("horizon") if model.alias in ("gbm", "lstm") else None
    if isinstance(learned, int) and 1 <= learned < horizon:  # a wrong horizon: the model's own check says so
        raise ConfigError(f"--horizon {horizon}: this {model.alias} model forecasts at most {learned} steps; {fix}, "
                          f"or use --horizon {learned} or less")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from capforecast import frames, registry
    from capforecast._io import write_frame
    from capforecast._owned import check_not_inputs, outputs, precheck
    from capforecast.errors import ConfigError

    if args.horizon < 1:
        raise ConfigError(f"--horizon must be >= 1 step, got {args.horizon}; e.g. --horizon 48")
    levels = frames.parse_quantiles(args.quantiles)
    if not str(args.out).lower().endswith((".csv", ".parquet")):
        raise ConfigError(f"--out {args.out}: use a .csv or .parquet file name")
    out = Path(args.out)
    check_not_inputs([out], {"--input": args.input, "--registry": args.registry})
    precheck(out.parent, [out.name])
    if args.registry:
        model = registry.load(args.name or args.model, args.version, root=args.registry)
        if model.alias != args.model:
            raise ConfigError(f"--model {args.model}: the registry holds a {model.alias!r} model under that name; "
                              f"pass --model {model.alias} or another --name")
        _check_learned_horizon(model, args.horizon, f"retrain it with capforecast train --model {model.alias} "
                               f"--horizon {args.horizon} --registry {args.registry}"
                               f"{f' --name {args.name}' if args.name else ''}")
        if args.input:
            frame = read_input(args, args.input)
            if hasattr(model, "update"):  # global models forecast from the newer history without retraining
                model.update(frame)
            else:
                _check_against(model, frame)
    else:
        if not args.input:
            raise ConfigError("--input is required unless --registry names a trained model; e.g. --input demand.csv")
        model = build_model(args, args.horizon)
        _check_learned_horizon(model, args.horizon, f"drop --param horizon or use --param horizon={args.horizon}")
        frame = read_input(args, args.input)
        check_horizon(args.horizon, frame["ds"], frames.infer_step(frame), f"--horizon {args.horizon}")  # before fit
        model.fit(frame)
        print_selection(model)
    check_horizon(args.horizon, model.last_ds_, model.step_, f"--horizon {args.horizon}")
    forecast = model.predict(args.horizon, quantiles=levels)
    with outputs(out.parent, [out.name]) as stage:  # replaces only a file capforecast wrote
        write_frame(forecast, stage / out.name)
    print(f"wrote {len(forecast)} rows ({forecast['unique_id'].nunique()} series x {args.horizon} steps) "
          f"to {args.out}")
    return 0
