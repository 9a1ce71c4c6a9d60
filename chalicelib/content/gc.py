"""Collection of content no file refers to (run hourly by ``@app.schedule`` in app.py).

Uploads write S3 first and the file record second, so a failure in between, a deleted file or an
overridden one leaves a blob that nothing refers to. This collector deletes such blobs once they are
older than a grace period: an upload in flight has just written (or rewritten, for identical content)
its blob, so its blob is always younger than the grace and never collected under it. It also removes
staged uploads (``uploads/``) older than a day and expired ``PendingUpload`` rows, when that model exists.

Scans and listings are fine here: this is not a request path. Running it twice changes nothing more.

Example::

    collect_unreferenced_blobs(grace=timedelta(hours=1))
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import storage
from chalicelib.config import settings
from chalicelib.content.models import File
from chalicelib.records import dataclass
from chalicelib.timefmt import now

log = logging.getLogger(__name__)

#: Staged uploads (large files on their way to a blob) older than this are abandoned.
STAGED_MAX_AGE = timedelta(days=1)


@dataclass
class Collected:
    """What one run removed."""

    blobs: list[str] = field(default_factory=list)
    staged: list[str] = field(default_factory=list)
    pending: int = 0
    kept: int = 0


def _objects(prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under ``prefix`` (paginated listing)."""
    paginator = storage.s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings().bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def referenced(sha256: str) -> bool:
    """Whether some file record refers to the blob ``sha256``."""
    return any(True for _ in File.sha256_index.query(sha256, limit=1))


def _still_old(key: str, cutoff: datetime) -> bool:
    """Re-read the blob's age just before deleting it: an identical upload may have rewritten it."""
    try:
        head = storage.s3().head_object(Bucket=settings().bucket, Key=key)
    except storage.s3().exceptions.ClientError:
        return False  # already gone
    return head["LastModified"] < cutoff


def collect_unreferenced_blobs(grace: timedelta = timedelta(hours=1)) -> Collected:
    """Delete blobs older than ``grace`` that no file refers to, stale staged uploads and expired
    pending uploads. Returns what was removed."""
    started = now()
    cutoff = started - grace
    result = Collected()
    client = storage.s3()
    bucket = settings().bucket
    for obj in _objects(storage.BLOB_PREFIX):
        key = obj["Key"]
        sha256 = key.rsplit("/", 1)[-1]
        if obj["LastModified"] >= cutoff or referenced(sha256):
            result.kept += 1
            continue
        if not _still_old(key, cutoff):
            result.kept += 1
            continue
        client.delete_object(Bucket=bucket, Key=key)
        result.blobs.append(sha256)
    staged_cutoff = started - STAGED_MAX_AGE
    for obj in _objects(storage.UPLOAD_PREFIX):
        if obj["LastModified"] < staged_cutoff:
            client.delete_object(Bucket=bucket, Key=obj["Key"])
            result.staged.append(obj["Key"])
    result.pending = _expire_pending_uploads(started)
    if result.blobs or result.staged or result.pending:
        log.info(
            "collected %d blobs, %d staged uploads, %d pending uploads",
            len(result.blobs),
            len(result.staged),
            result.pending,
        )
    return result


def _expire_pending_uploads(at: datetime) -> int:
    """Delete ``PendingUpload`` rows whose expiry has passed (skipped while the model does not exist)."""
    from chalicelib.content import models

    pending = getattr(models, "PendingUpload", None)
    if pending is None:
        return 0
    expiry = next(
        (getattr(pending, name) for name in ("expires", "expires_at", "expiry") if hasattr(pending, name)),
        None,
    )
    if expiry is None:
        log.warning("PendingUpload has no expiry attribute; pending uploads are not collected")
        return 0
    expired = [row for row in pending.scan(expiry < at)]
    from chalicelib import db

    return db.batch_delete(expired)
