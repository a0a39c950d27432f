"""A versioned store of trained models on disk (default root ``models/``).

Layout::

    models/<name>/v0001/model/...        the model as written by Forecaster.save
    models/<name>/v0001/registry.json    metadata + sha256 of every file of the version
    models/<name>/CHAMPION               the promoted version (one line)

A version directory appears complete or not at all (written under a temporary name, then renamed), and two
writers never get the same version. :func:`load` checks every file against its recorded checksum and the
model against the metadata, so a corrupt or mismatched artifact is a :class:`~capforecast.errors.ModelError`,
not a crash. Keras networks are loaded in safe mode.

Examples
--------
>>> import tempfile
>>> from capforecast.models import SeasonalNaive
>>> from capforecast.ingest.sample import make_sample
>>> root = tempfile.mkdtemp()
>>> frame = make_sample(days=14, pools=["a100-train"])
>>> save(SeasonalNaive().fit(frame), "gpu-demand", root=root, frame=frame)
'v0001'
>>> promote("gpu-demand", "v0001", root=root)
>>> load("gpu-demand", "champion", root=root).alias
'seasonal_naive'
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import re
import shutil
from collections.abc import Mapping
from importlib import metadata as _im
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._io import make_temp_dir, write_text
from capforecast.errors import ModelError
from capforecast.models.base import Forecaster, jsonable, load_model

__all__ = ["DEFAULT_ROOT", "check_promotable", "list_models", "load", "load_metadata", "promote", "resolve", "save",
           "versions"]

DEFAULT_ROOT = "models"
_META = "registry.json"
_CHAMPION = "CHAMPION"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_VERSION_RE = re.compile(r"^v(\d{4,})$")
_LIBRARIES = ("numpy", "pandas", "scikit-learn", "statsmodels", "keras", "tensorflow", "joblib")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ModelError(
            f"registry: invalid model name {name!r}; use letters, digits, '.', '_' or '-' (e.g. 'gpu-demand')"
        )
    return name


def versions(name: str, root: str | os.PathLike[str] = DEFAULT_ROOT) -> list[str]:
    """Complete versions of ``name``, oldest first (``[]`` if none)."""
    base = Path(root) / _check_name(name)
    if not base.is_dir():
        return []
    found = [p.name for p in base.iterdir() if p.is_dir() and _VERSION_RE.match(p.name) and (p / _META).is_file()]
    return sorted(found, key=lambda v: int(v[1:]))


def resolve(name: str, version: str = "latest", root: str | os.PathLike[str] = DEFAULT_ROOT) -> str:
    """Turn ``'latest'``, ``'champion'`` or ``'v0003'`` / ``'3'`` into an existing version, or raise."""
    have = versions(name, root)
    if not have:
        raise ModelError(
            f"registry: no saved versions of model {name!r} under {root}; train one first "
            f"(capforecast train --registry {root} ...) or check --registry"
        )
    if version == "latest":
        return have[-1]
    if version == "champion":
        pointer = Path(root) / name / _CHAMPION
        if not pointer.is_file():
            raise ModelError(
                f"registry: model {name!r} has no champion yet; promote a version first, e.g. "
                f"capforecast.registry.promote({name!r}, {have[-1]!r}, root={str(root)!r}), or load 'latest'"
            )
        champ = pointer.read_text(encoding="utf-8").strip()
        if champ not in have:
            raise ModelError(
                f"registry: the champion of {name!r} points to {champ!r}, which does not exist; promote an "
                f"existing version ({', '.join(have[-3:])})"
            )
        return champ
    text = str(version)
    candidate = f"v{int(text):04d}" if text.isdigit() else text
    if candidate not in have:
        raise ModelError(
            f"registry: model {name!r} has no version {version!r}; available: {', '.join(have[-10:])}, "
            "'latest' or 'champion'"
        )
    return candidate


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checksums(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): _sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != _META
    }


def fingerprint(frame: pd.DataFrame) -> str:
    """A sha256 of a series frame's content (ids, times, values of every column, in order)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    cols = ",".join(map(str, frame.columns)).encode()
    return hashlib.sha256(cols + hashed.tobytes()).hexdigest()


def _library_versions() -> dict[str, str | None]:
    """The versions of the libraries a model depends on."""
    return dict(_read_library_versions())


