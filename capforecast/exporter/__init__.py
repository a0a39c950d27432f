"""Serve a nightly run's plan and forecast as Prometheus metrics, for the time of each scrape.

``capforecast exporter --run-dir OUTPUT/latest`` runs :func:`serve`; :class:`RunCollector` is the
``prometheus_client`` collector behind it, usable in any registry. Metrics: docs/exporter.md.
"""

from __future__ import annotations

from capforecast.exporter.collector import METRICS, RunCollector
from capforecast.exporter.server import serve

__all__ = ["METRICS", "RunCollector", "serve"]
