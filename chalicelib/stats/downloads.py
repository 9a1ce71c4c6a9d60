"""The download events consumer: records each download exactly once and keeps daily aggregates.

The request path only queues one SQS message per download (``chalicelib.content.downloads.record``);
this consumer, behind ``@app.on_sqs_message``, writes the events. SQS delivers at least once, so:

- each event is a conditional put on its id (the request id): a redelivered event changes nothing;
- the daily aggregates of a file and of a version are incremented once per batch per key, never once
  per download (a popular file must not make one DynamoDB item hot);
- events and their increments go in one transaction per (version, day) group, so they are written
  together or not at all. If the group's transaction is cancelled because one of its events already
  exists (a redelivery), each event is retried alone: put event + ADD 1.

Example::

    consume({"Records": [{"messageId": "m1", "body": '{"id": "req-1", ...}'}]})
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import db
from chalicelib.stats.models import DailyDownloads, DownloadEvent, file_key, version_key
from chalicelib.timefmt import now, read_iso

log = logging.getLogger(__name__)

#: Events per transaction: each event is one put plus at most one file increment, plus the version's
#: increment — 12 events stay within DynamoDB's 25-action limit of older accounts.
GROUP_SIZE = 12


def consume(event: Mapping[str, Any]) -> int:
    """Record the download events of an SQS batch (Lambda's event dict); returns how many were new.

    Idempotent: delivering the same batch again records nothing and increments nothing.
    """
    events = _parse(event.get("Records") or [])
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in events.values():
        group_key = (version_key(item["repo_id"], item["package"], item["version"]), item["date"])
        groups.setdefault(group_key, []).append(item)
    recorded: list[dict[str, Any]] = []
    for group in groups.values():
        for start in range(0, len(group), GROUP_SIZE):
            recorded.extend(_record_group(group[start : start + GROUP_SIZE]))
    for item in recorded:
        if item.get("callback_url"):
            _callback(item)
    return len(recorded)


def _parse(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The batch's events by id (a message delivered twice in one batch counts once)."""
    events: dict[str, dict[str, Any]] = {}
    for record in records:
        try:
            item = json.loads(record["body"])
            item["id"] = item.get("id") or record["messageId"]
            at = _parse_time(item.get("at"))
            item["at"] = at
            item["date"] = at.strftime("%Y-%m-%d")
            item["size"] = int(item.get("size") or 0)
            for field in ("owner", "repo", "repo_id", "package", "version", "path"):
                if not item.get(field):
                    raise ValueError(f"missing {field}")
        except (KeyError, TypeError, ValueError) as error:
            # A malformed message can never succeed; retrying it would block the queue.
            log.error("skipping malformed download event %s: %s", record.get("messageId"), error)
            continue
        events.setdefault(item["id"], item)
    return events


def _parse_time(value: Any) -> datetime:
    if not value:
        return now()
    return read_iso(str(value))


def _event_row(item: Mapping[str, Any]) -> DownloadEvent:
    return DownloadEvent(
        item["id"],
        at=item["at"],
        user=item.get("user"),
        access_key=item.get("access_key"),
        callback_id=item.get("callback_id"),
        ip=item.get("ip"),
        owner=item["owner"],
        repo=item["repo"],
        repo_id=item["repo_id"],
        package=item["package"],
        version=item["version"],
        path=item["path"],
        size=item["size"],
    )


def _increments(items: list[dict[str, Any]]) -> list[tuple[DailyDownloads, list[Any]]]:
    """The aggregate updates of ``items`` (all of one version and day): one per key, summed."""
    first = items[0]
    date = first["date"]
    described = {
        "owner": first["owner"],
        "repo": first["repo"],
        "package": first["package"],
        "version": first["version"],
    }
    totals: dict[str, list[Any]] = {
        version_key(first["repo_id"], first["package"], first["version"]): [0, 0, dict(described)]
    }
    for item in items:
        for key, extra in (
            (version_key(item["repo_id"], item["package"], item["version"]), {}),
            (file_key(item["repo_id"], item["path"]), {"path": item["path"]}),
        ):
            total = totals.setdefault(key, [0, 0, {**described, **extra}])
            total[0] += 1
            total[1] += item["size"]
    updates = []
    for key, (count, size, fields) in totals.items():
        actions = [DailyDownloads.downloads.add(count), DailyDownloads.bytes.add(size)]
        actions += [getattr(DailyDownloads, name).set(value) for name, value in fields.items()]
        updates.append((DailyDownloads(key, date), actions))
    return updates


def _transact(items: list[dict[str, Any]]) -> bool:
    """Put ``items`` and add them to their aggregates in one transaction.

    True when written; False when an event already existed (nothing was written). Conflicts with
    concurrent consumers are retried.
    """

    def write(transaction: TransactWrite) -> None:
        for item in items:
            transaction.save(_event_row(item), condition=DownloadEvent.id.does_not_exist())
        for row, actions in _increments(items):
            transaction.update(row, actions=actions)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if any(db.cancelled_by_condition(error, index) for index in range(len(items))):
            return False
        raise
    return True


def _record_group(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Record a group of one version and day; returns the events that were new."""
    if _transact(items):
        return items
    if len(items) == 1:
        return []
    # Some event of the group was recorded before (a redelivery): one transaction per event.
    return [item for item in items if _transact([item])]


def _callback(item: Mapping[str, Any]) -> None:
    """Call the signed URL's callback of a newly recorded download (best effort, at most once)."""
    try:
        from chalicelib.content.signing import perform_callback
    except ImportError:
        return
    payload = {**item, "at": item["at"].isoformat()}
    try:
        perform_callback(payload)
    except Exception as error:  # noqa: BLE001  (a callback must never fail the batch)
        log.warning("download callback failed: %s", error)
