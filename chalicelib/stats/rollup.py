"""The download rollup: a scheduled job turning recorded download events into aggregate rows.

Incremental: it starts after its watermark (the last ingest bucket done) and reads only the buckets
with a pending mark, a chunk of them at a time (``SHELF_STATS_ROLLUP_SECONDS`` of ingest time, 60 s;
aligned, so a chunk is the same set of buckets whichever run reads it), in order, once the chunk
closed ``SHELF_STATS_LAG_SECONDS`` ago. A chunk writes the repositories' and subjects' aggregate rows
and, per repository, one ledger chunk item with its packages' downloads (``ledger.py``: no item per
package). Idempotent and crash-safe: each aggregate row is written once per chunk with ``ADD``
conditioned on ``applied < chunk`` (a row that already took the chunk is skipped), a chunk item only if
it does not exist, and the watermark moves only after the chunk's items are written — running it
twice, or again after a crash half-way, counts every event exactly once.

Example::

    run()                     # what a schedule does
    run(until=now())          # tests: roll up everything recorded until then (ignoring the lag)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import field
from datetime import UTC, datetime, timedelta
from functools import partial

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import db
from chalicelib.config import settings
from chalicelib.records import dataclass
from chalicelib.stats import ledger
from chalicelib.stats.models import (
    BUCKET_SECONDS,
    PENDING_KEY,
    ROLLUP_KEY,
    Download,
    DownloadEvent,
    Stat,
    bucket_downloads,
    day,
    minute,
    month,
    repo_key,
    subject_key,
)
from chalicelib.stats.recording import bucket_end
from chalicelib.timefmt import now, read_iso

log = logging.getLogger("shelf")

UNKNOWN_COUNTRY = "--"
#: Concurrent UpdateItems of a chunk (each row is independent; the watermark waits for all).
WRITERS = 16


def _nested(depth: int) -> defaultdict:
    """``depth`` levels of ``defaultdict``, integers at the bottom."""
    return defaultdict(int) if depth == 1 else defaultdict(lambda: _nested(depth - 1))


@dataclass
class Totals:
    """A chunk's sums: per shared aggregate row (a repository's, a subject's) ``rows``
    ``{(key, period): [downloads, bytes]}``; per repository the packages' downloads for
    its ledger (``ledger.py``) ``{repo_id: {day: {package: {(minute, country, version): downloads}}}}``."""

    rows: dict[tuple[str, str], list] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    packages: dict[str, dict[str, ledger.Minutes]] = field(default_factory=lambda: _nested(4))

    def add(self, key: str, period: str, size: int) -> None:
        row = self.rows[(key, period)]
        row[0] += 1
        row[1] += size


def aggregate(events: list[DownloadEvent | Download], totals: Totals | None = None) -> Totals:
    """The aggregate rows of ``events`` (see docs/data-model.md for the key scheme): the repository's
    and subject's rows, and the packages' downloads by day, minute, country and version, which the
    repository's ledger holds (``ledger.py``)."""
    totals = totals or Totals()
    for event in events:
        size = int(event.size or 0)
        d, mo = day(event.at), month(event.at)
        cc = event.country or UNKNOWN_COUNTRY
        totals.packages[event.repo_id][d][event.package][(minute(event.at)[11:], cc, event.version)] += 1
        for key in (repo_key(event.repo_id), subject_key(event.owner)):
            totals.add(key, f"d#{d}", size)
            totals.add(key, f"M#{mo}", size)
        if event.business_unit:
            totals.add(subject_key(event.owner), f"bu#{mo}#{event.business_unit}", size)
            totals.add(subject_key(event.owner), f"bud#{d}#{event.business_unit}", size)
    return totals


def _not_applied(bucket: str):  # noqa: ANN202
    return Stat.applied.does_not_exist() | (Stat.applied < bucket)


def _write(bucket: str, key: str, period: str, downloads: int, size: int) -> bool:
    """Add one row's sums for ``bucket`` unless the row took it already; whether it was written."""
    actions = [Stat.downloads.add(downloads), Stat.bytes.add(size), Stat.applied.set(bucket)]
    try:
        Stat(key, period).update(actions=actions, condition=_not_applied(bucket))
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def _write_row(chunk: str, row: tuple[tuple[str, str], list]) -> int:
    (key, period), (downloads, size) = row
    return int(_write(chunk, key, period, downloads, size))


