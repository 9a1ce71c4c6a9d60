"""Download logs: a scheduled job writes one gzip file per package and UTC day from the recorded
download events (``chalicelib/stats``: ``DownloadEvent``, and the CDN's downloads read from
CloudFront's logs in ``DownloadBatch`` items; found through the ingest buckets' pending marks and the
``bucket_index`` GSI, so no Scan); the routes list and serve them (302 to a signed S3
URL, like content).

A line is Bintray's Apache-like download-log line; the user field is ``anonymous`` or the user (an
access key: ``<id>@<subject>``), with ``:<callback_id>`` when a signed URL carried one::

    1.2.3.4 - anonymous:user254 [2014-11-14T23:50:10.207 +0000] "GET /acme/tools/a.jar HTTP/1.1" 200 9 "-" "-"

Only the packages whose owner's plan can read download logs (``plans.allows(owner, "download_logs")``,
the rule the routes apply: Premium and up) get files; the others' downloads cost the job nothing in S3.
The plan is the one when the job runs (read once per owner and run: a BatchGetItem of ``subjects``
for up to 100 owners), so a subject that upgrades gets logs from the upgrade on: the first run after
it writes the files of its packages downloaded since the previous run (each with all that day's
lines); the days before have none, and are not written later. A subject that downgrades gets no new
files; its earlier ones expire with retention.

Idempotent: writing a day again rewrites the same bytes (lines sorted by time and id, gzip without
a timestamp). The job rewrites today's files on every run and yesterday's until ``GRACE`` after
midnight (late events), then marks the day final (``LogJob`` watermark). Retention
(``SHELF_DOWNLOAD_LOG_RETENTION_DAYS``, 90 by default): older logs are not listed or served, writing a
package's log deletes its expired ones, and deployed, an S3 lifecycle rule on ``logs/`` expires them.

Example::

    write_day("2026-12-01")          # -> 12 (files written)
    list_logs(package)               # [{"name": "downloads-01-12-2026.log.gz", "size": 209, "update": ...}]
"""

from __future__ import annotations

import gzip
import logging
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import db, plans
from chalicelib.accounts.models import Subject
from chalicelib.config import settings
from chalicelib.download_logs.models import LogJob
from chalicelib.errors import NotFound
from chalicelib.packages.models import Package
from chalicelib.records import dataclass
from chalicelib.stats.models import (
    BUCKET_SECONDS,
    PENDING_KEY,
    Download,
    DownloadEvent,
    Stat,
    bucket_downloads,
)
from chalicelib.stats.recording import bucket_of
from chalicelib.storage import content_disposition, s3
from chalicelib.timefmt import iso, now

log = logging.getLogger("shelf")

PREFIX = "logs/"
#: How long after midnight events of the day may still arrive (queue and recording delays).
GRACE = timedelta(hours=2)
JOB = "download_logs"
LOG_NAME = re.compile(r"downloads-([0-9]{2})-([0-9]{2})-([0-9]{4})\.log\.gz")
URL_SECONDS = 30


# --- names ----------------------------------------------------------------------------------------


def log_name(day: date) -> str:
    """``downloads-DD-MM-YYYY.log.gz`` (the spec's sample name)."""
    return f"downloads-{day:%d-%m-%Y}.log.gz"


def day_of(name: str) -> date | None:
    """The day of a log name, or None when it is not one."""
    match = LOG_NAME.fullmatch(name)
    if match is None:
        return None
    try:
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        return None


def object_key(package: Package, day: date) -> str:
    return f"{PREFIX}{package.id}/{log_name(day)}"


def retained(day: date, today: date | None = None) -> bool:
    today = today or now().date()
    return day > today - timedelta(days=settings().download_log_retention_days)


# --- lines --------------------------------------------------------------------------------------


def line(event: DownloadEvent | Download) -> str:
    """The download-log line of one event."""
    user = event.user or "anonymous"
    if event.callback_id:
        user = f"{user}:{event.callback_id}"
    at = event.at.astimezone(UTC)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d} +0000"
    request = f"GET /{event.owner}/{event.repo}/{event.path} HTTP/1.1"
    return f'{event.ip or "-"} - {user} [{stamp}] "{request}" 200 {int(event.size or 0)} "-" "-"'


def events_of_day(
    day: date, after: str = ""
) -> tuple[dict[tuple[str, str], list[DownloadEvent | Download]], set[tuple[str, str]]]:
    """The day's downloads by (repository id, package): the ingest buckets recorded from the day's
    start until ``GRACE`` after its end (pending marks, one Query), each read through
    ``bucket_index``, keeping the downloads of that day — the API's events, and the CDN's downloads
    in their batches (one item per part of a CloudFront log file, with its time, address and file).
    And the packages with a download of the day in a bucket after ``after`` (all when "")."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    first, last = start.strftime("%Y-%m-%dT%H:%M:%S"), (start + timedelta(days=1) + GRACE).isoformat()
    found: dict[tuple[str, str], list[DownloadEvent | Download]] = defaultdict(list)
    changed: set[tuple[str, str]] = set()
    for mark in Stat.query(PENDING_KEY, Stat.period.between(first, last[:19] + "#~")):
        new = mark.period > f"{after}#~"
        for event in bucket_downloads(mark.period):
            if event.at.astimezone(UTC).date() == day and event.repo_id:
                found[(event.repo_id, event.package)].append(event)
                if new:
                    changed.add((event.repo_id, event.package))
    return found, changed


def _put(key: str, lines: list[str]) -> None:
    body = gzip.compress(("".join(f"{text}\n" for text in lines)).encode(), mtime=0)
    s3().put_object(Bucket=settings().bucket, Key=key, Body=body, ContentType="application/gzip")


def _prune(package: Package, today: date) -> None:
    """Delete the package's logs past retention."""
    for item in _objects(package):
        day = day_of(item["Key"].rsplit("/", 1)[-1])
        if day is None or not retained(day, today):
            s3().delete_object(Bucket=settings().bucket, Key=item["Key"])


