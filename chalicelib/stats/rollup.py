"""The download rollup: a scheduled job turning recorded download events into aggregate rows.

Incremental: it starts after its watermark (the last ingest bucket done) and reads only the buckets
with a pending mark, a chunk of them at a time (``SHELF_STATS_ROLLUP_SECONDS`` of ingest time, 60 s;
aligned, so a chunk is the same set of buckets whichever run reads it), in order, once the chunk
closed ``SHELF_STATS_LAG_SECONDS`` ago. Idempotent and crash-safe: each aggregate row is written
once per chunk with ``ADD`` conditioned on ``applied < chunk`` (a row that already took the chunk is
skipped), and the watermark moves only after the chunk's rows are written — running it twice, or
again after a crash half-way, counts every event exactly once.

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
from pynamodb.expressions.condition import size as size_of

from chalicelib import db
from chalicelib.config import settings
from chalicelib.records import dataclass
from chalicelib.stats.models import (
    BUCKET_SECONDS,
    MINUTE_RETENTION,
    PENDING_KEY,
    ROLLUP_KEY,
    Download,
    DownloadEvent,
    Stat,
    day,
    downloads_of,
    minute,
    month,
    package_key,
    repo_key,
    subject_key,
)
from chalicelib.stats.recording import bucket_end
from chalicelib.timefmt import now, read_iso

log = logging.getLogger("shelf")

UNKNOWN_COUNTRY = "--"
#: Concurrent UpdateItems of a chunk (each row is independent; the watermark waits for all).
WRITERS = 16


#: Minute entries a package's day row holds (``Stat.minutes``; ~10 bytes each, so the row stays within
#: one 1 KB write unit); a row's later minutes are written as ``cm#`` minute rows instead.
MINUTES_PER_ROW = 40
#: Day rows known to be full (this container): their minutes go to ``cm#`` rows without a try first.
_full: set[tuple[str, str]] = set()


@dataclass
class Totals:
    """A chunk's sums per aggregate row: ``{(key, period): [downloads, bytes, expires_at, minutes]}``,
    ``minutes`` (a package's day rows only) ``{minute: downloads}``."""

    rows: dict[tuple[str, str], list] = field(default_factory=lambda: defaultdict(lambda: [0, 0, None, None]))

    def add(
        self, key: str, period: str, size: int, expires: datetime | None = None, at: str | None = None
    ) -> None:
        row = self.rows[(key, period)]
        row[0] += 1
        row[1] += size
        row[2] = expires
        if at is not None:
            if row[3] is None:
                row[3] = defaultdict(int)
            row[3][at] += 1


def aggregate(events: list[DownloadEvent | Download], totals: Totals | None = None) -> Totals:
    """The aggregate rows of ``events`` (see docs/data-model.md for the key scheme): a package has one
    row per day, country and version, which carries the downloads per minute too (``_write_day``); its
    per-version and per-minute figures are read as sums of these (``services._counts``)."""
    totals = totals or Totals()
    for event in events:
        size = int(event.size or 0)
        d, mo = day(event.at), month(event.at)
        cc = event.country or UNKNOWN_COUNTRY
        package = package_key(event.repo_id, event.package)
        totals.add(package, f"c#{d}#{cc}#{event.version}", size, at=minute(event.at))
        for key in (repo_key(event.repo_id), subject_key(event.owner)):
            totals.add(key, f"d#{d}", size)
            totals.add(key, f"M#{mo}", size)
        if event.business_unit:
            totals.add(subject_key(event.owner), f"bu#{mo}#{event.business_unit}", size)
            totals.add(subject_key(event.owner), f"bud#{d}#{event.business_unit}", size)
    return totals


def _not_applied(bucket: str):  # noqa: ANN202
    return Stat.applied.does_not_exist() | (Stat.applied < bucket)


def _write(
    bucket: str, key: str, period: str, downloads: int, size: int | None, expires: datetime | None
) -> bool:
    """Add one row's sums for ``bucket`` unless the row took it already; whether it was written."""
    actions = [Stat.downloads.add(downloads), Stat.applied.set(bucket)]
    if size is not None:
        actions.append(Stat.bytes.add(size))
    if expires is not None:
        actions.append(Stat.expires_at.set(expires))
    try:
        Stat(key, period).update(actions=actions, condition=_not_applied(bucket))
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def _write_day(bucket: str, key: str, period: str, downloads: int, size: int, minutes: dict[str, int]) -> int:
    """A package's day row (``c#<d>#<CC>#<version>``) for ``bucket``, with its downloads per minute:
    one UpdateItem appending the minutes to the row's ``minutes`` while they fit; once they do not (the
    row is full: ``minute_rows_from`` names the first such chunk), the day's sums and one
    ``cm#<minute>#<CC>#<version>`` row per minute (TTL 25 h). So each chunk's minutes are in exactly
    one of the two, also on a re-run (the day row says which). How many items it wrote (0: taken
    already)."""
    entries = [f"{at[11:]}={count}" for at, count in sorted(minutes.items())]
    sums = [Stat.downloads.add(downloads), Stat.bytes.add(size), Stat.applied.set(bucket)]
    if (key, period) not in _full and len(entries) <= MINUTES_PER_ROW:
        room = Stat.minutes.does_not_exist() | (size_of(Stat.minutes) <= MINUTES_PER_ROW - len(entries))
        try:
            Stat(key, period).update(
                actions=[*sums, Stat.minutes.set((Stat.minutes | []).append(entries))],
                condition=_not_applied(bucket) & Stat.minute_rows_from.does_not_exist() & room,
            )
            return 1
        except UpdateError as error:  # full, or taken already
            if not db.condition_failed(error):
                raise
    written = 0
    try:
        Stat(key, period).update(
            actions=[*sums, Stat.minute_rows_from.set(Stat.minute_rows_from | bucket)],
            condition=_not_applied(bucket),
        )
        written = 1
    except UpdateError as error:
        if not db.condition_failed(error):
            raise
        spilled = Stat.get(key, period, consistent_read=True).minute_rows_from
        if spilled is None or spilled > bucket:
            return 0  # the chunk went into the row's minutes
    if len(_full) > 100_000:
        _full.clear()
    _full.add((key, period))
    rest = period.split("#", 2)[2]
    for at, count in sorted(minutes.items()):  # each with its own `applied`: a re-run completes them
        expires = datetime.strptime(at, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC) + MINUTE_RETENTION
        written += _write(bucket, key, f"cm#{at}#{rest}", count, None, expires)
    return written


def _write_row(chunk: str, row: tuple[tuple[str, str], list]) -> int:
    (key, period), (downloads, size, expires, minutes) = row
    if minutes is not None:
        return _write_day(chunk, key, period, downloads, size, minutes)
    return int(_write(chunk, key, period, downloads, size, expires))


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
        for item in DownloadEvent.bucket_index.query(mark):
            events.extend(downloads_of(item))
    return events


@dataclass
class Report:
    chunks: int = 0
    events: int = 0
    #: Items written (a full day row writes its minute rows too).
    writes: int = 0
    #: Rows that had taken their chunk already.
    skipped: int = 0


def run(until: datetime | None = None, max_chunks: int = 10_000) -> Report:
    """Roll up the chunks of buckets recorded after the watermark that closed by ``until`` (default:
    ``SHELF_STATS_LAG_SECONDS`` ago: GSI propagation, recorders' clocks), at most ``max_chunks`` of
    them, each chunk's rows written once. Returns what it did."""
    until = until or (now() - timedelta(seconds=settings().stats_lag_seconds))
    seconds = chunk_seconds()
    report = Report()
    for chunk, marks in pending_chunks(watermark(), until, seconds)[:max_chunks]:
        events = _events_of(marks)
        rows = aggregate(events).rows.items()
        with ThreadPoolExecutor(WRITERS) as pool:
            written = list(pool.map(partial(_write_row, chunk), rows))
        report.writes += sum(written)
        report.skipped += written.count(0)
        last_bucket = read_iso(chunk + "Z") + timedelta(seconds=seconds - BUCKET_SECONDS)
        _set_watermark(max(last_bucket.strftime("%Y-%m-%dT%H:%M:%S"), max(m.split("#")[0] for m in marks)))
        report.chunks += 1
        report.events += len(events)
    if report.chunks:
        log.info("download rollup: %s", report)
    return report
