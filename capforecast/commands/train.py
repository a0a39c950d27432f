"""``capforecast train``: fit a model on a series file and save it as a new version in a model registry."""

from __future__ import annotations

import argparse
import logging

from capforecast.commands._inputargs import add_input_options, read_input
from capforecast.commands._modelargs import add_model_options, build_model, print_selection

logger = logging.getLogger("capforecast.train")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fit a model on a series file and save it to a model registry (a new version)",
        description="Fit --model on --input (CSV/parquet series frame: unique_id, ds, y and optional exogenous "
        "columns) and save it as the next version of --name under --registry. Prints the version. Example: "
        "capforecast train --input demand.csv --model lstm --registry models --promote",
    )
    parser.add_argument("--input", required=True, help="series file (.csv or .parquet): unique_id, ds, y")
    add_input_options(parser)
    add_model_options(parser)
    parser.add_argument("--registry", default="models", help="registry root directory (default: models)")
    parser.add_argument("--name", default=None, help="registry name of the model (default: the --model alias)")
    parser.add_argument("--horizon", type=int, default=None,
                        help="steps ahead the model must forecast (lstm, gbm; default: the model's, 48)")
    parser.add_argument("--promote", action="store_true", help="make the new version the champion")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from capforecast import registry
    from capforecast._owned import check_not_inputs
    from capforecast.errors import ConfigError

    if args.horizon is not None and args.horizon < 1:
        raise ConfigError(f"--horizon must be >= 1 step, got {args.horizon}; e.g. --horizon 48")
    name = args.name or args.model
    check_not_inputs([Path(args.registry) / name], {"--input": args.input}, flag="--registry")
    if args.promote:  # before any work: a refused promote must not leave a new version behind
        registry.check_promotable(name, args.registry)
    frame = read_input(args, args.input)
    model = build_model(args, args.horizon).fit(frame)
    print_selection(model)
    version = registry.save(model, name, root=args.registry, frame=frame,
                            metadata={"input": str(args.input)})
    if args.promote:
        registry.promote(name, version, root=args.registry)
    for uid, reason in getattr(model, "fallbacks_", {}).items():
        logger.warning("series %s: %s", uid, reason)
    print(f"{name} {version}{' (champion)' if args.promote else ''} saved under {args.registry}")
    return 0
