"""The ``reason`` of each Plan row: one line naming the rule that set its nodes, and the numbers behind it.

Reviewers read these in the report and the overlay's comments, so each says what the forecast asked for
(``p95 41.3 GPU -> 6 nodes``) and, when a rule changed that, which rule and what it holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capforecast.planning.pools import PoolSpec

__all__ = ["reason_texts"]


def _fmt(td: pd.Timedelta) -> str:
    from capforecast._units import format_duration

    return format_duration(td)


def reason_texts(
    pool: PoolSpec, col: str, rule: np.ndarray, demand: np.ndarray, wanted: np.ndarray, nodes: np.ndarray,
    shortfall: np.ndarray, held_cur: np.ndarray, start: pd.Timestamp,
) -> list[str]:
    """One reason per step: ``rule`` names the rule (forecast, max, min, min_window, cooldown, lead_time),
    ``col`` the forecast column planned from; ``held_cur`` marks cooldown steps held at the current nodes and
    ``start`` is the decision time (nodes asked then arrive at ``start + lead_time``).

    Examples
    --------
    >>> pool = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=4, lead_time="10m")
    >>> reason_texts(pool, "p95", np.array(["forecast", "max"], dtype=object), np.array([15.2, 50.0]),
    ...              np.array([2, 7]), np.array([2, 4]), np.zeros(2, int), np.zeros(2, bool),
    ...              pd.Timestamp("2026-01-01", tz="UTC"))[1]
    'CAPPED at max_nodes 4: busy target 5% cannot be met here; p95 50.0 GPU -> 7 nodes'
    """
    hr = f" +{pool.headroom:.0%}" if pool.headroom else ""
    reasons = []
    for i in range(len(rule)):
        gpus = f"{demand[i]:.1f}" if abs(demand[i]) < 1e6 else f"{demand[i]:.3g}"  # not 300 digits for 1e300
        base = f"{col} {gpus} GPU{hr} -> {wanted[i]} nodes"
        r = rule[i]
        if r == "forecast":
            text = base
        elif r == "max":
            text = (f"CAPPED at max_nodes {pool.max_nodes}: busy target {1 - pool.service_quantile:.0%} cannot be "
                    f"met here; {base}")
        elif r == "min":
            text = f"min_nodes {pool.min_nodes} ({base})"
        elif r == "min_window":
            text = f"min_window {_fmt(pool.min_window)}: holding {nodes[i]}, the most of its window; {base}"
        elif r == "cooldown":
            src = "current nodes" if held_cur[i] else "recent need"
            text = f"cooldown {_fmt(pool.scale_in_cooldown)}: holding {nodes[i]} ({src}); {base}"
        else:
            text = (f"lead_time {_fmt(pool.lead_time)}: nodes asked now arrive at "
                    f"{(start + pool.lead_time):%H:%M}, holding {nodes[i]} ({shortfall[i]} short); {base}")
        reasons.append(text)
    return reasons
