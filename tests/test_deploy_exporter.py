"""deploy/: the exporter's Deployment and Service, and deploy/monitoring's ServiceMonitor and dashboard
ConfigMap, built with the real kubectl and validated like every other manifest (tests/emit/k8s_check.py)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from capforecast.cli import build_parser
from capforecast.config import load_config
from tests.emit.k8s_check import kustomize, validate

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (make test)")


def by_kind(docs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def test_the_exporter_deployment_serves_the_nightly_jobs_latest() -> None:
    docs = kustomize(ROOT / "deploy")
    assert {validate(d) for d in docs} == {"core"}
    kinds = by_kind(docs)
    (deploy,) = kinds["Deployment"]
    (service,) = kinds["Service"]
    (cron,) = kinds["CronJob"]
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])  # the command line the image runs is a valid one
    assert args.command == "exporter"
    latest = load_config(ROOT / "deploy" / "nightly.example.yaml", environ={}).output.latest
    assert Path(args.run_dir) == latest  # what the nightly job points at its newest run
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert str(latest).startswith(mounts["state"]["mountPath"]) and mounts["state"]["readOnly"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]
              if "persistentVolumeClaim" in v}
    job_pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    job_claims = {v["persistentVolumeClaim"]["claimName"] for v in job_pod["volumes"]
                  if "persistentVolumeClaim" in v}
    assert claims["state"] in job_claims  # the same state the job writes
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = container["ports"]
    (sport,) = service["spec"]["ports"]
    assert sport["targetPort"] == port["name"] and port["containerPort"] == args.port == sport["port"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/metrics"
    affinity = job_pod["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= labels.items()


def test_the_service_monitor_and_dashboard_configmap_validate_and_match() -> None:
    base = by_kind(kustomize(ROOT / "deploy"))
    docs = kustomize(ROOT / "deploy" / "monitoring")
    assert sorted(validate(d) for d in docs) == ["core", "crd"]
    kinds = by_kind(docs)
    (monitor,) = kinds["ServiceMonitor"]
    (service,) = base["Service"]
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]
    (dashboard,) = kinds["ConfigMap"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(dashboard["data"]["capforecast.json"])
    assert shipped == json.loads((ROOT / "deploy" / "grafana" / "capforecast.json").read_text())


@pytest.mark.parametrize(
    "change",
    [
        lambda spec: spec.pop("selector"),  # required by the CRD
        lambda spec: spec["endpoints"][0].update(interval="1 minute"),  # not a Prometheus duration
        lambda spec: spec["endpoints"][0].update(prot="metrics"),  # a typo'd field
    ],
)
def test_the_service_monitor_schema_rejects_what_the_operator_would(change) -> None:
    (monitor,) = by_kind(kustomize(ROOT / "deploy" / "monitoring"))["ServiceMonitor"]
    bad = copy.deepcopy(monitor)
    change(bad["spec"])
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
