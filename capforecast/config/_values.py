"""Reading one value of the config (a mapping, string, duration, number, path or secret reference)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._units import parse_duration
from capforecast.config._types import SecretRef
from capforecast.errors import ConfigError

_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _ValueReader:
    """Reads and checks one value at a time; every error names ``label: key.path`` and the fix."""

    def __init__(self, label: str, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.label, self.base_dir, self.environ = label, base_dir, environ

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.label}: {key}: {problem}")

    def mapping(
        self, value: Any, key: str, *, required: tuple[str, ...] = (), allowed: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        where = key or "the top level"
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(
                where,
                f"expected a mapping of keys, got {type(value).__name__}; "
                "see deploy/nightly.example.yaml for the layout",
            )
        prefix = f"{key}." if key else ""
        if allowed is not None:
            unknown = sorted(str(k) for k in value if k not in allowed)
            if unknown:
                raise self.fail(f"{prefix}{unknown[0]}", f"unknown key; remove it or use one of {list(allowed)}")
        for name in required:
            if value.get(name) is None:
                raise self.fail(f"{prefix}{name}", "is required; add it (see deploy/nightly.example.yaml)")
        return dict(value)

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def duration(self, value: Any, key: str, *, positive: bool = True) -> pd.Timedelta:
        try:
            td = parse_duration(value, name=key, allow_numbers=False)  # YAML 15 is no duration: 15m? 15s?
        except ConfigError as exc:
            raise self.fail(key, str(exc).split(": ", 1)[-1]) from None
        if positive and td <= pd.Timedelta(0):
            raise self.fail(key, f"must be longer than zero, got {value!r}; write e.g. '1h'")
        return td

    def integer(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def path(self, value: Any, key: str) -> Path:
        p = Path(os.path.expanduser(self.text(value, key)))
        return p if p.is_absolute() else (self.base_dir / p)

    def secret(self, value: Any, key: str) -> SecretRef:
        if isinstance(value, str):
            raise self.fail(
                key,
                "secrets may not be written in the config; reference them instead: "
                "{env: PROM_TOKEN} or {file: /var/run/secrets/prometheus/token}",
            )
        m = self.mapping(value, key, allowed=("env", "file"))
        if len(m) != 1:
            raise self.fail(key, "give exactly one of env: VAR or file: PATH")
        if "env" in m:
            name = self.text(m["env"], f"{key}.env")
            if not _ENV_RE.match(name):
                raise self.fail(f"{key}.env", f"{name!r} is not an environment variable name; e.g. PROM_TOKEN")
            return SecretRef(env=name)
        return SecretRef(file=self.path(m["file"], f"{key}.file"))
