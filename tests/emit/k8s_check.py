"""Test helpers: build an overlay with the real kubectl and validate every object for Kubernetes 1.32 (strict).

Core kinds go through kubernetes-validate. The CRDs it has no schema for are checked here: their
metadata as a strict ObjectMeta (through a ConfigMap carrying it) and their spec against the subset of the
published CRD schemas that capforecast writes (karpenter.sh/v1 NodePool, autoscaling.x-k8s.io/v1alpha1
CapacityBuffer, keda.sh/v1alpha1 ScaledObject, and deploy/monitoring's monitoring.coreos.com/v1 ServiceMonitor),
with unknown fields rejected. The ScaledObject schema is written from KEDA's ScaledObject specification and cron
scaler pages (keda.sh/docs/2.17); its ``cron`` triggers are also checked as the cron scaler reads them (timezone,
start, end as 5-field cron, start != end, desiredReplicas).
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

_INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_HPA_RULES = {  # autoscaling/v2 HPAScalingRules, as KEDA's CRD embeds it
    "type": "object", "additionalProperties": False,
    "properties": {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "policies": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["type", "value", "periodSeconds"],
            "properties": {"type": {"enum": ["Pods", "Percent"]}, "value": {"type": "integer", "minimum": 1},
                           "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800}}}},
    },
}
_CRON_FIELD = r"(\*|[0-9]{1,2}([-,/][0-9]{1,2})*)"
_CRON_TRIGGER = {  # what KEDA's cron scaler needs in metadata (the CRD itself types metadata as string -> string)
    "if": {"properties": {"type": {"const": "cron"}}},
    "then": {"properties": {"metadata": {
        "type": "object", "additionalProperties": False,
        "required": ["timezone", "start", "end", "desiredReplicas"],
        "properties": {
            "timezone": {"type": "string", "pattern": r"^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$"},
            "start": {"type": "string", "pattern": rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$"},
            "end": {"type": "string", "pattern": rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$"},
            "desiredReplicas": {"type": "string", "pattern": r"^[0-9]+$"},
        },
    }}},
}

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
    ("keda.sh/v1alpha1", "ScaledObject"): {
        "type": "object", "additionalProperties": False, "required": ["scaleTargetRef", "triggers"],
        "properties": {
            "scaleTargetRef": {"type": "object", "additionalProperties": False, "required": ["name"],
                               "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                              "name": {"type": "string"},
                                              "envSourceContainerName": {"type": "string"}}},
            "pollingInterval": _INT32, "cooldownPeriod": _INT32, "initialCooldownPeriod": _INT32,
            "idleReplicaCount": _INT32, "minReplicaCount": _INT32, "maxReplicaCount": _INT32,
            "fallback": {"type": "object", "additionalProperties": False,
                         "required": ["failureThreshold", "replicas"],
                         "properties": {"failureThreshold": _INT32, "replicas": _INT32,
                                        "behavior": {"enum": ["static", "currentReplicas",
                                                              "currentReplicasIfHigher",
                                                              "currentReplicasIfLower"]}}},
            "advanced": {"type": "object", "additionalProperties": False, "properties": {
                "restoreToOriginalReplicaCount": {"type": "boolean"},
                "scalingModifiers": {"type": "object"},
                "horizontalPodAutoscalerConfig": {"type": "object", "additionalProperties": False, "properties": {
                    "name": {"type": "string"},
                    "behavior": {"type": "object", "additionalProperties": False,
                                 "properties": {"scaleUp": _HPA_RULES, "scaleDown": _HPA_RULES}}}},
            }},
            "triggers": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["type", "metadata"],
                "properties": {
                    "type": {"type": "string"}, "name": {"type": "string"},
                    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                    "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                    "useCachedMetrics": {"type": "boolean"},
                    "authenticationRef": {"type": "object", "required": ["name"],
                                          "properties": {"name": {"type": "string"}, "kind": {"type": "string"}}},
                },
                **_CRON_TRIGGER,
            }},
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
        if key == ("keda.sh/v1alpha1", "ScaledObject"):
            check_cron_triggers(obj["spec"])
        return "crd"


_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12))


def check_cron_triggers(spec: dict) -> None:
    """What the cron scaler refuses and a schema cannot say: start == end, fields out of range, replicas range."""
    for trig in spec["triggers"]:
        meta = trig["metadata"]
        assert meta["start"] != meta["end"], f"cron trigger {trig.get('name')}: start and end are the same"
        for expr in (meta["start"], meta["end"]):
            fields = expr.split()
            for text, (low, high) in zip(fields[:4], _CRON_RANGES, strict=True):
                for part in re.split(r"[-,/]", text):
                    assert part == "*" or low <= int(part) <= high, f"cron {expr!r}: {part} outside {low}-{high}"
            assert fields[4] == "*", f"cron {expr!r}: the plan pins dates, never a day of the week"
        assert spec.get("minReplicaCount", 0) <= int(meta["desiredReplicas"]) <= spec.get("maxReplicaCount", 100)


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
