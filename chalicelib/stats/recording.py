"""Recording downloads: the queued batch subscriber of ``Downloaded`` writes each event once, with
its ingest bucket, for the rollup (``rollup.py``) to aggregate. Nothing here increments a counter.

SQS delivers at least once, so each event is a conditional put on its id: a redelivered event changes
nothing and keeps the bucket it was first recorded in (it is rolled up once). The batch's pending
mark is written before its events, so a crash in between leaves an empty bucket, never an event the
rollup does not know about.

The CDN's downloads come as one ``DownloadsLogged`` per part of a CloudFront log file: recorded as
one ``DownloadBatch`` item (``record_logged``), conditional on its id like an event, so a log file
read twice, or a part delivered twice, is recorded once — no item or message per download.

Example::

    record([Downloaded(owner="acme", repo="tools", path="a.jar", ...)])   # -> 1 (newly recorded)
    record_logged(DownloadsLogged(source="cloudfront/E1.2026-12-01-10.ab.gz", ...))   # -> True
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import db
from chalicelib.events import Downloaded, DownloadsLogged
from chalicelib.repositories.models import Repository
from chalicelib.restrictions.countries import lookup_ip
from chalicelib.stats.models import (
    BUCKET_SECONDS,
    PENDING_KEY,
    RAW_RETENTION,
    SHARDS,
    DownloadBatch,
    DownloadEvent,
    Stat,
    pack,
)
from chalicelib.timefmt import now, read_iso

log = logging.getLogger("shelf")

#: Pending marks this container wrote already (bucket#shard): one mark per container and bucket
#: (tests that empty the tables clear it too).
_marked: set[str] = set()


def bucket_of(at: datetime) -> str:
    """The ingest bucket containing ``at``: the ISO second of its start."""
    start = int(at.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return datetime.fromtimestamp(start, tz=at.tzinfo).strftime("%Y-%m-%dT%H:%M:%S")


def bucket_end(bucket: str) -> datetime:
    """When bucket ``bucket`` (``<start>`` or ``<start>#<shard>``) closes."""
    return read_iso(bucket.split("#")[0] + "Z") + timedelta(seconds=BUCKET_SECONDS)


def _mark(bucket: str) -> None:
    if bucket in _marked:
        return
    Stat(PENDING_KEY, bucket, expires_at=now() + RAW_RETENTION).save()
    if len(_marked) > 1000:
        _marked.clear()
    _marked.add(bucket)


def _with_repository(events: Iterable[Downloaded]) -> list[Downloaded]:
    """``events`` with ``repo_id`` (and ``business_unit``) filled in where the publisher left them out
    (e.g. downloads read from CDN logs): one GetItem per repository of the batch; events of a
    repository that no longer exists are dropped."""
    found: dict[tuple[str, str], Repository | None] = {}
    out = []
    for event in events:
        if event.repo_id:
            out.append(event)
            continue
        key = (event.owner, event.repo)
        if key not in found:
            try:
                found[key] = Repository.get(*key)
            except DoesNotExist:
                found[key] = None
        repo = found[key]
        if repo is not None:
            unit = event.business_unit or repo.business_unit
            out.append(event.replace(repo_id=repo.id, business_unit=unit))
    return out


def _row(event: Downloaded, bucket: str, recorded: datetime) -> DownloadEvent:
    country = event.country or (lookup_ip(event.ip) if event.ip else None)
    return DownloadEvent(
        event.id,
        at=read_iso(event.at) if event.at else recorded,
        user=event.user,
        access_key=event.access_key,
        callback_id=event.callback_id,
        ip=event.ip,
        owner=event.owner,
        repo=event.repo,
        repo_id=event.repo_id or "",
        package=event.package,
        version=event.version,
        path=event.path,
        size=int(event.size or 0),
        country=country,
        business_unit=event.business_unit,
        bucket=bucket,
        expires_at=recorded + RAW_RETENTION,
    )


def record(events: Iterable[Downloaded]) -> int:
    """Record the download events of one SQS batch; returns how many were new. Idempotent."""
    unique = {event.id: event for event in _with_repository(events)}
    if not unique:
        return 0
    recorded = now()
    bucket = f"{bucket_of(recorded)}#{random.randrange(SHARDS)}"
    _mark(bucket)
    new = 0
    for event in unique.values():
        try:
            _row(event, bucket, recorded).save(condition=DownloadEvent.id.does_not_exist())
        except PutError as error:
            if db.condition_failed(error):
                continue  # recorded before (a redelivery)
            raise
        new += 1
        if event.callback_url:
            _callback(event)
    return new


def record_logged(event: DownloadsLogged) -> bool:
    """Record the downloads of one CDN log-file part as one item (countries looked up here, as for
    events; CloudFront's request ids are left out: a download's id is the item's and its place in it,
    see ``downloads_of``); returns whether it was new. Idempotent."""
    if not event.downloads:
        return False
    countries: dict[str | None, str | None] = {}
    downloads = []
    for index, at, _request_id, ip in event.downloads:
        if ip not in countries:
            countries[ip] = lookup_ip(ip) if ip else None
        downloads.append([index, at, ip, countries[ip]])
    recorded = now()
    bucket = f"{bucket_of(recorded)}#{random.randrange(SHARDS)}"
    _mark(bucket)
    item = DownloadBatch(
        event.id,
        bucket=bucket,
        count=len(downloads),
        payload=pack(list(event.files), downloads),
        expires_at=recorded + RAW_RETENTION,
    )
    try:
        item.save(condition=DownloadBatch.id.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            return False  # recorded before (the log file read again, or a redelivery)
        raise
    return True


def _callback(event: Downloaded) -> None:
    """Call the signed URL's callback of a newly recorded download (best effort, at most once)."""
    from chalicelib.content.signing import perform_callback

    payload = {
        "id": event.id,
        "at": event.at,
        "user": event.user,
        "callback_id": event.callback_id,
        "callback_url": event.callback_url,
        "callback_method": event.callback_method,
        "callback_email": event.callback_email,
        "ip": event.ip,
        "owner": event.owner,
        "repo": event.repo,
        "package": event.package,
        "version": event.version,
        "path": event.path,
        "size": event.size,
    }
    try:
        perform_callback(payload)
    except Exception as error:  # noqa: BLE001  (a callback must never fail the batch)
        log.warning("download callback failed: %s", error)
