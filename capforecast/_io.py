"""Atomic file and directory writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import shutil
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from capforecast.errors import CapforecastError

__all__ = ["atomic_dir", "atomic_path", "fsync_dir", "make_temp_dir", "publish", "write_frame", "write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, on error delete it.

    The file gets ``mode`` if given (e.g. 0o644 for a file another user's process reads whatever the umask),
    else the mode ``open()`` would give it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_frame(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a frame to ``.csv`` or ``.parquet`` (chosen by the suffix) atomically; timestamps stay UTC."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CapforecastError(f"cannot write {target}: use a .csv or .parquet file name")
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        else:
            df.to_parquet(tmp, index=False)
    return target


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; on success swap it in place of ``path``.

    The finished folder gets capforecast's ownership manifest (see :mod:`capforecast._owned`). An existing
    ``path`` is replaced only if capforecast wrote it (:class:`~capforecast.errors.OutputError` otherwise); it is
    kept until the new directory is complete, then swapped out (see :func:`publish`) and deleted. On any error
    the temporary directory is deleted and ``path`` is left exactly as it was.
    """
    from capforecast import _owned

    target = Path(path)
    _owned.check_folder(target)  # refuse before any work
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(target.parent, f".{target.name}.")
    try:
        yield tmp
        _owned.mark_folder(tmp)
        _owned.check_folder(target)  # again: something may have appeared there meanwhile
        publish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def make_temp_dir(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A new uniquely named directory in ``parent`` with the mode ``mkdir`` gives (``mkdtemp`` makes 0700)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def publish(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Move a finished file or folder ``src`` over ``dst`` and delete what ``dst`` held.

    A file is moved by one rename: ``dst`` names the old file or the new one at every moment. A folder over an
    existing folder is swapped in one step with Linux's ``renameat2(RENAME_EXCHANGE)``, so ``dst`` is never
    missing either; where that call is unsupported (other systems, some file systems) the old folder is renamed
    aside and the new one renamed in, and ``dst`` is missing for the moment between the two renames (a crash
    there leaves the old folder as ``.<name>.old-<hex>`` beside it). ``dst`` is never half-written. The parent
    directory is synced afterwards, so the change survives a power cut.
    """
    src, dst = Path(src), Path(dst)
    if src.is_dir() and dst.is_dir() and not dst.is_symlink():
        if _exchange(src, dst):  # src now holds the old folder
            shutil.rmtree(src, ignore_errors=True)
        else:
            old = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(dst, old)
            os.replace(src, dst)
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)
    fsync_dir(dst.parent)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM}


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` atomically; False where the system cannot (then nothing changed)."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load
        return None


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Sync a directory's entries to disk (after a rename into it); a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory; the rename itself is done
        pass
    finally:
        os.close(fd)


def _umask(status: str = "/proc/self/status") -> int:
    """The process umask, read without changing it.

    ``os.umask`` can only read it by setting it, which for a moment changes it for every thread of the process
    (files created meanwhile would get the wrong mode). Linux reports it in ``/proc/self/status``; elsewhere a
    probe folder made with mode 0777 in a private temporary folder shows which bits the umask removes.
    """
    try:
        with open(status, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with tempfile.TemporaryDirectory() as private:
        probe = os.path.join(private, "probe")
        os.mkdir(probe, 0o777)
        return 0o777 & ~stat.S_IMODE(os.stat(probe).st_mode)
