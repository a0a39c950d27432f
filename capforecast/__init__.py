"""capforecast: forecast GPU demand from Prometheus and plan Kubernetes node pre-reservations ahead of it."""

from __future__ import annotations

__version__ = "0.2.0"