def _write_ledger(chunk: str, repo: tuple[str, dict[str, ledger.Minutes]]) -> tuple[int, int]:
    repo_id, days = repo
    return ledger.write_chunk(chunk, repo_id, days)


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


def chunk_seconds() -> int:
    """The rollup's unit of work (``SHELF_STATS_ROLLUP_SECONDS``, a multiple of the bucket)."""
    seconds = int(settings().stats_rollup_seconds)
    return max(BUCKET_SECONDS, -(-seconds // BUCKET_SECONDS) * BUCKET_SECONDS)


def chunk_of(bucket: str, seconds: int) -> str:
    """The chunk (``<start>``, ISO second) of ingest bucket ``bucket``: ``seconds``-aligned."""
    start = int(bucket_end(bucket).timestamp()) - BUCKET_SECONDS
    return bucket_of_seconds(start // seconds * seconds)


def bucket_of_seconds(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def pending_chunks(after: str, until: datetime, seconds: int) -> list[tuple[str, list[str]]]:
    """The chunks with pending buckets after ``after`` that closed by ``until``, in order:
    ``[(chunk, [bucket#shard, ...])]``."""
    found: dict[str, list[str]] = defaultdict(list)
    condition = Stat.period > after + "#~" if after else None
    for mark in Stat.query(PENDING_KEY, condition):
        chunk = chunk_of(mark.period.split("#")[0], seconds)
        if read_iso(chunk + "Z") + timedelta(seconds=seconds) <= until:
            found[chunk].append(mark.period)
    return sorted(found.items())


def _events_of(marks: list[str]) -> list[DownloadEvent | Download]:
    """The downloads of the pending buckets ``marks`` (``<bucket>#<shard>``: one Query each, paged):
    the events, and the downloads of the CDN's batches."""
    events: list[DownloadEvent | Download] = []
    for mark in marks:
        events.extend(bucket_downloads(mark))
    return events


@dataclass
class Report:
    chunks: int = 0
    events: int = 0
    #: Items written: aggregate rows and ledger chunk items.
    writes: int = 0
    #: Rows and chunk items that had taken their chunk already.
    skipped: int = 0
    #: Ledger day items written by the compaction.
    compacted: int = 0


def run(until: datetime | None = None, max_chunks: int = 10_000) -> Report:
    """Roll up the chunks of buckets recorded after the watermark that closed by ``until`` (default:
    ``SHELF_STATS_LAG_SECONDS`` ago: GSI propagation, recorders' clocks), at most ``max_chunks`` of
    them, each chunk's rows written once; then compact the repositories' ledgers of the days that
    ended (``ledger.compact``). Returns what it did."""
    until = until or (now() - timedelta(seconds=settings().stats_lag_seconds))
    seconds = chunk_seconds()
    report = Report()
    done = watermark()  # then the last bucket this run wrote (another run's may be later: fine)
    for chunk, marks in pending_chunks(done, until, seconds)[:max_chunks]:
        events = _events_of(marks)
        totals = aggregate(events)
        with ThreadPoolExecutor(WRITERS) as pool:
            written = list(pool.map(partial(_write_row, chunk), totals.rows.items()))
            items = list(pool.map(partial(_write_ledger, chunk), totals.packages.items()))
        report.writes += sum(written) + sum(w for w, _ in items)
        report.skipped += written.count(0) + sum(s for _, s in items)
        last_bucket = read_iso(chunk + "Z") + timedelta(seconds=seconds - BUCKET_SECONDS)
        done = max(last_bucket.strftime("%Y-%m-%dT%H:%M:%S"), max(m.split("#")[0] for m in marks))
        _set_watermark(done)
        report.chunks += 1
        report.events += len(events)
    if done:
        report.compacted = ledger.compact(until, chunk_of(done, seconds))
    if report.chunks or report.compacted:
        log.info("download rollup: %s", report)
    return report
