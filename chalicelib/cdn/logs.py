"""Download statistics of the CDN path: CloudFront's standard logs (gzip, tab-separated, ``#Version`` and
``#Fields`` headers) read from the log bucket by a scheduled function, each log file resolved in memory
(one GetItem per repository and per distinct file of the file) and published as one
``DownloadsLogged`` event per ``PART_LINES`` lines of the file — no message or item per download. The
statistics domain records each part as one item; the rollup and the download logs read the downloads
from it exactly as from the API path's events (same rows, same log lines).

Idempotent: a part's event id is derived from the log file's key and the part's number, and a part
is the downloads of a fixed range of the file's lines (a download the second reading no longer
finds, e.g. of a file deleted since, leaves its part, never moves into another). A log file read
twice (a run that stopped before deleting it) publishes the same ids, recorded once.

Counted: ``GET`` answered ``200`` under ``/dl/`` for a path that is a file of the repository (indexes and
other objects are not downloads; a ``302``/``401`` came from the API, which publishes its own event;
a ``206`` range answer or a ``304`` is no whole download).

Example::

    for event in parts("cloudfront/E1.2026-12-01-10.ab12.gz", gzip_bytes):
        events.publish(event)
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Iterator
from urllib.parse import unquote

from pynamodb.exceptions import DoesNotExist

from chalicelib import events, storage
from chalicelib.config import settings
from chalicelib.content.models import File
from chalicelib.events import DownloadsLogged
from chalicelib.repositories.models import Repository

log = logging.getLogger("shelf")

#: Log files read per run (the rest wait for the next run: a run stays well within its timeout).
FILES_PER_RUN = 200
#: A part of a log file, one ``DownloadsLogged`` event (one SQS message and one item, both limited
#: to 256 KB): at most this many lines, and at most this many bytes of lines.
PART_LINES = 500
PART_BYTES = 100_000


def lines(data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """The entries of one log file (gzip), as ``(part, {field: value})`` by its ``#Fields`` header;
    a new part every ``PART_LINES`` lines or ``PART_BYTES`` bytes (from the file's text alone)."""
    fields: list[str] = []
    part = count = size = 0
    for raw in gzip.decompress(data).decode("utf-8", "replace").splitlines():
        if raw.startswith("#Fields:"):
            fields = raw[len("#Fields:") :].split()
        elif raw and not raw.startswith("#") and fields:
            if count == PART_LINES or size + len(raw) > PART_BYTES and count:
                part, count, size = part + 1, 0, 0
            count, size = count + 1, size + len(raw)
            yield part, dict(zip(fields, raw.split("\t"), strict=False))


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


def _part_id(key: str, part: int) -> str:
    return f"cdnlog-{hashlib.sha256(key.encode()).hexdigest()[:32]}-{part}"


def parts(key: str, data: bytes) -> list[DownloadsLogged]:
    """The download events of log file ``key`` (content ``data``): one per ``PART_LINES`` lines that
    hold a download."""
    files = _Files()
    out: list[DownloadsLogged] = []
    chosen: dict[tuple[str, str], int] = {}
    part_files: list[dict] = []
    part_downloads: list[list] = []

    def close(part: int) -> None:
        if part_downloads:
            event_id, logged = _part_id(key, part), tuple(part_downloads)
            out.append(DownloadsLogged(id=event_id, source=key, files=tuple(part_files), downloads=logged))
        chosen.clear()
        part_files.clear()
        part_downloads.clear()

    part = 0
    for number, entry in lines(data):
        if number != part:
            close(part)
            part = number
        if entry.get("cs-method") != "GET" or entry.get("sc-status") != "200":
            continue
        stem = unquote(entry.get("cs-uri-stem", ""))
        if not stem.startswith("/dl/"):
            continue
        owner, _, rest = stem[len("/dl/") :].partition("/")
        repo, _, path = rest.partition("/")
        record = files.find(owner, repo, path)
        if record is None:
            continue
        if (record.repo_id, record.path) not in chosen:
            repository = files.repos[(owner, repo)]  # loaded by find
            chosen[(record.repo_id, record.path)] = len(part_files)
            part_files.append(
                {
                    "owner": record.owner,
                    "repo": record.repo,
                    "repo_id": record.repo_id,
                    "business_unit": (repository.business_unit or None) if repository is not None else None,
                    "package": record.package,
                    "version": record.version,
                    "path": record.path,
                    "size": int(record.size),
                }
            )
        ip = entry.get("c-ip")
        part_downloads.append(
            [
                chosen[(record.repo_id, record.path)],
                f"{entry['date']}T{entry['time']}Z",
                f"cdn-{entry['x-edge-request-id']}",
                ip if ip and ip != "-" else None,
            ]
        )
    close(part)
    return out


def process_logs(limit: int = FILES_PER_RUN) -> int:
    """Publish the download events of the log files waiting in the log bucket, deleting each file once
    its events are out; returns how many downloads. Nothing to do without a log bucket (locally)."""
    conf = settings()
    if not conf.cdn_log_bucket:
        return 0
    client = storage.s3()
    listed = client.list_objects_v2(Bucket=conf.cdn_log_bucket, Prefix=conf.cdn_log_prefix, MaxKeys=limit)
    count = 0
    for item in listed.get("Contents", []):
        data = client.get_object(Bucket=conf.cdn_log_bucket, Key=item["Key"])["Body"].read()
        try:
            found = parts(item["Key"], data)
        except (OSError, EOFError, KeyError) as error:  # not gzip, or lines without the needed fields
            log.warning("cdn log %s unreadable: %s", item["Key"], error)
            found = []
        for event in found:
            events.publish(event)
        count += sum(len(event.downloads) for event in found)
        client.delete_object(Bucket=conf.cdn_log_bucket, Key=item["Key"])
    return count
