"""Download statistics of the CDN path: CloudFront's standard logs (gzip, tab-separated, ``#Version`` and
``#Fields`` headers) read from the log bucket, one ``Downloaded`` event per download of a file, as the
Lambda path publishes. The event id is the line's ``x-edge-request-id``: a log read twice (a run that
failed before deleting it) publishes the same ids, which the subscribers record once.

Counted: ``GET`` answered ``200`` under ``/dl/`` for a path that is a file of the repository (indexes and
other objects are not downloads; a ``302``/``401`` came from the API, which publishes its own event).

Example::

    for event in downloads(gzip_bytes):
        events.publish(event)
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from urllib.parse import unquote

from pynamodb.exceptions import DoesNotExist

from chalicelib import events, storage
from chalicelib.config import settings
from chalicelib.content.models import File
from chalicelib.events import Downloaded
from chalicelib.repositories.models import Repository

log = logging.getLogger("shelf")

#: Log files read per run (the rest wait for the next run: a run stays well within its timeout).
FILES_PER_RUN = 200


def lines(data: bytes) -> Iterator[dict[str, str]]:
    """The entries of one log file (gzip), as ``{field: value}`` by its ``#Fields`` header."""
    fields: list[str] = []
    for raw in gzip.decompress(data).decode("utf-8", "replace").splitlines():
        if raw.startswith("#Fields:"):
            fields = raw[len("#Fields:") :].split()
        elif raw and not raw.startswith("#") and fields:
            yield dict(zip(fields, raw.split("\t"), strict=False))


class _Files:
    """File records by (owner, repo, path), read once per log file."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repository | None] = {}
        self.files: dict[tuple[str, str], File | None] = {}

    def find(self, owner: str, repo: str, path: str) -> File | None:
        if (owner, repo) not in self.repos:
            try:
                self.repos[(owner, repo)] = Repository.get(owner, repo)
            except DoesNotExist:
                self.repos[(owner, repo)] = None
        found = self.repos[(owner, repo)]
        if found is None or not path:
            return None
        if (found.id, path) not in self.files:
            try:
                self.files[(found.id, path)] = File.get(found.id, path)
            except DoesNotExist:
                self.files[(found.id, path)] = None
        return self.files[(found.id, path)]


def downloads(data: bytes) -> Iterator[Downloaded]:
    """The download events of one log file."""
    files = _Files()
    for entry in lines(data):
        if entry.get("cs-method") != "GET" or entry.get("sc-status") != "200":
            continue
        stem = unquote(entry.get("cs-uri-stem", ""))
        if not stem.startswith("/dl/"):
            continue
        parts = stem[len("/dl/") :].split("/", 2)
        if len(parts) < 3:
            continue
        owner, repo, path = parts
        record = files.find(owner, repo, path)
        if record is None:
            continue
        repository = files.repos[(owner, repo)]  # loaded by find: the recorder need not read it again
        ip = entry.get("c-ip")
        yield Downloaded(
            id=f"cdn-{entry['x-edge-request-id']}",
            at=f"{entry['date']}T{entry['time']}Z",
            owner=record.owner,
            repo=record.repo,
            repo_id=record.repo_id,
            business_unit=(repository.business_unit or None) if repository is not None else None,
            package=record.package,
            version=record.version,
            path=record.path,
            size=int(record.size),
            user=None,
            ip=ip if ip and ip != "-" else None,
        )


def process_logs(limit: int = FILES_PER_RUN) -> int:
    """Publish the download events of the log files waiting in the log bucket, deleting each file once
    its events are out; returns how many events. Nothing to do without a log bucket (locally)."""
    conf = settings()
    if not conf.cdn_log_bucket:
        return 0
    client = storage.s3()
    listed = client.list_objects_v2(Bucket=conf.cdn_log_bucket, Prefix=conf.cdn_log_prefix, MaxKeys=limit)
    count = 0
    for item in listed.get("Contents", []):
        data = client.get_object(Bucket=conf.cdn_log_bucket, Key=item["Key"])["Body"].read()
        try:
            found = list(downloads(data))
        except (OSError, EOFError, KeyError) as error:  # not gzip, or lines without the needed fields
            log.warning("cdn log %s unreadable: %s", item["Key"], error)
            found = []
        for event in found:
            events.publish(event)
        count += len(found)
        client.delete_object(Bucket=conf.cdn_log_bucket, Key=item["Key"])
    return count
