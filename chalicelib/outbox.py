"""The outbox: a lifecycle event is written in the same DynamoDB transaction as the change it
announces, published right after it, then removed. A request that fails in between (DynamoDB, SQS or
an in-request subscriber unavailable) leaves the event here, and ``sweep`` (a scheduled function of
``chalicelib/eventbus.py``, every minute) publishes it again: no change goes unannounced, so no
subscriber (cascades, storage usage, indexes, CDN copies) misses one. Publishing an event twice is
safe: in-request subscribers are idempotent cascades, queued ones deduplicate on the event's ``id``,
which the entry keeps (docs/reliability.md, "Fault injection").

A publish is not one transaction (each file is its own update), so it records its *intent* first
(``intend``: the version's entry, with the paths it is publishing) and settles it after the event was
published (``settle``); a retried publish finds the paths of the failed one in the same entry.

Example::

    entry = outbox.entry(f"repo#{repo.id}", RepositoryDeleted(...))
    with db.transaction() as tx:
        tx.delete(repo, condition=...)
        tx.save(entry)
    outbox.release(entry)
"""

from __future__ import annotations

import hashlib
import logging
import uuid
import zlib
from datetime import timedelta

from pynamodb.attributes import (
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DeleteError
from pynamodb.models import Model

from chalicelib import db, events
from chalicelib.timefmt import iso, now

log = logging.getLogger("shelf")

#: Entries younger than this are left to the request that wrote them (it may still be publishing).
SWEEP_AGE = timedelta(seconds=60)
#: Partitions of the table: the sweep reads them with one Query each (the deployed role may not Scan),
#: and no partition takes every write.
SHARDS = 4
#: The range key's prefix of a publish's intent (one per version).
INTENT = "intent"


def shard_of(key: str) -> str:
    return str(zlib.crc32(key.encode()) % SHARDS)


class Pending(Model):
    """Events not yet (known to be) published. ``shard`` spreads the entries (``shard_of(key)``);
    ``entry`` is ``<ISO time>#<random>``, or ``intent#<SHA-256 of key>`` for a publish's intent (never the
    key itself: a file path may be 1,024 bytes, DynamoDB's limit for the whole range key); ``key`` names
    what the events are about (``repo#<id>``, ``file#<repo id>#<path>``, ``version#<package id>#<name>``,
    ``index#<repo id>``)."""

    Meta = db.table_meta("outbox")

    shard = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    key = UnicodeAttribute()
    #: ``Event.to_json()`` of each event, published in this order.
    events = ListAttribute(of=UnicodeAttribute, default=list)
    #: A publish's intent: the paths its event announces (added to the event's ``files``).
    paths = UnicodeSetAttribute(null=True)
    #: A publish's intent: bumped by each publish that adds to it (settled only by the last).
    seq = NumberAttribute(default=0)
    created = UTCDateTimeAttribute()


MODELS = [Pending]


def entry(key: str, *announced: events.Event) -> Pending:
    """A new entry for ``announced`` (save it in the transaction of the change, then ``release`` it)."""
    at = now()
    return Pending(
        shard_of(key),
        f"{iso(at)}#{uuid.uuid4().hex}",
        key=key,
        events=[event.to_json() for event in announced],
        created=at,
    )


def _events(pending: Pending) -> list[events.Event]:
    out = [events.Event.from_json(text) for text in pending.events or []]
    if pending.paths:
        out = [e.replace(files=tuple(sorted(set(getattr(e, "files", ())) | set(pending.paths)))) for e in out]
    return out


def release(pending: Pending) -> None:
    """Publish the entry's events (in-request subscribers run, queued ones are sent), then remove it.
    When this fails the entry stays for ``sweep``."""
    for event in _events(pending):
        events.publish(event)
    pending.delete()


def intend(key: str, event: events.Event, paths: list[str]) -> Pending:
    """Record that ``event`` (a ``VersionPublished``) is about to announce ``paths``, before they are
    changed; returns the version's entry with the paths of earlier publishes not settled (failed)."""
    pending = Pending(shard_of(key), f"{INTENT}#{hashlib.sha256(key.encode()).hexdigest()}")
    actions = [
        Pending.key.set(key),
        Pending.events.set([event.to_json()]),
        Pending.seq.add(1),
        Pending.created.set(Pending.created | now()),
    ]
    if paths:
        actions.append(Pending.paths.add(set(paths)))
    pending.update(actions=actions)
    return pending


def settle(pending: Pending) -> None:
    """The intent's event was published: remove the entry, unless another publish added to it since
    (that one settles it)."""
    try:
        pending.delete(condition=Pending.seq == pending.seq)
    except DeleteError as error:
        if not db.condition_failed(error):
            raise


def sweep(min_age: timedelta = SWEEP_AGE) -> int:
    """Publish the events of entries older than ``min_age`` (left by requests that failed); returns how
    many entries were released. The table is empty but for such failures, so its ``SHARDS`` Queries read
    next to nothing."""
    cutoff = now() - min_age
    released = 0
    failed: Exception | None = None
    entries = [p for shard in range(SHARDS) for p in Pending.query(str(shard), consistent_read=True)]
    for pending in entries:
        if pending.created > cutoff:
            continue
        try:
            if pending.entry.startswith(f"{INTENT}#"):
                for event in _events(pending):
                    events.publish(event)
                settle(pending)
            else:
                release(pending)
            released += 1
        except Exception as error:  # the others are released all the same; this one next time
            log.warning("outbox entry %s %s not released: %r", pending.key, pending.entry, error)
            failed = error
    if failed is not None:
        raise failed
    return released
