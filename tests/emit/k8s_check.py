"""Test helpers: build an overlay with the real kubectl and validate every object for Kubernetes 1.32 (strict).

Core kinds go through kubernetes-validate. The CRDs it has no schema for are checked here: their
metadata as a strict ObjectMeta (through a ConfigMap carrying it) and their spec against the subset of the
published CRD schemas that capforecast writes (karpenter.sh/v1 NodePool, autoscaling.x-k8s.io/v1alpha1
CapacityBuffer, and deploy/monitoring's monitoring.coreos.com/v1 ServiceMonitor), with unknown fields rejected.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
VERSION = "1.32"
_QTY = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?[a-zA-Z]*$"}]}
_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}

CRD_SPECS = {
    ("karpenter.sh/v1", "NodePool"): {
        "type": "object", "additionalProperties": False, "required": ["template"],
        "properties": {
            "limits": {"type": "object", "additionalProperties": _QTY},
            "weight": {"type": "integer", "minimum": 1, "maximum": 100},
            "disruption": {"type": "object"},
            "template": {
                "type": "object", "additionalProperties": False, "required": ["spec"],
                "properties": {
                    "metadata": {"type": "object", "additionalProperties": False, "properties": {
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}},
                    "spec": {
                        "type": "object", "additionalProperties": False, "required": ["nodeClassRef", "requirements"],
                        "properties": {
                            "nodeClassRef": {"type": "object", "additionalProperties": False,
                                             "required": ["group", "kind", "name"],
                                             "properties": {"group": {"type": "string"}, "kind": {"type": "string"},
                                                            "name": {"type": "string"}}},
                            "requirements": {"type": "array", "items": {
                                "type": "object", "additionalProperties": False, "required": ["key", "operator"],
                                "properties": {"key": {"type": "string"}, "minValues": {"type": "integer"},
                                               "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist",
                                                                     "Gt", "Lt"]},
                                               "values": {"type": "array", "items": {"type": "string"}}}}},
                            "taints": {"type": "array", "items": {
                                "type": "object", "additionalProperties": False, "required": ["key", "effect"],
                                "properties": {"key": {"type": "string"}, "value": {"type": "string"},
                                               "effect": {"enum": ["NoSchedule", "PreferNoSchedule",
                                                                   "NoExecute"]}}}},
                            "expireAfter": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
    ("autoscaling.x-k8s.io/v1alpha1", "CapacityBuffer"): {
        "type": "object", "additionalProperties": False,
        "oneOf": [{"required": ["podTemplateRef"]}, {"required": ["scalableRef"]}],
        "properties": {
            "provisioningStrategy": {"type": "string"},
            "podTemplateRef": {"type": "object", "additionalProperties": False, "required": ["name"],
                               "properties": {"name": _NAME}},
            "scalableRef": {"type": "object"},
            "replicas": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            "percentage": {"type": "integer", "minimum": 0},
            "limits": {"type": "object", "additionalProperties": _QTY},
        },
    },
}


def kustomize(path: Path) -> list[dict]:
    """``kubectl kustomize path`` (offline), parsed; raises with kubectl's message on failure."""
    assert Path(KUBECTL).is_file(), "kubectl not found: install kubectl (1.27+, kustomize built in) to run tests/emit"
    done = subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kubectl kustomize {path} failed: {done.stderr}"
    return [o for o in yaml.safe_load_all(done.stdout) if o]


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def check_names(obj: dict) -> None:
    """What the API server checks and the JSON schemas do not: DNS-1123 names, namespaces, label values."""
    meta = obj["metadata"]
    assert _DNS_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 253, f"bad name {meta['name']!r}"
    if "namespace" in meta:
        assert _DNS_LABEL.match(meta["namespace"]), f"bad namespace {meta['namespace']!r}"
    templates = [obj.get("spec", {}).get("template", {}), obj.get("template", {})]
    for labels in [meta.get("labels", {}), *(t.get("metadata", {}).get("labels", {}) for t in templates)]:
        for key, value in labels.items():
            assert _LABEL_VALUE.match(str(value)), f"bad label value {key}={value!r}"


def validate(obj: dict) -> str:
    """Validate one object; return 'core' or 'crd'. Raises on any problem."""
    check_names(obj)
    try:
        kubernetes_validate.validate(obj, VERSION, strict=True)
        return "core"
    except SchemaNotFoundError:
        key = (obj["apiVersion"], obj["kind"])
        assert key in CRD_SPECS, f"no schema for {key}"
        assert set(obj) <= {"apiVersion", "kind", "metadata", "spec"}, f"unexpected top-level keys in {key}"
        carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
        kubernetes_validate.validate(carrier, VERSION, strict=True)
        jsonschema.validate(obj["spec"], CRD_SPECS[key])
        return "crd"


_DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                                          r"(([0-9]+)s)?(([0-9]+)ms)?)$"}
_SELECTOR = {"type": "object", "additionalProperties": False, "properties": {
    "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
    "matchExpressions": {"type": "array", "items": {
        "type": "object", "additionalProperties": False, "required": ["key", "operator"],
        "properties": {"key": {"type": "string"}, "operator": {"type": "string"},
                       "values": {"type": "array", "items": {"type": "string"}}}}}}}

# The Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1, as in its published CRD): the fields
# deploy/monitoring uses and their neighbours, required fields as the CRD requires them, unknown ones rejected.
CRD_SPECS[("monitoring.coreos.com/v1", "ServiceMonitor")] = {
    "type": "object", "additionalProperties": False, "required": ["endpoints", "selector"],
    "properties": {
        "selector": _SELECTOR,
        "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
            "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
        "jobLabel": {"type": "string"},
        "targetLabels": {"type": "array", "items": {"type": "string"}},
        "podTargetLabels": {"type": "array", "items": {"type": "string"}},
        "sampleLimit": {"type": "integer", "minimum": 0},
        "endpoints": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "port": {"type": "string"},
                "targetPort": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                "path": {"type": "string"},
                "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                "interval": _DURATION,
                "scrapeTimeout": _DURATION,
                "honorLabels": {"type": "boolean"},
                "honorTimestamps": {"type": "boolean"},
                "relabelings": {"type": "array", "items": {"type": "object"}},
                "metricRelabelings": {"type": "array", "items": {"type": "object"}},
            }}},
    },
}
