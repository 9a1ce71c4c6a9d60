"""EventBridge schedules, locally: run every ``@app.schedule`` function registered on the Chalice app
(whatever domain declared it) on a short period, so that ``make serve`` shows the effect of scheduled
jobs (download statistics, clean-ups) within seconds.

Each schedule runs every ``min(its rate, SHELF_LOCAL_SCHEDULE_SECONDS)`` seconds (default 10); a cron
expression runs every ``SHELF_LOCAL_SCHEDULE_SECONDS``. Schedules are discovered from
``app.event_sources``, so a schedule added by any blueprint is run without changing this file.

Example::

    Scheduler(app).start()        # infra/local/serve.py
    Scheduler(app).run_due()      # one pass: every schedule that is due now
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice, Rate, ScheduledEventConfig

DEFAULT_SECONDS = 10.0
UNIT_SECONDS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: Any) -> float | None:
    """The period of a schedule expression in seconds (``Rate`` or ``"rate(5 minutes)"``), or None
    for a cron expression."""
    if isinstance(expression, Rate):
        return float(expression.value * UNIT_SECONDS[expression.unit.lower()])
    text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
    match = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", text.strip())
    if match:
        return float(int(match.group(1)) * UNIT_SECONDS[match.group(2).lower()])
    return None


@dataclass
class Job:
    name: str
    handler: Any
    period: float
    due: float = 0.0


def local_period() -> float:
    return float(os.environ.get("SHELF_LOCAL_SCHEDULE_SECONDS") or DEFAULT_SECONDS)


def discover(app: Chalice, cap: float | None = None) -> list[Job]:
    """Every schedule registered on ``app``, each with its local period."""
    cap = local_period() if cap is None else cap
    jobs = []
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            rate = rate_seconds(source.schedule_expression)
            period = cap if rate is None else min(rate, cap)
            jobs.append(Job(source.name, app.handler_map[source.name], period))
    return jobs


def scheduled_event(name: str) -> dict[str, Any]:
    """The EventBridge event a scheduled Lambda receives."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/shelf-local-{name}"],
        "detail": {},
    }


class _Context:
    function_name = "shelf-local-schedule"
    aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class Scheduler:
    """Run ``app``'s schedules in a background thread (a failing run is logged and retried next time)."""

    def __init__(self, app: Chalice, cap: float | None = None):
        self.jobs = discover(app, cap)
        self._stop = threading.Event()

    def run_due(self, at: float | None = None) -> list[str]:
        """Run the jobs due at ``at`` (monotonic seconds; now); returns their names."""
        at = time.monotonic() if at is None else at
        ran = []
        for job in self.jobs:
            if job.due > at:
                continue
            job.due = at + job.period
            try:
                job.handler(scheduled_event(job.name), _Context())
            except Exception as error:  # noqa: BLE001  (as EventBridge, try again next period)
                print(f"scheduled function {job.name} failed: {error!r}", flush=True)
            ran.append(job.name)
        return ran

    def run_forever(self, tick: float = 0.5) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(tick)

    def start(self) -> Scheduler:
        threading.Thread(target=self.run_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