@functools.lru_cache(maxsize=1)
def _read_library_versions() -> tuple[tuple[str, str | None], ...]:
    """Read once per process: 7 metadata lookups cost about 2 ms, and a fleet saves thousands of versions."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for lib in _LIBRARIES:
        try:
            out[lib] = _im.version(lib)
        except _im.PackageNotFoundError:
            out[lib] = None
    from capforecast import __version__

    out["capforecast"] = __version__
    return tuple(out.items())


def save(
    model: Forecaster,
    name: str,
    root: str | os.PathLike[str] = DEFAULT_ROOT,
    metadata: Mapping[str, Any] | None = None,
    *,
    frame: pd.DataFrame | None = None,
    scores: Mapping[str, Any] | None = None,
    same_as: tuple[str, str] | None = None,
) -> str:
    """Save a fitted model as the next version of ``name`` and return that version (``'v0001'``, ...).

    ``frame`` (the training data) adds its fingerprint; ``scores`` (e.g. backtest MASE) and ``metadata`` (any
    JSON-able extras) are stored as given. ``same_as``: ``(name, version)`` already saved from this very
    model object; its model files are hard-linked (copied where a link is impossible) instead of written
    again, so a global model shared by many pools is serialised once, not once per pool.
    """
    _check_name(name)
    if not isinstance(model, Forecaster):
        raise ModelError(f"registry: can only save capforecast models, got {type(model).__name__}")
    model._check_fitted()
    base = Path(root) / name
    base.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(base, ".incoming-")  # with the umask's mode, like every other output
    try:
        if same_as is None:
            model.save(tmp / "model")
            files = _checksums(tmp)
        else:
            source = load_metadata(*same_as, root=root)
            shutil.copytree(Path(root) / same_as[0] / source["version"] / "model", tmp / "model",
                            copy_function=_link_or_copy)
            files = dict(source["files"])
        meta = {
            "name": name,
            "alias": model.alias,
            "class": f"{type(model).__module__}:{type(model).__qualname__}",
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "params": jsonable(model.get_params()),
            "step": str(model.step_),
            "training_window": {"start": str(min(model.first_ds_)), "end": str(max(model.last_ds_))},
            "series_ids": list(model.ids_),
            "fallbacks": dict(getattr(model, "fallbacks_", {})),
            "data_fingerprint": fingerprint(frame) if frame is not None else None,
            "scores": jsonable(dict(scores)) if scores else {},
            "extra": jsonable(dict(metadata)) if metadata else {},
            # auto: the choice per series, every candidate's backtest scores and the reason
            "selection": selection() if callable(selection := getattr(model, "selection", None)) else None,
            "libraries": _library_versions(),
            "files": files,
        }
        write_text(tmp / _META, json.dumps(meta, indent=2, sort_keys=True, default=str))
        have = versions(name, root)
        number = int(have[-1][1:]) + 1 if have else 1
        while True:
            version = f"v{number:04d}"
            try:
                os.rename(tmp, base / version)  # fails if a concurrent writer took this number
                return version
            except OSError:
                if not (base / version).exists():
                    raise
                number += 1
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a copy holds the same bytes
        shutil.copy2(src, dst)


def load_metadata(name: str, version: str = "latest", root: str | os.PathLike[str] = DEFAULT_ROOT) -> dict:
    """The metadata of a version (``version`` as in :func:`resolve`), with ``'version'`` added."""
    resolved = resolve(name, version, root)
    path = Path(root) / name / resolved / _META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or "files" not in meta or "alias" not in meta:
            raise ValueError("missing keys")
    except (OSError, ValueError) as exc:
        raise ModelError(f"registry: {path} is unreadable or corrupt ({exc}); load another version or retrain") \
            from None
    meta["version"] = resolved
    return meta


def load(name: str, version: str = "latest", root: str | os.PathLike[str] = DEFAULT_ROOT) -> Forecaster:
    """Load a version of ``name`` (``'latest'``, ``'champion'`` or e.g. ``'v0003'``), verified against its
    checksums and metadata."""
    meta = load_metadata(name, version, root)
    directory = Path(root) / name / meta["version"]
    actual = _checksums(directory)
    expected = meta["files"]
    changed = sorted(k for k in set(actual) | set(expected) if actual.get(k) != expected.get(k))
    if changed:
        raise ModelError(
            f"registry: {directory} is corrupt: {', '.join(changed[:3])} changed, missing or added since it was "
            "saved; load another version or retrain"
        )
    model = load_model(directory / "model")
    if model.alias != meta["alias"] or list(getattr(model, "ids_", [])) != list(meta.get("series_ids", [])):
        raise ModelError(
            f"registry: {directory} does not match its metadata (model {model.alias!r} vs {meta['alias']!r}, or "
            "different series); load another version or retrain"
        )
    return model


def promote(name: str, version: str, root: str | os.PathLike[str] = DEFAULT_ROOT) -> None:
    """Make ``version`` the champion of ``name`` (what ``load(name, 'champion')`` returns)."""
    resolved = resolve(name, version, root)
    check_promotable(name, root)
    write_text(Path(root) / name / _CHAMPION, resolved + "\n")


def check_promotable(name: str, root: str | os.PathLike[str] = DEFAULT_ROOT) -> None:
    """Raise :class:`ModelError` if ``name``'s champion pointer is something :func:`promote` must not replace
    (a file or folder capforecast did not write); call it before training a model that is to be promoted."""
    pointer = Path(root) / _check_name(name) / _CHAMPION
    if os.path.lexists(pointer) and not (pointer.is_file() and _VERSION_RE.match(_read_pointer(pointer))):
        raise ModelError(f"registry: {pointer} was not written by capforecast (a champion pointer holds one line "
                         "such as v0003), so it is not replaced; move it away and promote again")


def _read_pointer(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def list_models(root: str | os.PathLike[str] = DEFAULT_ROOT) -> pd.DataFrame:
    """One row per saved version: ``name``, ``version``, ``alias``, ``created_at``, ``champion``, ``end``."""
    rows = []
    base = Path(root)
    for entry in sorted(base.iterdir()) if base.is_dir() else []:
        if not entry.is_dir() or not _NAME_RE.match(entry.name):
            continue
        pointer = entry / _CHAMPION
        champ = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else None
        for version in versions(entry.name, root):
            meta = load_metadata(entry.name, version, root)
            rows.append({"name": entry.name, "version": version, "alias": meta["alias"],
                         "created_at": meta["created_at"], "champion": version == champ,
                         "end": meta["training_window"]["end"]})
    return pd.DataFrame(rows, columns=["name", "version", "alias", "created_at", "champion", "end"])
