"""Errors raised by capforecast.

Every error capforecast raises on purpose derives from :class:`CapforecastError`, and its message says what
happened, what was expected and how to fix it. The command line prints such an error as one line and exits
non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "CapforecastError",
    "ConfigError",
    "FrameError",
    "IngestError",
    "ModelError",
    "NotFittedError",
    "OutputError",
    "PlanningError",
    "spell",
]


class CapforecastError(Exception):
    """Base class of every error capforecast raises on purpose."""


class FrameError(CapforecastError, ValueError):
    """A series or forecast frame breaks its contract (columns, types, order, steps, values)."""


class ConfigError(CapforecastError, ValueError):
    """A configuration value (YAML file, pools file, CLI option) is missing or invalid."""


class NotFittedError(CapforecastError, ValueError, AttributeError):
    """A model was used before ``fit`` (like scikit-learn's, both a ValueError and an AttributeError)."""


class ModelError(CapforecastError):
    """A model cannot be trained, used, saved or loaded (e.g. too little history, a corrupt artifact)."""


class IngestError(CapforecastError):
    """Data could not be read from Prometheus or from a file."""


class PlanningError(CapforecastError):
    """A capacity plan cannot be built or emitted."""


class OutputError(CapforecastError):
    """An output cannot be written without losing something: the path holds files capforecast did not write, or
    it is also an input."""


def spell(options: Mapping[str, str] | None, *names: str, value: object = None) -> str:
    """How the caller writes arguments in the fix an error suggests: Python keywords unless ``options`` maps them.

    Functions whose errors name their own arguments take ``options`` and pass it here; the command line passes
    its flags, so its user reads ``--id-col`` where a Python user reads ``id_col=``. Arguments that ``options``
    does not map (the caller has no spelling for them) are left out.

    Examples
    --------
    >>> spell(None, "id_col", "time_col"), spell(None, "layout", value="wide")
    ('id_col=, time_col=', "layout='wide'")
    >>> spell({"layout": "--layout"}, "id_col", "layout", value="wide")
    '--layout wide'
    """
    if options is None:
        return ", ".join(f"{n}={value!r}" if value is not None else f"{n}=" for n in names)
    return ", ".join(f"{options[n]} {value}" if value is not None else options[n] for n in names if n in options)
