"""The download rollup: a scheduled job turning recorded download events into aggregate rows.

Incremental: it starts after its watermark (the last ingest bucket done) and reads only the buckets
with a pending mark, each in order, once the bucket closed ``LAG`` ago. Idempotent and crash-safe:
each aggregate row is written once per bucket with ``ADD`` conditioned on ``applied < bucket`` (a row
that already took the bucket is skipped), and the watermark moves only after the bucket's rows are
written — running it twice, or again after a crash half-way, counts every event exactly once.

Example::

    run()                     # what a schedule does
    run(until=now())          # tests: roll up everything recorded until then (ignoring the lag)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import db
from chalicelib.stats.models import (
    MINUTE_RETENTION,
    PENDING_KEY,
    ROLLUP_KEY,
    SHARDS,
    DownloadEvent,
    Stat,
    day,
    file_key,
    minute,
    month,
    package_key,
    repo_key,
    subject_key,
    version_key,
)
from chalicelib.stats.recording import bucket_end
from chalicelib.timefmt import now

log = logging.getLogger("shelf")

#: How long after a bucket closes it is rolled up (GSI propagation, clocks of concurrent recorders).
LAG = timedelta(seconds=10)
UNKNOWN_COUNTRY = "--"


@dataclass
class Totals:
    """A bucket's sums per aggregate row: ``{(key, period): [downloads, bytes, expires_at]}``."""

    rows: dict[tuple[str, str], list] = field(default_factory=lambda: defaultdict(lambda: [0, 0, None]))

    def add(self, key: str, period: str, size: int, expires: datetime | None = None) -> None:
        row = self.rows[(key, period)]
        row[0] += 1
        row[1] += size
        row[2] = expires


def aggregate(events: list[DownloadEvent], totals: Totals | None = None) -> Totals:
    """The aggregate rows of ``events`` (see docs/data-model.md for the key scheme)."""
    totals = totals or Totals()
    for event in events:
        size = int(event.size or 0)
        m, d, mo = minute(event.at), day(event.at), month(event.at)
        cc = event.country or UNKNOWN_COUNTRY
        expires = event.at + MINUTE_RETENTION
        version = version_key(event.repo_id, event.package, event.version)
        package = package_key(event.repo_id, event.package)
        totals.add(version, f"m#{m}", size, expires)
        totals.add(version, f"d#{d}", size)
        totals.add(version, f"c#{d}#{cc}", size)
        totals.add(version, f"cm#{m}#{cc}", size, expires)
        totals.add(package, f"m#{m}#{event.version}", size, expires)
        totals.add(package, f"d#{d}#{event.version}", size)
        totals.add(package, f"c#{d}#{cc}", size)
        totals.add(package, f"cm#{m}#{cc}", size, expires)
        for key in (file_key(event.repo_id, event.path), repo_key(event.repo_id), subject_key(event.owner)):
            totals.add(key, f"d#{d}", size)
            totals.add(key, f"M#{mo}", size)
        if event.business_unit:
            totals.add(subject_key(event.owner), f"bu#{mo}#{event.business_unit}", size)
    return totals


def _write(bucket: str, key: str, period: str, downloads: int, size: int, expires: datetime | None) -> bool:
    """Add one row's sums for ``bucket`` unless the row took it already; whether it was written."""
    actions = [Stat.downloads.add(downloads), Stat.bytes.add(size), Stat.applied.set(bucket)]
    if expires is not None:
        actions.append(Stat.expires_at.set(expires))
    try:
        Stat(key, period).update(
            actions=actions, condition=Stat.applied.does_not_exist() | (Stat.applied < bucket)
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def watermark() -> str:
    try:
        return Stat.get(ROLLUP_KEY, "-", consistent_read=True).watermark or ""
    except DoesNotExist:
        return ""


def _set_watermark(bucket: str) -> None:
    try:
        Stat(ROLLUP_KEY, "-").update(
            actions=[Stat.watermark.set(bucket)],
            condition=Stat.watermark.does_not_exist() | (Stat.watermark < bucket),
        )
    except UpdateError as error:
        if not db.condition_failed(error):  # another run went further: fine
            raise


def pending_buckets(after: str, until: datetime) -> list[str]:
    """Buckets (``<start>``) with a pending mark after ``after`` that closed by ``until``, in order."""
    found: set[str] = set()
    for mark in Stat.query(PENDING_KEY, Stat.period > (after + "#~" if after else "")):
        start = mark.period.split("#")[0]
        if bucket_end(start) <= until:
            found.add(start)
    return sorted(found)


def _events_of(bucket: str) -> list[DownloadEvent]:
    events: list[DownloadEvent] = []
    for shard in range(SHARDS):
        events.extend(DownloadEvent.bucket_index.query(f"{bucket}#{shard}"))
    return events


@dataclass
class Report:
    buckets: int = 0
    events: int = 0
    writes: int = 0
    skipped: int = 0


def run(until: datetime | None = None, max_buckets: int = 10_000) -> Report:
    """Roll up the buckets recorded after the watermark that closed by ``until`` (default: ``LAG``
    ago), at most ``max_buckets`` of them. Returns what it did."""
    until = until or (now() - LAG)
    report = Report()
    for bucket in pending_buckets(watermark(), until)[:max_buckets]:
        events = _events_of(bucket)
        for (key, period), (downloads, size, expires) in aggregate(events).rows.items():
            if _write(bucket, key, period, downloads, size, expires):
                report.writes += 1
            else:
                report.skipped += 1
        _set_watermark(bucket)
        report.buckets += 1
        report.events += len(events)
    if report.buckets:
        log.info("download rollup: %s", report)
    return report
