"""What capforecast wrote, and the checks that keep it from replacing anything else.

Every folder capforecast writes whole (``k8s/``, ``report/``, a saved model, a nightly run) holds a manifest,
``.capforecast-manifest.json``, listing each of its files with its sha256; every file a command writes into a
folder you name (``plan.csv``, ``forecast.csv``, ...) is listed in that folder's manifest. An existing path is
replaced only when it is capforecast's:

- a folder: empty, or every file under it is listed, unchanged, in a manifest of its own folder or of a folder
  above it (up to the one being replaced);
- a file: listed, unchanged, in the manifest of its folder or a folder above; or, for files written before
  manifests existed, a text file whose first line (a CSV header, a title) is the one capforecast writes there.

Anything else is an :class:`~capforecast.errors.OutputError` naming the path and the fix, raised before any
file is touched. See docs/outputs.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from capforecast.errors import OutputError

__all__ = ["MANIFEST", "check_file", "check_folder", "check_not_inputs", "is_ours", "mark_folder", "outputs",
           "precheck", "record_files"]

MANIFEST = ".capforecast-manifest.json"
#: Recognises a folder written by a capforecast from before manifests (its known layout).
Legacy = Callable[[Path], bool]
_FIX = "choose another output path (--out) or move it away"


def _sha256(path: Path, sync: bool = False) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
        if sync:
            os.fsync(fh.fileno())
    return digest.hexdigest()


def _listed(folder: Path) -> dict[str, str]:
    """The files a folder's manifest lists (``{}`` without a readable manifest)."""
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = doc["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _entry(path: Path, top: Path | None = None) -> bool | None:
    """Whether ``path`` (a file) is unchanged since capforecast listed it in the manifest of its folder or of one
    above (to ``top``); None when no manifest lists it."""
    for folder in path.parents:
        listed = _listed(folder)
        rel = path.relative_to(folder).as_posix()
        if rel in listed:
            return listed[rel] == _sha256(path)
        if top is not None and folder == top:
            break
    return None


def _recorded(path: Path, top: Path | None = None) -> bool:
    """Whether ``path`` (a file) is listed unchanged in the manifest of its folder or of one above (to ``top``)."""
    return bool(_entry(path, top))


def mark_folder(folder: str | os.PathLike[str]) -> None:
    """Write ``folder``'s manifest listing every file under it: capforecast wrote this folder.

    Every file and folder under it is synced to disk on the way, so once the folder is renamed into place a
    power cut cannot leave it with empty files.
    """
    from capforecast import __version__
    from capforecast._io import fsync_dir, write_text

    root = Path(folder)
    paths = sorted(root.rglob("*"))
    files = {p.relative_to(root).as_posix(): _sha256(p, sync=True) for p in paths
             if p.is_file() and p != root / MANIFEST}
    for p in paths:
        if p.is_dir():
            fsync_dir(p)
    write_text(root / MANIFEST, json.dumps({"written_by": f"capforecast {__version__}", "files": files},
                                           indent=1, sort_keys=True) + "\n")


def record_files(folder: str | os.PathLike[str], names: Iterable[str]) -> None:
    """Add files (relative to ``folder``) to ``folder``'s manifest, keeping what it already lists."""
    from capforecast import __version__
    from capforecast._io import write_text

    root = Path(folder)
    files = _listed(root)
    files.update({name: _sha256(root / name) for name in names if (root / name).is_file()})
    write_text(root / MANIFEST, json.dumps({"written_by": f"capforecast {__version__}", "files": files},
                                           indent=1, sort_keys=True) + "\n")


def _foreign(folder: Path, legacy: Legacy | None = None) -> Path | None:
    """The first thing under ``folder`` that capforecast did not write, or None (the folder itself if it has no
    manifest; ``legacy``: recognises a folder capforecast wrote before manifests, accepted without one)."""
    if not any(folder.iterdir()):
        return None
    if not (folder / MANIFEST).is_file():
        return None if legacy is not None and legacy(folder) else folder
    for path in sorted(folder.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        if path.parent == folder and path.name == MANIFEST:
            continue
        if path.is_symlink() or not _recorded(path, folder):
            return path
    return None


def is_ours(folder: str | os.PathLike[str], legacy: Legacy | None = None) -> bool:
    """Whether ``folder`` is a folder capforecast wrote that nobody changed since (see the module docstring)."""
    path = Path(folder)
    return path.is_dir() and not path.is_symlink() and _foreign(path, legacy) is None


def check_folder(path: str | os.PathLike[str], legacy: Legacy | None = None) -> None:
    """Raise :class:`OutputError` unless ``path`` is absent or a folder capforecast may replace."""
    target = Path(path)
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        raise OutputError(f"{target} is a symlink (to {os.readlink(target)}), where capforecast writes a folder; "
                          f"{_FIX}")
    if not target.is_dir():
        raise OutputError(f"{target} is a file, where capforecast writes a folder; {_FIX}")
    bad = _foreign(target, legacy)
    if bad == target:
        raise OutputError(f"{target} was not written by capforecast (it has no {MANIFEST}), so it is not replaced; "
                          f"{_FIX}")
    if bad is not None:
        raise OutputError(f"{bad} was not written by capforecast (added or changed since), and replacing {target} "
                          f"would delete it; {_FIX}")


def _first_line(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.readline(4096).rstrip(b"\r\n")


def check_file(path: str | os.PathLike[str], new: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`OutputError` unless ``path`` is absent or a file capforecast may replace.

    ``new`` is the file about to replace it, for recognising an output written before manifests by its first
    line; without it (a check before any work) such a text file is let through, to be checked when ``new``
    exists, and only what can never be replaced is refused.
    """
    target = Path(path)
    if not os.path.lexists(target):
        return
    if target.is_dir() and not target.is_symlink():
        raise OutputError(f"{target} is a folder, where capforecast writes a file; {_FIX}")
    entry = _entry(target) if target.is_file() and not target.is_symlink() else None
    if entry:
        return
    if entry is False:  # listed, then edited: the first-line rule is for files from before manifests only
        raise OutputError(f"{target} was changed since capforecast wrote it, so it is not replaced; {_FIX}")
    line = _first_line(target) if target.is_file() and not target.is_symlink() else b""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:  # binary (a PNG): only a manifest says whose it is
        text = ""
    if "\0" not in text and any(c.isalpha() for c in text) and (new is None or line == _first_line(Path(new))):
        return
    manifest = target.parent / MANIFEST
    why = (f" (its folder's {MANIFEST} cannot be read: edited or corrupt)"
           if manifest.exists() and not _listed(target.parent) else "")
    raise OutputError(f"{target} exists and was not written by capforecast{why}, so it is not replaced; {_FIX}")


def precheck(out: str | os.PathLike[str], names: Iterable[str], folders: Collection[str] = ()) -> None:
    """Refuse, before any work, the targets in ``out`` that :func:`outputs` would refuse whatever is written."""
    root = Path(out)
    if os.path.lexists(root) and not root.is_dir():
        raise OutputError(f"{root} is a file, where capforecast writes a folder; {_FIX}")
    _check_writable(root)
    for name in names:
        if name in folders:
            check_folder(root / name)
        else:
            check_file(root / name)


def _check_writable(root: Path) -> None:
    """Refuse a folder that cannot be made or written (a file on its path, no permission, a read-only or virtual
    file system) before any work: a probe folder is made and removed in the nearest folder that exists."""
    base = root
    while not os.path.lexists(base) and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise OutputError(f"{root}: Not a directory; a part of the path is a file, not a folder ({base}): choose "
                          "another path or move that file")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".capforecast-probe-", dir=base))
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise OutputError(f"{root}: capforecast cannot write in {base} ({why}); choose a folder you may write to "
                          "(--out)") from None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_not_inputs(outputs: Iterable[str | os.PathLike[str] | None],
                     inputs: Mapping[str, str | os.PathLike[str] | None], flag: str = "--out") -> None:
    """Raise :class:`OutputError` if an output path (written for option ``flag``) is, holds or lies inside an
    input (``{option: path}``); paths are compared after resolving symlinks, files also with
    :func:`os.path.samefile` (hard links)."""
    for out in outputs:
        if out is None:
            continue
        real_out = os.path.realpath(out)
        for option, src in inputs.items():
            if src is None or not os.path.exists(src):
                continue
            real_in = os.path.realpath(src)
            same = os.path.exists(out) and os.path.samefile(src, out)
            if same or _inside(real_in, real_out) or (os.path.isdir(src) and _inside(real_out, real_in)):
                raise OutputError(f"{flag} would write {out}, which is the input {option} {src}; write the "
                                  "output to another path")


@contextlib.contextmanager
def outputs(out: str | os.PathLike[str], names: Sequence[str],
            folders: Collection[str] = ()) -> Iterator[Path]:
    """Yield a staging folder inside ``out``; on success move each of ``names`` from it into ``out``.

    Every target is checked first (``folders``: the names that are folders, the rest are files): if any is not
    capforecast's, nothing is moved and :class:`OutputError` is raised. Then each is moved in (see
    :func:`capforecast._io.publish`) and the files are recorded in ``out``'s manifest. On any error the staging
    folder is deleted, and so is ``out`` if this call created it and it is still empty.
    """
    from capforecast._io import make_temp_dir, publish

    root = Path(out)
    precheck(root, names, folders)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    stage = make_temp_dir(root, ".capforecast-stage-")
    try:
        yield stage
        for name in names:
            if name in folders:
                check_folder(root / name)
            else:
                check_file(root / name, stage / name)
        for name in names:
            publish(stage / name, root / name)
        record_files(root, [n for n in names if n not in folders])
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                root.rmdir()  # only if still empty
