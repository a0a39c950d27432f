"""Kubernetes-safe names and label values built from pool names (which may come from Prometheus labels)."""

from __future__ import annotations

import hashlib
import re

__all__ = ["dns_name", "label_value"]

_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def dns_name(*parts: str, max_len: int = 52) -> str:
    """A DNS-1123 label from ``parts`` joined by ``-``: lowercase, ``[a-z0-9-]``, at most ``max_len`` chars.

    When sanitising changed a part (case, invalid characters) or the name had to be shortened, a short hash of
    the original text is appended so that two different pools never share a name. ``max_len`` defaults to 52
    so that names derived by controllers (ReplicaSet and pod suffixes) stay valid.

    Examples
    --------
    >>> dns_name("capforecast", "a100-train")
    'capforecast-a100-train'
    >>> dns_name("capforecast", "GPU pool/A100")
    'capforecast-gpu-pool-a100-113b3d'
    """
    raw = "-".join(str(p) for p in parts)
    clean = _NOT_DNS.sub("-", raw.lower())
    clean = re.sub(r"-{2,}", "-", clean).strip("-") or "x"
    if clean != raw or len(clean) > max_len:
        suffix = _digest(raw)
        clean = clean[: max_len - len(suffix) - 1].rstrip("-") + "-" + suffix
    return clean


def label_value(text: str) -> str:
    """A valid label value (<= 63 chars of ``[A-Za-z0-9_.-]``, alphanumeric at both ends) for ``text``.

    Examples
    --------
    >>> label_value("a100-train")
    'a100-train'
    >>> label_value("gpu pool/A100 (eu)")
    'gpu-pool-A100-eu-943ff8'
    """
    raw = str(text)
    clean = _NOT_LABEL.sub("-", raw)
    clean = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", clean)
    if clean != raw or len(clean) > 63:
        suffix = _digest(raw)
        clean = re.sub(r"[^A-Za-z0-9]+$", "", clean[: 63 - len(suffix) - 1]) + "-" + suffix
        clean = clean.lstrip("-")
    return clean
