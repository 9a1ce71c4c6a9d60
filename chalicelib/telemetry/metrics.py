"""CloudWatch metrics as Embedded Metric Format (EMF) lines: JSON objects on stdout that CloudWatch
Logs turns into metrics, with no API call and no extra latency (Lambda ships stdout to CloudWatch).

Metrics (namespace ``Shelf``, unit Count unless said):

- per HTTP request: ``Requests``, ``Errors`` (5xx), ``Refusals`` (401, 403, 429 and plan refusals),
  ``Latency`` (Milliseconds);
- from in-request lifecycle events (``telemetry.subscribers``): ``Uploads`` and ``UploadBytes``
  (Bytes), ``Downloads`` and ``DownloadBytes`` (Bytes, the size of the file a download redirect
  serves), ``Publishes``.

One dimension, ``Stage``, so that the metric count (and its monthly price) does not grow with the
routes; the route, subject, repository and request id are properties of the same line (searchable in
CloudWatch Logs Insights, not dimensions).

Within ``collecting()`` (one per invocation, opened by ``chalicelib.web.telemetry.observe``) ``add``
accumulates and the invocation ends with one line; outside, ``add`` writes a line at once. Lines are
written only with JSON logs on (``logs.install`` with ``SHELF_LOG_FORMAT=json``).

Example::

    with metrics.collecting(route="PUT /content/...") as current:
        metrics.add("Uploads", 1)
        metrics.add("UploadBytes", 1024, "Bytes")
    # {"_aws": {"CloudWatchMetrics": [{"Namespace": "Shelf", ...}]}, "Uploads": 1, ...}
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import field
from typing import Any

from chalicelib.config import settings
from chalicelib.records import dataclass

NAMESPACE = "Shelf"
DIMENSIONS = ("Stage",)
#: Whether lines are written (set by ``logs.install`` with JSON logs); where (None: stdout).
enabled = False
stream: Any = None


@dataclass
class MetricSet:
    """The metrics of one invocation and the properties written with them."""

    values: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: float, unit: str = "Count") -> None:
        self.values[name] = self.values.get(name, 0) + value
        self.units[name] = unit


_current: ContextVar[MetricSet | None] = ContextVar("shelf_metrics", default=None)


def add(name: str, value: float, unit: str = "Count") -> None:
    """Count ``value`` of metric ``name`` in the current invocation (or write it at once)."""
    current = _current.get()
    if current is not None:
        current.add(name, value, unit)
        return
    single = MetricSet()
    single.add(name, value, unit)
    write(single)


@contextmanager
def collecting(**properties: Any) -> Iterator[MetricSet]:
    """Accumulate the metrics of one invocation; written as one EMF line when it ends."""
    metric_set = MetricSet(properties=dict(properties))
    token = _current.set(metric_set)
    try:
        yield metric_set
    finally:
        _current.reset(token)
        write(metric_set)


def document(metric_set: MetricSet, timestamp_ms: int | None = None) -> dict[str, Any]:
    """The EMF document of ``metric_set``."""
    line: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(DIMENSIONS)],
                    "Metrics": [
                        {"Name": name, "Unit": metric_set.units[name]} for name in sorted(metric_set.values)
                    ],
                }
            ],
        },
        "Stage": settings().stage,
    }
    line.update({k: v for k, v in metric_set.properties.items() if v is not None})
    line.update(metric_set.values)
    return line


def write(metric_set: MetricSet) -> None:
    """Print ``metric_set`` as one EMF line on stdout (JSON log format only; nothing when empty)."""
    if not metric_set.values or not enabled:
        return
    out = stream or sys.stdout
    out.write(json.dumps(document(metric_set), default=str) + "\n")
    out.flush()
