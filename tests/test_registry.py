import json
import threading

import pandas as pd
import pytest

from capforecast import registry
from capforecast.errors import ModelError
from capforecast.models import SeasonalNaive, get_model


@pytest.fixture
def fitted(frame):
    return SeasonalNaive().fit(frame), frame


def test_save_load_latest_and_versions(tmp_path, fitted):
    model, frame = fitted
    v1 = registry.save(model, "demand", root=tmp_path, frame=frame, scores={"mase": 0.9})
    v2 = registry.save(model, "demand", root=tmp_path)
    assert (v1, v2) == ("v0001", "v0002")
    assert registry.versions("demand", root=tmp_path) == ["v0001", "v0002"]
    again = registry.load("demand", root=tmp_path)
    pd.testing.assert_frame_equal(model.predict(24, [0.5, 0.9]), again.predict(24, [0.5, 0.9]))
    meta = registry.load_metadata("demand", "1", root=tmp_path)
    assert meta["series_ids"] == ["a", "b"] and meta["scores"] == {"mase": 0.9}
    assert meta["training_window"]["end"].startswith("2026-01-18 23:00")
    assert meta["data_fingerprint"] == registry.fingerprint(frame)
    assert meta["params"] == {"season": "daily"} and meta["libraries"]["pandas"]


def test_champion_pointer(tmp_path, fitted):
    model, _ = fitted
    registry.save(model, "demand", root=tmp_path)
    with pytest.raises(ModelError, match="no champion yet; promote"):
        registry.load("demand", "champion", root=tmp_path)
    registry.save(get_model("naive").fit(fitted[1]), "demand", root=tmp_path)
    registry.promote("demand", "v0001", root=tmp_path)
    assert registry.load("demand", "champion", root=tmp_path).alias == "seasonal_naive"
    assert registry.load("demand", "latest", root=tmp_path).alias == "naive"
    table = registry.list_models(root=tmp_path)
    assert table["champion"].tolist() == [True, False]


def test_corrupt_or_mismatched_artifacts_are_clear_errors(tmp_path, fitted):
    model, _ = fitted
    registry.save(model, "demand", root=tmp_path)
    state = tmp_path / "demand" / "v0001" / "model" / "state.joblib"
    state.write_bytes(state.read_bytes()[:-10])
    with pytest.raises(ModelError, match="corrupt: model/state.joblib changed"):
        registry.load("demand", root=tmp_path)
    registry.save(model, "demand", root=tmp_path)
    (tmp_path / "demand" / "v0002" / "registry.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt"):
        registry.load("demand", "v0002", root=tmp_path)
    registry.save(model, "demand", root=tmp_path)
    meta_file = tmp_path / "demand" / "v0003" / "registry.json"
    meta = json.loads(meta_file.read_text())
    meta["alias"] = "lstm"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="does not match its metadata"):
        registry.load("demand", "v0003", root=tmp_path)


def test_missing_names_versions_and_bad_names(tmp_path, fitted):
    with pytest.raises(ModelError, match="no saved versions"):
        registry.load("nothing", root=tmp_path)
    registry.save(fitted[0], "demand", root=tmp_path)
    with pytest.raises(ModelError, match="no version 'v0009'"):
        registry.load("demand", "v0009", root=tmp_path)
    with pytest.raises(ModelError, match="invalid model name"):
        registry.save(fitted[0], "../escape", root=tmp_path)


def test_concurrent_saves_get_distinct_complete_versions(tmp_path, fitted):
    model, _ = fitted
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(registry.save(model, "d", root=tmp_path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == ["v0001", "v0002", "v0003", "v0004"]
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".")]
    for v in got:
        registry.load("d", v, root=tmp_path)


def test_auto_selection_is_recorded_in_the_registry_and_printed(tmp_path, capsys):
    from pathlib import Path

    from capforecast.cli import main

    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "series.csv"
    assert main(["train", "--input", str(sample), "--model", "auto", "--registry", str(tmp_path),
                 "--horizon", "24", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "model selection" in printed and "a100-train" in printed and "seasonal_naive" in printed
    meta = registry.load_metadata("auto", "latest", root=tmp_path)
    series = meta["selection"]["series"]
    assert set(series) == {"a100-train", "h100-infer"}
    assert all(entry["choice"] and entry["reason"] for entry in series.values())


def test_a_model_shared_by_pools_is_written_once_and_loads_under_each(tmp_path, fitted):
    model, frame = fitted
    first = registry.save(model, "pool-a", root=tmp_path, frame=frame)
    second = registry.save(model, "pool-b", root=tmp_path, frame=frame, same_as=("pool-a", first))
    a, b = tmp_path / "pool-a" / first / "model", tmp_path / "pool-b" / second / "model"
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).stat().st_ino == (b / f).stat().st_ino for f in files)  # hard links: one copy on disk
    meta = registry.load_metadata("pool-b", root=tmp_path)
    assert meta["name"] == "pool-b" and meta["files"] == registry.load_metadata("pool-a", root=tmp_path)["files"]
    pd.testing.assert_frame_equal(registry.load("pool-b", root=tmp_path).predict(24, [0.5]), model.predict(24, [0.5]))
    (a / files[0]).write_bytes(b"changed")  # the checksums still guard each version
    with pytest.raises(ModelError, match="corrupt"):
        registry.load("pool-b", root=tmp_path)
    with pytest.raises(ModelError):  # a source that does not exist is an error, not an empty model
        registry.save(model, "pool-c", root=tmp_path, same_as=("pool-a", "v0009"))
    assert registry.versions("pool-c", root=tmp_path) == []
