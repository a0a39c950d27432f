"""Loaders for the public data sets used by benchmarks and realistic tests (read in place, never copied).

- M4 hourly (414 series, horizon 48): :func:`load_m4_hourly`.
- Helios "Earth" GPU cluster, May 2020, 16 virtual clusters per minute: :func:`load_helios`.

The data folder is found from ``data_dir``, else the ``CAPFORECAST_DATA`` environment variable, else
``../shared/data`` next to the current directory or next to the project checkout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast._units import parse_duration
from capforecast.errors import IngestError
from capforecast.ingest.files import read_table

__all__ = ["HELIOS_TOTAL_ID", "M4_START", "data_root", "load_helios", "load_m4_hourly"]

#: M4 publishes no timestamps for hourly series; all series start here, one step an hour.
M4_START = pd.Timestamp("2000-01-03 00:00", tz="UTC")
#: ``unique_id`` of the sum over all Helios virtual clusters.
HELIOS_TOTAL_ID = "earth"


def data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The shared data folder (holding ``m4-hourly/`` and ``helios-earth/``)."""
    candidates = [Path(data_dir)] if data_dir else []
    if not data_dir and os.environ.get("CAPFORECAST_DATA"):
        candidates.append(Path(os.environ["CAPFORECAST_DATA"]))
    if not data_dir:
        candidates += [Path.cwd() / ".." / "shared" / "data", Path(__file__).resolve().parents[2] / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    raise IngestError(
        f"shared data folder not found (looked in {', '.join(str(p) for p in candidates)}); pass data_dir= "
        "or set CAPFORECAST_DATA to the folder holding m4-hourly/ and helios-earth/"
    )


def _wide_to_long(path: Path, start: pd.Timestamp) -> pd.DataFrame:
    raw = read_table(path)  # a missing, truncated or corrupt file is one IngestError naming it
    wide = raw.set_index(raw.columns[0])
    values = wide.to_numpy(dtype=np.float64)
    lengths = np.isfinite(values).sum(axis=1)
    ids = np.repeat(wide.index.astype(str).to_numpy(), lengths)
    offsets = np.concatenate([np.arange(n) for n in lengths])
    y = np.concatenate([row[:n] for row, n in zip(values, lengths, strict=True)])
    return pd.DataFrame({"unique_id": ids, "offset": offsets, "y": y})


def load_m4_hourly(
    data_dir: str | os.PathLike[str] | None = None, *, ids: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load M4 hourly as ``(train, test)`` series frames (ids ``H1``..``H414``, hourly from :data:`M4_START`).

    The test frame continues each series' clock where its training part ends (48 steps).

    Examples
    --------
    >>> train, test = load_m4_hourly(ids=["H1"])  # doctest: +SKIP
    >>> len(test)  # doctest: +SKIP
    48
    """
    folder = data_root(data_dir) / "m4-hourly"
    train = _wide_to_long(folder / "Hourly-train.csv", M4_START)
    test = _wide_to_long(folder / "Hourly-test.csv", M4_START)
    if ids is not None:
        train = train[train["unique_id"].isin(list(ids))]
        test = test[test["unique_id"].isin(list(ids))]
    n_train = train.groupby("unique_id")["offset"].max() + 1
    test = test.assign(offset=test["offset"] + test["unique_id"].map(n_train).to_numpy())
    out = []
    for part in (train, test):
        part = part.assign(ds=M4_START + pd.to_timedelta(part["offset"].to_numpy(), unit="h"))
        part = part[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"], ignore_index=True)
        out.append(frames.validate(part))
    return out[0], out[1]


def load_helios(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    step: str = "1h",
    vcs: Sequence[str] | None = None,
    total: bool = True,
    exog: bool = False,
) -> pd.DataFrame:
    """Load Helios Earth GPU demand (running + pending GPUs), averaged over ``step``, one series per VC.

    Parameters
    ----------
    data_dir : the shared data folder (see :func:`data_root`).
    step : resampling step (mean over each step), e.g. ``'1h'``, ``'5m'``.
    vcs : virtual clusters to load (default: all 16 files).
    total : add the sum over the loaded VCs as series ``'earth'``.
    exog : add exogenous columns ``pending_gpus``, ``running_jobs``, ``pending_jobs``, ``capacity_gpus``.

    Timestamps are taken as UTC (the trace's own clock). Each step labelled τ covers [τ, τ + step).
    """
    folder = data_root(data_dir) / "helios-earth"
    files = sorted(folder.glob("vc*.csv.gz"))
    if vcs is not None:
        wanted = set(vcs)
        unknown = wanted - {f.name.split(".")[0] for f in files}
        if unknown:
            raise IngestError(f"unknown Helios virtual cluster(s) {sorted(unknown)}; found {[f.name for f in files]}")
        files = [f for f in files if f.name.split(".")[0] in wanted]
    if not files:
        raise IngestError(f"no vc*.csv.gz files in {folder}")
    rule = parse_duration(step, name="step")
    parts = []
    for path in files:
        raw = read_table(path)
        raw["time"] = pd.to_datetime(raw["time"])
        cols = {
            "y": raw["running_gpu_num"] + raw["pending_gpu_num"],
            "pending_gpus": raw["pending_gpu_num"],
            "running_jobs": raw["running_job_num"],
            "pending_jobs": raw["pending_job_num"],
            "capacity_gpus": raw["total_gpu_num"],
        }
        df = pd.DataFrame(cols).astype("float64")
        df.index = pd.DatetimeIndex(raw["time"]).tz_localize("UTC")
        res = df.resample(rule, label="left", closed="left").mean()
        res.insert(0, "unique_id", path.name.split(".")[0])
        parts.append(res.rename_axis("ds").reset_index())
    out = pd.concat(parts, ignore_index=True)
    if total:
        summed = out.drop(columns="unique_id").groupby("ds", as_index=False).sum(min_count=1)
        summed.insert(0, "unique_id", HELIOS_TOTAL_ID)
        out = pd.concat([out, summed], ignore_index=True)
    if not exog:
        out = out[["unique_id", "ds", "y"]]
    out["unique_id"] = out["unique_id"].astype(str)
    out = out.sort_values(["unique_id", "ds"], ignore_index=True)
    return frames.validate(out)
