"""Atomic writes: folder swaps that never leave the target missing, modes from the umask read without
changing it, temporary folders with the mode mkdir gives."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from capforecast import _io


@pytest.fixture
def umask_027():
    old = os.umask(0o027)  # the test sets the umask; the code under test only reads it
    try:
        yield 0o027
    finally:
        os.umask(old)


def test_the_umask_is_read_without_calling_os_umask(umask_027, monkeypatch):
    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask changes the umask of every thread of the process")

    monkeypatch.setattr(os, "umask", forbidden)
    assert _io._umask() == umask_027
    assert _io._umask(status="/nonexistent/status") == umask_027  # the probe folder, where /proc is missing


def test_temporary_and_registry_folders_follow_the_umask(umask_027, tmp_path):
    from capforecast import registry
    from capforecast.ingest.sample import make_sample
    from capforecast.models import SeasonalNaive

    frame = make_sample(days=8, pools=["a100-train"])
    version = registry.save(SeasonalNaive().fit(frame), "gpu", root=tmp_path / "models", frame=frame)
    assert stat.S_IMODE((tmp_path / "models" / "gpu" / version).stat().st_mode) == 0o750  # was 0700 (mkdtemp)
    assert stat.S_IMODE((tmp_path / "models" / "gpu" / version / "registry.json").stat().st_mode) == 0o640
    assert stat.S_IMODE(_io.make_temp_dir(tmp_path, ".x-").stat().st_mode) == 0o750


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "f.txt").write_text(text)
    return path


def test_publish_swaps_a_folder_in_without_a_moment_when_it_is_missing(tmp_path):
    a, b = _folder(tmp_path / "a", "a"), _folder(tmp_path / "b", "b")
    if not _io._exchange(a, b):
        pytest.skip("this system cannot exchange two names atomically (renameat2 RENAME_EXCHANGE)")
    assert (a / "f.txt").read_text() == "b" and (b / "f.txt").read_text() == "a"
    for p in (a, b):
        (p / "f.txt").unlink()
        p.rmdir()
    dst = _folder(tmp_path / "dst", "0")
    missing, stop = [], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if not dst.is_dir():
                missing.append(1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(1, 200):
            _io.publish(_folder(tmp_path / f"new{i}", str(i)), dst)
    finally:
        stop.set()
        watcher.join()
    assert (dst / "f.txt").read_text() == "199"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst"]  # every old folder deleted
    assert not missing, f"dst was missing {len(missing)} times"


def test_publish_falls_back_to_two_renames_where_the_exchange_is_unsupported(tmp_path, monkeypatch):
    monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    dst = _folder(tmp_path / "dst", "old")
    _io.publish(_folder(tmp_path / "new", "new"), dst)
    assert (dst / "f.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst"]


def test_publish_replaces_a_file_in_one_rename(tmp_path):
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("old")
    _io.publish(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_text() == "new" and not (tmp_path / "a").exists()


def test_state_writes_and_marked_folders_are_synced_to_disk(tmp_path, monkeypatch):
    from capforecast._owned import mark_folder

    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:  # the OS call, watched: which files and folders reach the disk
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to name a descriptor")
    monkeypatch.setattr(os, "fsync", spy)
    _io.write_text(tmp_path / "run.json", "{}\n")
    assert any(Path(p).name.startswith(".run.json.") for p in synced) and str(tmp_path) in synced
    synced.clear()
    (tmp_path / "run" / "k8s").mkdir(parents=True)
    (tmp_path / "run" / "k8s" / "a.yaml").write_text("a: 1\n")
    mark_folder(tmp_path / "run")
    assert {str(tmp_path / "run" / "k8s" / "a.yaml"), str(tmp_path / "run" / "k8s")} <= set(synced)
