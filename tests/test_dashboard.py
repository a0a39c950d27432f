"""The Grafana dashboard in deploy/grafana: well-formed, every expression reads a metric capforecast emits or
the nightly job's own demand query, and its provisioning files point at it. (Which names the code emits is
checked against a real run in tests/exporter/test_collector.py; a real Prometheus runs every expression in
tests/exporter/test_exporter_prometheus.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from capforecast import jobmetrics
from capforecast.exporter import METRICS
from tests.grafana_check import expressions, metric_names
from tests.test_jobmetrics import FULL

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "capforecast.json"
NIGHTLY_QUERY = yaml.safe_load((ROOT / "deploy" / "nightly.example.yaml").read_text())["series"]["query"]


def test_the_tokenizer_finds_metric_names_only() -> None:
    expr = 'sum by (pool) (rate(x_total{a="b",c=~"$pool"}[5m])) and on (pool) group_left (z) y offset 1h > 1e3'
    assert metric_names(expr) == {"x_total", "y"}
    assert metric_names(NIGHTLY_QUERY) == {"kube_pod_container_resource_requests", "kube_pod_status_phase",
                                           "kube_pod_labels"}
    assert metric_names("time() - max(capforecast_nightly_last_success_timestamp_seconds)") == {
        "capforecast_nightly_last_success_timestamp_seconds"}


def test_the_dashboard_is_well_formed_with_per_pool_panels() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "capforecast" and isinstance(doc["schemaVersion"], int)
    names = {v["name"]: v for v in doc["templating"]["list"]}
    assert names["datasource"]["type"] == "datasource" and names["pool"]["includeAll"]
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    rows = [p for p in doc["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == [None, "pool"]  # job health once, then one row per pool
    for p in doc["panels"]:
        grid = p["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, p["title"]
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}" and t["expr"].strip()
        if p["type"] != "row" and p["gridPos"]["y"] > rows[1]["gridPos"]["y"]:  # inside the pool row
            assert all('pool=~"$pool"' in t["expr"] for t in p["targets"]), p["title"]


def test_every_expression_reads_emitted_metrics_or_the_nightly_query() -> None:
    exprs = expressions(DASHBOARD)
    demand = [e for where, e in exprs if NIGHTLY_QUERY in e]
    assert len(demand) == 1  # actual demand is the nightly job's query, verbatim
    used = set().union(*(metric_names(e) for _, e in exprs))
    # what the code emits: the exporter's families (test_collector checks a real run emits exactly these) and
    # the job metrics as jobmetrics.render writes them with every optional family present
    exporter = set(METRICS)
    job = {s.name for f in text_string_to_metric_families(jobmetrics.render(FULL)) for s in f.samples}
    unknown = used - exporter - job - metric_names(NIGHTLY_QUERY)
    assert not unknown, f"the dashboard reads metrics nothing emits: {sorted(unknown)}"
    assert used & exporter and used & job  # it shows both
    panels = {where for where, _ in exprs}
    for wanted in ("Demand, forecast band and planned capacity", "Realised busy share vs target",
                   "Since the last successful run", "Planned nodes", "Champion"):
        assert wanted in panels


def test_provisioning_and_configmap_point_at_the_dashboard() -> None:
    prov = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "capforecast.yaml").read_text())
    (provider,) = prov["providers"]
    assert prov["apiVersion"] == 1 and provider["type"] == "file" and provider["options"]["path"].startswith("/")
    kust = yaml.safe_load((ROOT / "deploy" / "grafana" / "kustomization.yaml").read_text())
    (gen,) = kust["configMapGenerator"]
    assert gen["files"] == [DASHBOARD.name] and gen["options"]["labels"]["grafana_dashboard"] == "1"
