"""Choosing each pool's champion: the registry's previous one, the backtest scores, and training it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from capforecast.config import Config
from capforecast.errors import CapforecastError, ModelError
from capforecast.pipeline._result import RunResult, logger


def _previous_champion(cfg: Config, pool: str, result: RunResult) -> dict[str, Any] | None:
    """The pool's current champion in the registry (alias, params, score), verified; None if there is none.

    An entry that cannot be read or fails its checksums is reported and treated as no champion, so the
    run picks a new one (and records it as a new version) instead of failing every night.
    """
    from capforecast import registry

    root = cfg.output.registry
    if not registry.versions(pool, root):
        return None
    try:
        meta = registry.load_metadata(pool, "champion", root)
        model = registry.load(pool, meta["version"], root)  # verifies every file against its checksum
    except ModelError as exc:
        first = str(exc).splitlines()[0]
        result.notes.append(f"pool {pool}: the registry's champion entry is unreadable ({first}); choosing anew")
        logger.warning("nightly: pool %s: previous champion unreadable, choosing a new one: %s", pool, first)
        return None
    score = (meta.get("scores") or {}).get(cfg.backtest.metric)
    # the params of the loaded model, with their types (the registry's JSON copy turns tuples into lists)
    return {"model": meta["alias"], "params": model.get_params(), "score": score, "version": meta["version"]}


def _select(
    cfg: Config, pool: str, scores: pd.DataFrame, prev: dict[str, Any] | None, result: RunResult
) -> dict[str, Any]:
    """Pick the pool's champion: the best backtest score, unless the previous champion does as well."""
    col = scores[pool].dropna() if pool in scores.columns else pd.Series(dtype=float)
    col = col[[a in cfg.models.candidates or (prev and a == prev["model"]) for a in col.index]]
    metric = cfg.backtest.metric
    if col.empty:
        why = f"no candidate could be backtested; using the fallback {cfg.models.fallback}"
        result.notes.append(f"pool {pool}: {why}")
        return {
            "model": cfg.models.fallback,
            "params": cfg.models.params.get(cfg.models.fallback, {}),
            "score": None,
            "fallback": True,
            "kept_previous": False,
            "why": why,
        }
    best = str(col.idxmin())
    entry: dict[str, Any] = {
        "model": best,
        "params": dict(cfg.models.params.get(best, {})),
        "score": float(col[best]),
        "fallback": False,
        "kept_previous": False,
        "why": f"best {metric} {col[best]:.3f} of {len(col)} backtested",
    }
    if prev and prev["model"] in col.index and prev["model"] != best:
        prev_score = float(col[prev["model"]])
        if col[best] >= prev_score * (1 - cfg.models.min_improvement):  # a tie (e.g. both perfect) keeps it
            entry.update(
                model=prev["model"],
                params=dict(prev.get("params") or {}),
                score=prev_score,
                kept_previous=True,
                why=f"kept previous champion {prev['model']} ({metric} {prev_score:.3f}): challenger "
                f"{best} scored {col[best]:.3f}, not better by {cfg.models.min_improvement:.0%}",
            )
            result.notes.append(f"pool {pool}: {entry['why']}")
            logger.info("nightly: pool %s: %s", pool, entry["why"])
    elif prev and prev["model"] not in col.index:
        entry["why"] += f"; previous champion {prev['model']} could not be backtested"
    return entry


def _train(cfg: Config, pools: list[str], frame: pd.DataFrame, result: RunResult) -> Any:
    """Fit the champion these pools share on their whole history (one global model for them all).

    If it cannot be trained, the pools fall back to ``models.fallback``; series the model itself hands to
    its documented baseline fallback (``fallbacks_``) are reported too. Both make the run partial.
    """
    from capforecast.models import get_model

    champ = result.champions[pools[0]]
    try:
        model = get_model(champ["model"], **champ["params"]).fit(frame)
    except CapforecastError as exc:
        first = str(exc).splitlines()[0]
        if champ["model"] == cfg.models.fallback:
            raise ModelError(
                f"pools {pools}: even the fallback model {champ['model']} cannot be trained ({first}); "
                "check these pools' data in Prometheus"
            ) from None
        why = f"{champ['model']} failed to train ({first}); using the fallback {cfg.models.fallback}"
        logger.warning("nightly: pools %s: %s", ", ".join(pools), why)
        params = dict(cfg.models.params.get(cfg.models.fallback, {}))
        for p in pools:
            result.notes.append(f"pool {p}: {why}")
            result.champions[p].update(model=cfg.models.fallback, params=params, fallback=True, why=why, score=None)
        return get_model(cfg.models.fallback, **params).fit(frame)
    for p, why in sorted(getattr(model, "fallbacks_", {}).items()):
        if p in result.champions:
            result.champions[p].update(fallback=True, why=f"{champ['model']}: {why}")
            result.notes.append(f"pool {p}: {champ['model']} fell back: {why}")
    return model
