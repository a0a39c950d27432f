"""Hyperparameters on disk: JSON that loads back with the same types, joblib for what JSON cannot hold.

``Forecaster.save`` writes ``encode_params`` into ``metadata.json`` (and ``params.joblib`` when needed);
``load_model`` rebuilds the model from ``decode_params``. A tuple stays a tuple, an int an int, a NumPy number
or a path keeps its type: nothing comes back as a ``repr`` string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from capforecast.errors import ModelError

__all__ = ["PICKLED_PARAMS_FILE", "decode_params", "encode_params", "jsonable"]

PICKLED_PARAMS_FILE = "params.joblib"
_TUPLE, _JOBLIB = "__tuple__", "__joblib__"


def encode_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Hyperparameters as JSON that :func:`decode_params` turns back into equal values of the same types.

    ``None``, ``bool``, ``int``, ``float``, ``str`` and lists, tuples (tagged ``{"__tuple__": [...]}``) and
    str-keyed dicts of them are stored as JSON; any other value (a NumPy number, a path, an object) is
    returned in the second dict, to be stored with joblib, and shown in the JSON as ``{"__joblib__": repr}``.

    Examples
    --------
    >>> encode_params({"quantiles": (0.1, 0.9), "season": "daily"})
    ({'quantiles': {'__tuple__': [0.1, 0.9]}, 'season': 'daily'}, {})
    """
    encoded: dict[str, Any] = {}
    pickled: dict[str, Any] = {}
    for key, value in params.items():
        try:
            encoded[key] = _encode(value)
        except TypeError:
            encoded[key] = {_JOBLIB: repr(value)}
            pickled[key] = value
    return encoded, pickled


def decode_params(params: Mapping[str, Any], pickled_file: Path | None = None) -> dict[str, Any]:
    """The hyperparameters :func:`encode_params` wrote (plain JSON of older versions is taken as it is)."""
    decoded = {key: _decode(value) for key, value in params.items()}
    wanted = [k for k, v in params.items() if isinstance(v, dict) and set(v) == {_JOBLIB}]
    if wanted:
        if pickled_file is None or not pickled_file.is_file():
            raise ModelError(f"parameters {wanted} were stored in {PICKLED_PARAMS_FILE}, which is missing; the "
                             "artifact is incomplete: retrain and save again")
        stored = joblib.load(pickled_file)
        decoded.update({k: stored[k] for k in wanted})
    return decoded


def _encode(value: Any) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        items = [_encode(v) for v in value]
        return items if type(value) is list else {_TUPLE: items}
    if type(value) is dict and all(type(k) is str for k in value) and not {_TUPLE, _JOBLIB} & set(value):
        return {k: _encode(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {_TUPLE}:
            return tuple(_decode(v) for v in value[_TUPLE])
        return {k: _decode(v) for k, v in value.items()}
    return value


def jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """A readable JSON copy of ``params`` (registry metadata, scores): tuples become lists, others ``repr``."""
    out = {}
    for key, value in params.items():
        try:
            json.dumps(value)
            out[key] = value
        except TypeError:
            out[key] = value.tolist() if isinstance(value, np.ndarray) else list(value) \
                if isinstance(value, tuple) else repr(value)
    return out
