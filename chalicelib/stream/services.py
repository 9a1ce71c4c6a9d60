"""The event stream of a subject (the spec's Stream API), served by long polling.

Lambda behind API Gateway cannot hold a chunked response open, so a reader asks again and again: each
answer holds up to ``wait`` seconds, or until events arrive, and carries the events since the reader's
cursor and a new reconnect id (``<token>-<seq>``: the reader's lease and the last ``seq`` it got).

Writing (``append``, from the queued subscriber ``chalicelib.stream.subscribers:record``): one
transaction moves the subject's head from ``n`` to ``n + 1`` (conditional on ``n``), puts the event at
``seq`` ``n + 1`` and marks its dedup key, so writers are serialised by the head: an event is visible
once the head names it, and a reader that read the head never misses an earlier event committed later.
A redelivered event finds its mark and changes nothing. Events are written only while the subject has a
live reader lease (Bintray keeps events for the connections it has, and a new reader starts at the head).

Reading (``poll``): a reader holds one of ``READERS`` slots (``StreamReader``, a conditional put that
may take over an expired lease, so a crashed reader frees its slot); the lease lasts the answer plus the
spec's 120 s reconnect window. A new reader (no reconnect id) with every slot held gets 429.

Example::

    answer = poll("acme", None, wait=25)          # Answer(lines=[...], reconnect_id="3f…-12")
    answer = poll("acme", answer.reconnect_id, 25)
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError

from chalicelib import db, events, waits
from chalicelib.errors import BadRequest, TooManyRequests
from chalicelib.records import dataclass
from chalicelib.stream.models import HEAD, StreamEvent, StreamEventId, StreamReader
from chalicelib.timefmt import iso, now, now_ms, parse_iso, read_iso
from chalicelib.validation import SUBJECT_NAME

#: Concurrent readers of one subject's stream (the spec's limit of connections).
READERS = 3
#: How long a reader may stay away and reconnect with its id (the spec's 120 s).
RECONNECT_SECONDS = 120.0
#: How long events are kept (DynamoDB TTL): the reconnect window with a wide margin.
RETENTION = timedelta(minutes=10)
#: How long an event's dedup mark is kept (SQS redelivers within hours at most).
DEDUP_RETENTION = timedelta(days=1)
#: How often a waiting answer looks for new events (one GetItem of the head each time).
POLL_INTERVAL = 0.5
#: The most events in one answer (the reader asks again at once for the rest).
MAX_LINES = 200
#: Attempts to append one event while other writers move the head.
WRITE_ATTEMPTS = 25
#: A successful login is one stream event per user and address in each window of this many seconds.
LOGIN_WINDOW_SECONDS = 300

#: The clock answers wait by (tests may replace it); they pause with ``waits.pause``.
clock = time.monotonic

RECONNECT_ID = re.compile(r"([0-9a-f]{32})-([0-9]{1,18})")
BAD_RECONNECT_ID = (
    "Invalid X-Bintray-Stream-Reconnect-Id: send the id of this stream's last answer, or none to start anew"
)


@dataclass(frozen=True)
class Answer:
    """One long-poll answer: the events' JSON lines (none: a keep-alive) and the id to reconnect with."""

    lines: list[str]
    reconnect_id: str


@dataclass(frozen=True)
class Entry:
    """What an event adds to a stream: the subject whose stream it is, the line, its dedup key."""

    subject: str
    line: str
    dedup: str


def _line(**fields: object) -> str:
    return json.dumps(fields, separators=(",", ":"))


def entry_of(event: events.Event) -> Entry | None:
    """The stream entry of ``event`` (field names and order as the spec's samples), or None when it
    has none (another kind of event, or no subject that can exist)."""
    if isinstance(event, events.FileStored | events.FileDeleted | events.Downloaded):
        kind, actor = {
            events.FileStored: ("upload", "uploader"),
            events.FileDeleted: ("delete", "by"),
            events.Downloaded: ("download", "user"),
        }[type(event)]
        path = f"/{event.owner}/{event.repo}/{event.path}"
        line = _line(type=kind, path=path, subject=getattr(event, actor), time=event.at)
        return Entry(event.owner, line, event.id)
    if isinstance(event, events.LoginSucceeded | events.LoginFailed):
        if event.subject is None or not SUBJECT_NAME.fullmatch(event.subject):
            return None
        succeeded = isinstance(event, events.LoginSucceeded)
        kind = "login_success" if succeeded else "login_failure"
        line = _line(type=kind, time=event.at, subject=event.user, ip_address=event.ip)
        dedup = event.id
        if succeeded:
            # Every authenticated request is a login: one per user and address per window.
            window = int(parse_iso(event.at, "at").timestamp()) // LOGIN_WINDOW_SECONDS
            dedup = "login-" + hashlib.sha256(f"{event.user}\n{event.ip}\n{window}".encode()).hexdigest()
        return Entry(event.subject, line, dedup)
    if isinstance(event, events.UsageThresholdExceeded):
        line = _line(
            type="usage_threshold",
            subject=event.org,
            scope=event.scope,
            name=event.name,
            threshold=event.threshold,
            limit=event.limit,
            usage=event.usage,
            period=event.period,
            time=event.at,
        )
        return Entry(event.org, line, event.id)
    return None


