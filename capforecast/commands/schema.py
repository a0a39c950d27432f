"""``capforecast schema pools|nightly``: print the JSON Schema of a file, for editors to complete and check it.

VS Code (the YAML extension) reads it from a first line ``# yaml-language-server: $schema=pools.schema.json``.
``--table`` prints the key table of the docs instead (docs/planning.md for pools, docs/nightly.md for nightly).
"""

from __future__ import annotations

import argparse
import json

KINDS = ("pools", "nightly")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of the pools file or the nightly config (for editors)",
        description="Print the JSON Schema (draft 2020-12) of a pools file or of the nightly config, made from the "
        "same typed model that checks the files. Save it and point your editor at it, e.g. "
        "'capforecast schema pools > pools.schema.json' and, in the YAML file, "
        "'# yaml-language-server: $schema=pools.schema.json'.",
    )
    parser.add_argument("kind", choices=KINDS, help="which file: pools or nightly")
    parser.add_argument("--table", action="store_true",
                        help="print the markdown key table (key, default, meaning) of the docs instead")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.table:
        if args.kind == "pools":
            from capforecast.planning._pools_file import key_table
        else:
            from capforecast.config._docs import key_table
        print(key_table(), end="")
        return 0
    if args.kind == "pools":
        from capforecast.planning._pools_file import pools_schema as make
    else:
        from capforecast.config._docs import nightly_schema as make
    print(json.dumps(make(), indent=2))
    return 0
