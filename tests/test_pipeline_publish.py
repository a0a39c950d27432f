"""Publishing a nightly run: a failure at any step leaves a consistent last good state, the next run of the day
completes it, and nothing in the output folder that capforecast did not write is replaced or pruned."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from capforecast.config import load_config
from capforecast.errors import CapforecastError, OutputError
from capforecast.pipeline import run_nightly

from .test_pipeline import DAY1, DAY2, prom, pytestmark, snapshot, write_config  # noqa: F401 - fixture, skip


@pytest.fixture(scope="module")
def after_day1(prom, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A finished first night (config + state), copied by each test."""
    root = tmp_path_factory.mktemp("day1")
    run_nightly(load_config(write_config(root, prom.url)), now=DAY1)
    return root


@pytest.fixture
def site(after_day1: Path, tmp_path: Path) -> Path:
    shutil.copytree(after_day1, tmp_path / "site", symlinks=True)
    return tmp_path / "site"


def champions(state: Path) -> dict[str, str]:
    return {p: (state / "models" / p / "CHAMPION").read_text().strip() for p in ("a100", "h100")}


def at_publish(action: Callable[[], None]):
    def progress(step: str, index: int, total: int) -> None:
        if step == "publish":
            action()
    return progress


def test_a_failure_at_each_publishing_step_keeps_a_consistent_state_and_the_next_run_finishes(site: Path) -> None:
    cfg = load_config(site / "nightly.yaml")
    state, day2 = cfg.output.dir, cfg.output.runs_dir / "2026-05-22"
    first = champions(state)

    def fail(action: Callable[[], None], error: type[BaseException]) -> None:
        with pytest.raises(error):
            run_nightly(cfg, now=DAY2, progress=at_publish(action))
        assert not list(cfg.output.runs_dir.glob(".*staging*"))

    # 1. saving a model version fails (the pool's registry folder is a file): nothing visible changed
    models = state / "models"
    shutil.move(models / "h100", models / "h100.away")
    fail(lambda: (models / "h100").write_text("in the way"), FileExistsError)
    (models / "h100").unlink()
    shutil.move(models / "h100.away", models / "h100")
    assert os.readlink(state / "latest") == "runs/2026-05-21" and not day2.exists() and champions(state) == first

    # 2. the run folder cannot be moved in (a folder capforecast did not write appeared there): the same
    def foreign_run_dir() -> None:
        day2.mkdir()
        (day2 / "notes.txt").write_text("mine")

    fail(foreign_run_dir, OutputError)
    assert os.readlink(state / "latest") == "runs/2026-05-21" and champions(state) == first
    assert (day2 / "notes.txt").read_text() == "mine"
    shutil.rmtree(day2)

    # 3. latest cannot be swapped: the new run is complete in place, latest and the champions are the old ones
    blocker = state / f".latest.tmp-{os.getpid()}"
    fail(lambda: (blocker.mkdir(), (blocker / "x").write_text("x")), IsADirectoryError)
    assert (day2 / "run.json").is_file() and (day2 / "k8s" / "kustomization.yaml").is_file()
    assert os.readlink(state / "latest") == "runs/2026-05-21" and champions(state) == first
    shutil.rmtree(blocker)

    # 4. the next run of the day reuses the run, swaps latest and promotes what run.json records
    recorded = json.loads((day2 / "run.json").read_text())["registry_versions"]
    assert run_nightly(cfg, now=DAY2).status == "reused"
    assert os.readlink(state / "latest") == "runs/2026-05-22" and champions(state) == recorded


def test_a_failed_promotion_is_finished_by_the_next_run(site: Path) -> None:
    cfg = load_config(site / "nightly.yaml")
    state = cfg.output.dir
    pointer = state / "models" / "a100" / "CHAMPION"

    def obstruct() -> None:
        pointer.unlink()
        pointer.mkdir()

    with pytest.raises(CapforecastError, match="CHAMPION"):
        run_nightly(cfg, now=DAY2, progress=at_publish(obstruct))
    assert os.readlink(state / "latest") == "runs/2026-05-22"  # the run is published; a100 is not promoted
    pointer.rmdir()
    assert run_nightly(cfg, now=DAY2).status == "reused"
    recorded = json.loads((cfg.output.runs_dir / "2026-05-22" / "run.json").read_text())["registry_versions"]
    assert champions(state) == recorded


def test_a_latest_that_is_not_a_symlink_is_refused_before_any_work(site: Path) -> None:
    cfg = load_config(site / "nightly.yaml")
    state = cfg.output.dir
    (state / "latest").unlink()
    (state / "latest").mkdir()
    (state / "latest" / "mine.txt").write_text("mine")
    before = snapshot(state)
    with pytest.raises(OutputError, match="latest"):
        run_nightly(cfg, now=DAY2)
    assert snapshot(state) == before


def test_only_runs_capforecast_wrote_are_pruned(site: Path) -> None:
    config = site / "nightly.yaml"
    config.write_text(config.read_text().replace("keep_runs: 5", "keep_runs: 1"))
    cfg = load_config(config)
    mine = cfg.output.runs_dir / "2020-01-01"
    mine.mkdir()
    (mine / "plan.csv").write_text("my own plan\n")
    assert run_nightly(cfg, now=DAY2).status == "success"
    assert not (cfg.output.runs_dir / "2026-05-21").exists()  # capforecast's older run: pruned
    assert (mine / "plan.csv").read_text() == "my own plan\n"
    assert (cfg.output.runs_dir / "2026-05-22" / ".capforecast-manifest.json").is_file()
