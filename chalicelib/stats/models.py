"""DynamoDB models of download statistics and usage.

Access patterns (see docs/data-model.md, "Statistics and usage"):
- one download event by id (exactly-once recording: conditional put): ``DownloadEvent`` hash ``id``;
  the events of one ingest bucket and shard (the rollup's input): GSI ``bucket_index`` hash ``bucket``
- the downloads of one part of one CDN log file, in one item of the same table (``DownloadBatch``,
  id ``cdnlog-…``, a compressed ``payload``): found through ``bucket_index`` like the events
- every aggregate, the rollup's pending buckets and watermark, storage counters and their daily ledger:
  ``Stat`` hash ``key``, range ``period`` (key scheme below, in ``*_key`` / ``*_period`` helpers)
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

from pynamodb.attributes import (
    BinaryAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.db import table_meta
from chalicelib.records import dataclass

#: Raw download events expire after this (aggregates stay).
RAW_RETENTION = timedelta(days=30)
#: A repository's chunk items (its packages' downloads of one chunk, by minute) expire after this: long
#: after the day's compaction into day items (an hour after the day ends), and beyond the 24 hours read
#: at minute resolution.
CHUNK_RETENTION = timedelta(days=7)
#: Ingest buckets: events are written with the bucket of the moment they were recorded
#: (``YYYY-MM-DDTHH:MM:SS`` of its start) and a shard (``#0`` … ``#SHARDS-1``).
BUCKET_SECONDS = 10
SHARDS = 4


#: What ``bucket_index`` holds of an item: every attribute of an event, a batch's ``count`` but not its
#: ``payload`` (tens of KB, which the index would bill as many write units again): ``bucket_downloads``
#: reads the payloads from the table.
BUCKET_INDEX_ATTRIBUTES = [
    "at", "user", "access_key", "callback_id", "ip", "owner", "repo", "repo_id", "package", "version",
    "path", "size", "country", "business_unit", "expires_at", "count",
]  # fmt: skip


class BucketIndex(GlobalSecondaryIndex):
    """The events of one ingest bucket and shard (``<bucket>#<shard>``), read by the rollup."""

    class Meta:
        index_name = "bucket_index"
        projection = IncludeProjection(BUCKET_INDEX_ATTRIBUTES)

    bucket = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class DownloadEvent(Model):
    """One download: who, what, when, how many bytes, from where. Written once per event id."""

    Meta = table_meta("download_events")

    #: The id of the request that answered the download (the event's id): redelivery is a no-op.
    id = UnicodeAttribute(hash_key=True)
    at = UTCDateTimeAttribute()
    #: The authenticated user, or None for an anonymous download.
    user = UnicodeAttribute(null=True)
    access_key = UnicodeAttribute(null=True)
    callback_id = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    repo_id = UnicodeAttribute()
    package = UnicodeAttribute()
    version = UnicodeAttribute()
    path = UnicodeAttribute()
    size = NumberAttribute()
    #: ISO 3166-1 alpha-2 of the client (``SHELF_COUNTRY_SOURCE``), or None when unknown.
    country = UnicodeAttribute(null=True)
    #: The repository's business unit at download time.
    business_unit = UnicodeAttribute(null=True)
    #: ``<ingest bucket>#<shard>`` (``bucket_index``); None on events recorded before the rollup.
    bucket = UnicodeAttribute(null=True)
    bucket_index = BucketIndex()
    expires_at = TTLAttribute(null=True)
    #: Only on ``DownloadBatch`` items (the CDN's downloads of one log-file part): see ``downloads_of``;
    #: not in ``bucket_index``, where such an item has its ``count``.
    payload = BinaryAttribute(null=True, legacy_encoding=False)
    count = NumberAttribute(null=True)


class DownloadBatch(Model):
    """The downloads of one part of one CDN log file (``DownloadsLogged``), as one item of the events
    table (written once per id; read back through ``bucket_index`` as a ``DownloadEvent`` with a
    ``count``, its ``payload`` from the table): gzip JSON ``{"files": [...], "downloads": [[file, at,
    ip, country], ...]}``."""

    Meta = table_meta("download_events")

    id = UnicodeAttribute(hash_key=True)
    bucket = UnicodeAttribute()
    #: How many downloads the payload holds.
    count = NumberAttribute()
    payload = BinaryAttribute(legacy_encoding=False)
    expires_at = TTLAttribute(null=True)


@dataclass(frozen=True)
class Download:
    """One download as the rollup and the download logs read it: a ``DownloadEvent``'s fields."""

    id: str
    at: datetime
    owner: str
    repo: str
    repo_id: str
    package: str
    version: str
    path: str
    size: int
    country: str | None = None
    business_unit: str | None = None
    ip: str | None = None
    user: str | None = None
    access_key: str | None = None
    callback_id: str | None = None


def pack(files: list[dict], downloads: list[list]) -> bytes:
    """A ``DownloadBatch`` payload (byte-identical for the same input)."""
    text = json.dumps({"files": files, "downloads": downloads}, separators=(",", ":"), sort_keys=True)
    return gzip.compress(text.encode(), mtime=0)


def bucket_downloads(bucket: str) -> list[DownloadEvent | Download]:
    """The downloads recorded in ingest bucket and shard ``bucket`` (``bucket_index``, paged): the
    events, and the downloads of the CDN's batches, whose payloads are read from the table (one
    BatchGetItem per 100 batches)."""
    items = list(DownloadEvent.bucket_index.query(bucket))
    batches = [item.id for item in items if item.count is not None and item.payload is None]
    payloads = {batch.id: batch.payload for batch in DownloadEvent.batch_get(batches)} if batches else {}
    out: list[DownloadEvent | Download] = []
    for item in items:
        if item.count is not None and item.payload is None:
            if item.id not in payloads:
                continue  # gone from the table (its TTL) before its index entry
            item.payload = payloads[item.id]
        out.extend(downloads_of(item))
    return out


def downloads_of(item: DownloadEvent) -> list[DownloadEvent] | list[Download]:
    """The downloads an item of the events table stands for: itself, or a batch's downloads (each with
    the id ``<batch id>:<n>``, its place in the batch: the same on every reading)."""
    if item.payload is None:
        return [item]
    data = json.loads(gzip.decompress(item.payload))
    files = data["files"]
    out = []
    for n, entry in enumerate(data["downloads"]):
        if len(entry) == 5:  # recorded with CloudFront's request id (before 2026-12-03)
            index, at, request_id, ip, country = entry
        else:
            (index, at, ip, country), request_id = entry, f"{item.id}:{n}"
        f = files[index]
        out.append(
            Download(
                id=request_id,
                at=datetime.fromisoformat(at.replace("Z", "+00:00")),
                owner=f["owner"],
                repo=f["repo"],
                repo_id=f["repo_id"],
                package=f["package"],
                version=f["version"],
                path=f["path"],
                size=int(f["size"]),
                country=country,
                business_unit=f.get("business_unit"),
                ip=ip,
            )
        )
    return out


class Stat(Model):
    """An aggregate row (downloads and bytes of a key in a period), a storage counter, a ledger row,
    or the rollup's bookkeeping. See docs/data-model.md for the key scheme."""

    Meta = table_meta("download_stats")

    key = UnicodeAttribute(hash_key=True)
    period = UnicodeAttribute(range_key=True)
    downloads = NumberAttribute(null=True)
    bytes = NumberAttribute(null=True)
    #: Storage counters and ledger rows: files (``file_count``).
    files = NumberAttribute(null=True)
    #: The last ingest bucket added into this row (the rollup's idempotence: ``applied < bucket``).
    applied = UnicodeAttribute(null=True)
    #: A repository's ledger item (``rl#``): its packages' downloads, gzip JSON (``stats/ledger.py``).
    payload = BinaryAttribute(null=True, legacy_encoding=False)
    #: Part 0 of a ledger day item: how many parts the day item has (written last: it is complete).
    parts = NumberAttribute(null=True)
    #: The watermark row: the last bucket rolled up.
    watermark = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


# --- key scheme -----------------------------------------------------------------------------------

#: The rollup's watermark row: ``Stat(ROLLUP_KEY, "-")``.
ROLLUP_KEY = "job#rollup"
#: Ingest buckets with events to roll up: ``Stat(PENDING_KEY, "<bucket>#<shard>")``.
PENDING_KEY = "job#pending"
#: Repository days with chunk items to compact: ``Stat(COMPACT_KEY, "<day>#<repo_id>")``, ``applied``
#: the last chunk written for it.
COMPACT_KEY = "job#compact"


def repo_ledger_key(repo_id: str) -> str:
    """A repository's download ledger (its packages' downloads): periods ``c#<day>#<chunk>#<part>``
    (chunk items) and ``d#<day>#<through chunk>#<part>`` (day items)."""
    return f"rl#{repo_id}"


def repo_key(repo_id: str) -> str:
    return f"r#{repo_id}"


def subject_key(owner: str) -> str:
    return f"s#{owner}"


def storage_key(owner: str) -> str:
    """Current storage of a subject: periods ``total``, ``r#<repo_id>``, ``r#<repo_id>#p#<package>``,
    ``bu#<business unit>``."""
    return f"st#{owner}"


def ledger_key(owner: str) -> str:
    """Daily storage changes of a subject: periods ``<day>#r#<repo_id>``, ``<day>#bu#<business unit>``
    (the day's total is the sum of its repository rows; ``<day>#total`` rows of before 2026-12-03 are
    ignored)."""
    return f"sl#{owner}"


def event_mark_key(event_id: str) -> str:
    """A lifecycle event already counted (storage): ``Stat(event_mark_key(id), "-")``."""
    return f"e#{event_id}"


def minute(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


def day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def month(at: datetime) -> str:
    return at.strftime("%Y-%m")


MODELS = (DownloadEvent, Stat)