def readers(owners: set[str], known: dict[str, bool] | None = None) -> dict[str, bool]:
    """Whether each of ``owners`` may read download logs (the routes' plan rule, ``plans.allows``);
    ``known`` holds the answers found so far (updated): only the other owners are read, in
    BatchGetItems of ``subjects`` (100 names each). A subject that no longer exists may not."""
    known = {} if known is None else known
    missing = owners - known.keys()
    for subject in Subject.batch_get(sorted(missing)) if missing else ():
        known[subject.name] = plans.allows(subject, "download_logs")
    for name in missing - known.keys():
        known[name] = False  # deleted
    return known


def write_day(day: date, after: str = "", known: dict[str, bool] | None = None) -> int:
    """Write the logs of ``day`` of every package downloaded that day with a download recorded after
    ingest bucket ``after`` (every package downloaded that day when "") whose owner's plan can read
    them (``known``: the owners' answers so far, see ``readers``); how many files."""
    written = 0
    today = now().date()
    downloads, changed = events_of_day(day, after)
    allowed = readers({downloads[key][0].owner for key in changed}, known)
    for (repo_id, name), found in downloads.items():
        if (repo_id, name) not in changed:
            continue  # its file holds these lines already
        if not allowed[found[0].owner]:
            continue  # its owner's plan does not include download logs (plans.FEATURES)
        try:
            package = Package.get(repo_id, name)
        except DoesNotExist:
            continue  # deleted since
        found.sort(key=lambda e: (e.at, e.id))
        _put(object_key(package, day), [line(event) for event in found])
        _prune(package, today)
        written += 1
    return written


# --- the job ------------------------------------------------------------------------------------


@dataclass
class Report:
    days: list[str]
    files: int = 0
    #: The last ingest bucket the previous run had read: only packages with later downloads were written.
    read_after: str = ""


def _job() -> LogJob | None:
    try:
        return LogJob.get(JOB, consistent_read=True)
    except DoesNotExist:
        return None


def _set_progress(final: date | None, read_through: str) -> None:
    """Move the watermarks forward (never back: another run may have gone further)."""
    for attribute, value in (
        (LogJob.final_through, final and final.isoformat()),
        (LogJob.read_through, read_through),
    ):
        if value is None:
            continue
        try:
            LogJob(JOB).update(
                actions=[attribute.set(value)], condition=attribute.does_not_exist() | (attribute < value)
            )
        except UpdateError as error:
            if not db.condition_failed(error):  # another run went further
                raise


def run(at: datetime | None = None) -> Report:
    """Write the days after the watermark up to today (at most the raw events' 30 days): of each day,
    the files of the packages with downloads recorded after the ingest buckets the previous run read
    (``read_through``: the last bucket closed, ``SHELF_STATS_LAG_SECONDS`` included, when it began;
    downloads of a bucket still open then are read again, so such a package is written once more).
    A day ``GRACE`` past its end becomes final."""
    at = at or now()
    today = at.date()
    job = _job()
    final = (
        date.fromisoformat(job.final_through) if job and job.final_through else None
    ) or today - timedelta(days=2)
    after = (job.read_through if job else None) or ""
    closed = bucket_of(at - timedelta(seconds=BUCKET_SECONDS + settings().stats_lag_seconds))
    first = max(final + timedelta(days=1), today - timedelta(days=30))
    report = Report(days=[], read_after=after)
    day, last_final = first, None
    known: dict[str, bool] = {}  # owner -> whether its plan can read logs: read once per run
    while day <= today:
        report.files += write_day(day, after, known)
        report.days.append(day.isoformat())
        if at >= datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) + GRACE:
            last_final = day
        day += timedelta(days=1)
    _set_progress(last_final, closed)
    return report


# --- reading ------------------------------------------------------------------------------------


def _objects(package: Package) -> list[dict[str, Any]]:
    pages = (
        s3()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=settings().bucket, Prefix=f"{PREFIX}{package.id}/")
    )
    return [item for page in pages for item in page.get("Contents", [])]


def list_logs(package: Package) -> list[dict[str, Any]]:
    """The package's logs within retention, newest first: name, size (bytes of the gzip file), update."""
    out = []
    for item in _objects(package):
        name = item["Key"].rsplit("/", 1)[-1]
        day = day_of(name)
        if day is not None and retained(day):
            out.append((day, {"name": name, "size": int(item["Size"]), "update": iso(item["LastModified"])}))
    return [entry for _, entry in sorted(out, key=lambda pair: pair[0], reverse=True)]


def log_url(package: Package, name: str) -> str:
    """A signed URL of the log ``name`` (valid ``URL_SECONDS``); 404 when there is none."""
    day = day_of(name)
    missing = NotFound(f"Log file '{name[:100]}' was not found")
    if day is None or not retained(day):
        raise missing
    key = object_key(package, day)
    try:
        s3().head_object(Bucket=settings().bucket, Key=key)
    except Exception as error:  # botocore's ClientError (404); boto3 is not imported at module level
        if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise missing from None
        raise
    return str(
        s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": settings().bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(name),
            },
            ExpiresIn=URL_SECONDS,
        )
    )