def entries_of(event: events.Event) -> list[Entry]:
    """The stream entries of ``event``: one per download of a ``DownloadsLogged`` (the CDN's
    downloads of one log-file part, each in its file owner's stream, as the API path's ``Downloaded``
    gives it: anonymous, the time in milliseconds, deduplicated by the download's request id), else
    ``entry_of``'s."""
    if isinstance(event, events.DownloadsLogged):
        out = []
        for index, at, request_id, *_ in event.downloads:
            f = event.files[index]
            path = f"/{f['owner']}/{f['repo']}/{f['path']}"
            line = _line(type="download", path=path, subject=None, time=iso(read_iso(at)))
            out.append(Entry(f["owner"], line, request_id))
        return out
    entry = entry_of(event)
    return [] if entry is None else [entry]


def has_readers(subject: str) -> bool:
    """Whether a reader holds a live lease on ``subject``'s stream (one Query)."""
    at = now_ms()
    return any(r.lease_until_ms > at for r in StreamReader.query(subject, consistent_read=True))


def _head(subject: str) -> int:
    try:
        return int(StreamEvent.get(subject, HEAD, consistent_read=True).head or 0)
    except DoesNotExist:
        return 0


def append(entry: Entry) -> bool:
    """Append ``entry`` to its subject's stream unless its dedup key is there already (idempotent);
    returns whether it was written."""
    written = now()
    for attempt in range(WRITE_ATTEMPTS):
        head = _head(entry.subject)
        moved = StreamEvent.head.does_not_exist() if head == 0 else StreamEvent.head == head
        try:
            # PynamoDB sends puts before updates: 0 the event, 1 its dedup mark, 2 the head.
            with db.transaction() as tx:
                tx.save(
                    StreamEvent(entry.subject, head + 1, line=entry.line, expires_at=written + RETENTION),
                    condition=StreamEvent.seq.does_not_exist(),
                )
                tx.save(
                    StreamEventId(f"{entry.subject}#{entry.dedup}", expires_at=written + DEDUP_RETENTION),
                    condition=StreamEventId.key.does_not_exist(),
                )
                tx.update(
                    StreamEvent(entry.subject, HEAD),
                    actions=[StreamEvent.head.set(head + 1)],
                    condition=moved,
                )
            return True
        except TransactWriteError as error:
            if db.cancelled_by_condition(error, 1):
                return False  # recorded before (a redelivery)
            moved_on = db.cancelled_by_condition(error, 0) or db.cancelled_by_condition(error, 2)
            if not (moved_on or db.transaction_conflict(error)) or attempt + 1 == WRITE_ATTEMPTS:
                raise
            db.backoff(attempt)  # another writer moved the head: read it again
    return False


#: Entries one transaction appends (each an event and its mark, plus the head: DynamoDB's 100 items).
BATCH = 49


def append_all(entries: list[Entry]) -> int:
    """Append ``entries`` (in order) to their subjects' streams, idempotently like ``append``: up to
    ``BATCH`` of one subject in one transaction that moves the head by as many; when one of them was
    written before (a redelivery), that batch one by one. Returns how many were written."""
    by_subject: dict[str, list[Entry]] = {}
    for entry in entries:
        by_subject.setdefault(entry.subject, []).append(entry)
    written = 0
    for subject, mine in by_subject.items():
        for start in range(0, len(mine), BATCH):
            batch = mine[start : start + BATCH]
            if len(batch) == 1 or not _append_batch(subject, batch):
                written += sum(append(entry) for entry in batch)
            else:
                written += len(batch)
    return written


