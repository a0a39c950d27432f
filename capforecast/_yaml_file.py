"""Reading a YAML settings file (the pools file, the nightly config): one line naming the file and the fix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from capforecast.errors import ConfigError

__all__ = ["read_yaml_file"]


def read_yaml_file(path: str | os.PathLike[str], kind: str, example: str) -> Any:
    """The parsed YAML of ``path``; ``kind`` names the file in errors (``pools file``), ``example`` is the fix.

    Examples
    --------
    >>> read_yaml_file("/nonexistent/pools.yaml", "pools file", "--pools examples/pools.yaml")
    Traceback (most recent call last):
    capforecast.errors.ConfigError: pools file /nonexistent/pools.yaml does not exist; pass an existing YAML file, \
e.g. --pools examples/pools.yaml
    """
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{kind} {p} does not exist; pass an existing YAML file, e.g. {example}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} {p} ({exc.strerror}); check its permissions or pass another file, "
                          f"e.g. {example}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{kind} {p} is not UTF-8 text (a binary or compressed file?); pass the YAML file, "
                          f"e.g. {example}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", exc)).split())  # one line: PyYAML's messages have several
        raise ConfigError(f"{kind} {p.name}: not valid YAML{where}; fix the syntax ({problem})") from None
