"""Metric presets: the PromQL for what GPU clusters really export, with your selectors and aggregation.

Each preset is a small object whose :meth:`~Preset.render` returns PromQL. Selectors are label matchers added
to every metric in the query (a mapping ``{"cluster": "prod"}`` means ``cluster="prod"``, or a string of
matchers such as ``'namespace=~"ml-.*"'``); ``by`` lists the labels kept by the aggregation (they become the
series ``unique_id``). Custom PromQL is always allowed instead of a preset.

Examples
--------
>>> get_preset("gpu_util").render(selector={"cluster": "prod"}, by=["Hostname", "gpu"])
'avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{cluster="prod"})'
>>> render("pending_pods", selector='namespace="ml"')
'sum by (namespace) (kube_pod_status_phase{phase="Pending", namespace="ml"})'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from capforecast.errors import ConfigError

__all__ = ["PRESETS", "Preset", "get_preset", "render", "selector_text"]

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AGGS = ("sum", "avg", "max", "min", "count")


def selector_text(selector: Mapping[str, str] | str | None) -> str:
    """Label matchers as PromQL text: ``{"a": "x"}`` -> ``a="x"``; a string is used as written.

    Examples
    --------
    >>> selector_text({"pool": "a100", "cluster": 'eu"1'})
    'pool="a100", cluster="eu\\\\"1"'
    """
    if selector is None:
        return ""
    if isinstance(selector, str):
        text = selector.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1].strip()
        return text
    parts = []
    for key, value in selector.items():
        if not _LABEL.match(str(key)):
            raise ConfigError(f"selector: {key!r} is not a Prometheus label name; use letters, digits and _")
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{key}="{escaped}"')
    return ", ".join(parts)


def _matchers(*parts: str) -> str:
    inner = ", ".join(p for p in parts if p)
    return "{" + inner + "}" if inner else ""


@dataclass(frozen=True)
class Preset:
    """A metric preset: ``agg by (by) (metric{fixed, selector})``.

    Parameters
    ----------
    name : str
        Name used on the command line (``--preset gpu_util``).
    metric : str
        The exported metric.
    description : str
        What the series measures (shown by ``capforecast ingest --list-presets``).
    agg : str
        Default aggregation (``sum``, ``avg``, ``max``, ``min``, ``count``).
    by : tuple of str
        Default labels kept by the aggregation.
    fixed : str
        Matchers always applied (e.g. ``phase="Pending"``).
    """

    name: str
    metric: str
    description: str
    agg: str = "sum"
    by: tuple[str, ...] = ()
    fixed: str = ""

    def render(
        self,
        selector: Mapping[str, str] | str | None = None,
        by: Sequence[str] | None = None,
        agg: str | None = None,
    ) -> str:
        """The PromQL for this preset with the user's selector, ``by`` labels and aggregation."""
        agg, by = _check(self.name, agg or self.agg, self.by if by is None else tuple(by))
        inner = f"{self.metric}{_matchers(self.fixed, selector_text(selector))}"
        return f"{agg} by ({', '.join(by)}) ({inner})" if by else f"{agg}({inner})"


@dataclass(frozen=True)
class GpusRequestedByRunningPods(Preset):
    """GPUs requested by pods that are Running (kube-state-metrics), optionally per node-pool label.

    ``node_label`` (e.g. ``label_cloud_google_com_gke_nodepool``, from ``kube_node_labels``) is joined in by
    node, so ``by`` can name the pool.
    """

    node_label: str | None = None

    def render(
        self,
        selector: Mapping[str, str] | str | None = None,
        by: Sequence[str] | None = None,
        agg: str | None = None,
        node_label: str | None = None,
    ) -> str:
        """The PromQL: requests joined to running pods (and to node labels when ``node_label`` is set)."""
        node_label = node_label or self.node_label
        default_by = (node_label,) if node_label else self.by
        agg, by = _check(self.name, agg or self.agg, default_by if by is None else tuple(by))
        sel = selector_text(selector)
        requests = f"{self.metric}{_matchers(self.fixed, sel)}"
        phase = 'phase="Running"'
        running = f"(kube_pod_status_phase{_matchers(phase, sel)} == 1)"
        expr = f"{requests} * on (namespace, pod) group_left () {running}"
        if node_label:
            if not _LABEL.match(node_label):
                raise ConfigError(f"preset {self.name}: node_label {node_label!r} is not a label name")
            expr = f"({expr}) * on (node) group_left ({node_label}) max by (node, {node_label}) (kube_node_labels)"
        return f"{agg} by ({', '.join(by)}) ({expr})" if by else f"{agg}({expr})"


def _check(name: str, agg: str, by: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    if agg not in _AGGS:
        raise ConfigError(f"preset {name}: aggregation {agg!r} is not one of {', '.join(_AGGS)}")
    for label in by:
        if not _LABEL.match(label):
            raise ConfigError(f"preset {name}: {label!r} in by is not a label name; use letters, digits and _")
    return agg, by


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("gpu_util", "DCGM_FI_DEV_GPU_UTIL", "GPU utilisation in percent (DCGM exporter)", "avg",
               ("Hostname", "gpu")),
        Preset("gpu_active", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
               "share of time the graphics engine is active, 0..1 (DCGM profiling)", "avg", ("Hostname", "gpu")),
        GpusRequestedByRunningPods(
            "gpus_requested", "kube_pod_container_resource_requests",
            "GPUs requested by running pods (kube-state-metrics), the GPUs in use by tasks", "sum", ("node",),
            'resource="nvidia_com_gpu"'),
        Preset("pending_pods", "kube_pod_status_phase", "pods waiting to be scheduled (kube-state-metrics)",
               "sum", ("namespace",), 'phase="Pending"'),
        Preset("kueue_pending", "kueue_pending_workloads", "workloads queued in Kueue per cluster queue",
               "sum", ("cluster_queue",)),
        Preset("vllm_waiting", "vllm:num_requests_waiting", "requests waiting in vLLM's queue per model",
               "sum", ("model_name",)),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ConfigError listing the known ones if there is none."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown metric preset {name!r}; use one of {', '.join(sorted(PRESETS))}, or pass PromQL as --query"
        ) from None


def render(name: str, **params: object) -> str:
    """Render preset ``name`` with ``selector``, ``by``, ``agg`` (and ``node_label`` for gpus_requested)."""
    preset = get_preset(name)
    allowed = {"selector", "by", "agg"} | ({"node_label"} if isinstance(preset, GpusRequestedByRunningPods) else set())
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(f"preset {name}: unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    return preset.render(**params)  # type: ignore[arg-type]