def _append_batch(subject: str, batch: list[Entry]) -> bool:
    """One transaction for ``batch``; False when an entry's mark was there (the caller goes one by one)."""
    written = now()
    for attempt in range(WRITE_ATTEMPTS):
        head = _head(subject)
        moved = StreamEvent.head.does_not_exist() if head == 0 else StreamEvent.head == head
        try:
            # Puts first, in order (event i at 2i, its mark at 2i + 1), then the head.
            with db.transaction() as tx:
                for i, entry in enumerate(batch):
                    tx.save(
                        StreamEvent(subject, head + 1 + i, line=entry.line, expires_at=written + RETENTION),
                        condition=StreamEvent.seq.does_not_exist(),
                    )
                    tx.save(
                        StreamEventId(f"{subject}#{entry.dedup}", expires_at=written + DEDUP_RETENTION),
                        condition=StreamEventId.key.does_not_exist(),
                    )
                tx.update(
                    StreamEvent(subject, HEAD),
                    actions=[StreamEvent.head.set(head + len(batch))],
                    condition=moved,
                )
            return True
        except TransactWriteError as error:
            if any(db.cancelled_by_condition(error, 2 * i + 1) for i in range(len(batch))):
                return False
            moved_on = db.cancelled_by_condition(error, 2 * len(batch)) or any(
                db.cancelled_by_condition(error, 2 * i) for i in range(len(batch))
            )
            if not (moved_on or db.transaction_conflict(error)) or attempt + 1 == WRITE_ATTEMPTS:
                raise
            db.backoff(attempt)
    return False


def parse_reconnect_id(value: str) -> tuple[str, int]:
    """(token, seq) of a reconnect id; 400 when it is not one."""
    match = RECONNECT_ID.fullmatch(value.strip())
    if match is None:
        raise BadRequest(BAD_RECONNECT_ID)
    return match.group(1), int(match.group(2))


def _lease(subject: str, token: str | None, wait: float) -> str:
    """Renew the lease of ``token``, or take a free (or expired) slot; returns the lease's token.
    429 when every slot is held by another reader."""
    at = now_ms()
    until = at + int((wait + RECONNECT_SECONDS) * 1000)
    expires = now() + timedelta(milliseconds=until - at) + timedelta(days=1)
    leases = {int(r.slot): r for r in StreamReader.query(subject, consistent_read=True)}
    mine = next((r for r in leases.values() if token is not None and r.token == token), None)
    if mine is not None:
        try:
            mine.update(
                actions=[StreamReader.lease_until_ms.set(until), StreamReader.expires_at.set(expires)],
                condition=StreamReader.token == token,
            )
            return mine.token
        except UpdateError as error:
            if not db.condition_failed(error):
                raise
    token = token or secrets.token_hex(16)
    for slot in range(READERS):
        held = leases.get(slot)
        if held is not None and held.lease_until_ms > at:
            continue
        free = StreamReader.slot.does_not_exist() | (StreamReader.lease_until_ms < at)
        try:
            StreamReader(subject, slot, token=token, lease_until_ms=until, expires_at=expires).save(
                condition=free
            )
            return token
        except PutError as error:
            if not db.condition_failed(error):
                raise
    raise TooManyRequests(f"The stream of '{subject}' has {READERS} readers already; try again later")


def _read(subject: str, cursor: int, head: int) -> tuple[list[str], int]:
    """The lines after ``cursor`` up to ``head`` (at most ``MAX_LINES``) and the new cursor. Events
    gone with their TTL are simply absent."""
    items = list(
        StreamEvent.query(
            subject, StreamEvent.seq.between(cursor + 1, head), consistent_read=True, limit=MAX_LINES
        )
    )
    last = int(items[-1].seq) if len(items) >= MAX_LINES else head
    return [item.line for item in items if item.line], last


def poll(subject: str, reconnect_id: str | None, wait: float) -> Answer:
    """One answer of ``subject``'s stream: the events after the reconnect id's cursor (a new reader
    starts at the head), waiting up to ``wait`` seconds for some."""
    token, cursor = parse_reconnect_id(reconnect_id) if reconnect_id else (None, None)
    head = _head(subject)
    if cursor is not None and cursor > head:
        raise BadRequest(BAD_RECONNECT_ID)  # not a cursor of this stream
    token = _lease(subject, token, wait)
    cursor = head if cursor is None else cursor
    deadline = clock() + wait
    while True:
        if head > cursor:
            lines, cursor = _read(subject, cursor, head)
            if lines:
                return Answer(lines, f"{token}-{cursor}")
        remaining = deadline - clock()
        if remaining <= 0:
            return Answer([], f"{token}-{cursor}")
        waits.pause(min(POLL_INTERVAL, remaining))
        head = _head(subject)
