"""Storage usage from ``FileStored`` / ``FileDeleted`` events (never by scanning).

The events of one SQS batch are counted in one transaction: each new event's mark (a redelivery
changes nothing) and, summed over the batch's events, ADDs on the subject's current counters (total,
repository, package, business unit) and on its daily ledger (each day's change per repository and
business unit), from which ``storage_at`` derives the storage at the end of any day. A mark found
already cancels the transaction: the events it names are dropped and the rest counted again, so each
event is counted exactly once whatever the batches it is redelivered in. Rows whose sum is zero (an
override of the same size, a file stored and deleted in one batch) are not written; an event that
changes nothing writes nothing, not even its mark (counting it again changes nothing either).

Example::

    apply(FileStored(owner="acme", repo="tools", repo_id="r1", package="p", path="a", size=10, ...))
    apply_batch([stored, deleted])   # -> 2 (newly counted)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import db
from chalicelib.events import FileDeleted, FileStored
from chalicelib.repositories.models import Repository
from chalicelib.stats.models import Stat, day, event_mark_key, ledger_key, storage_key
from chalicelib.timefmt import now, read_iso

MARK_RETENTION = timedelta(days=7)
#: Events per transaction: each adds a mark and at most 6 rows (DynamoDB takes 100 actions).
EVENTS_PER_TRANSACTION = 10

Change = FileStored | FileDeleted
#: The (bytes, files) an event adds to each row ``(key, period)``.
Rows = dict[tuple[str, str], tuple[int, int]]


def _business_unit(owner: str, repo: str, repo_id: str) -> str | None:
    try:
        found = Repository.get(owner, repo)
    except DoesNotExist:
        return None
    return found.business_unit if found.id == repo_id else None


def _rows(event: Change, unit: str | None) -> Rows:
    """The (bytes, files) ``event`` adds to each row. The ledger has no ``total``
    row: the day's repository rows sum to it (``storage_at``)."""
    if isinstance(event, FileStored):
        size = event.size - (event.replaced_size or 0)
        files = 0 if event.replaced_size is not None else 1
    else:
        size, files = -event.size, -1
    when = day(read_iso(event.at) if event.at else now())
    current, ledger = storage_key(event.owner), ledger_key(event.owner)
    rows = [
        (current, "total"),
        (current, f"r#{event.repo_id}"),
        (current, f"r#{event.repo_id}#p#{event.package}"),
        (ledger, f"{when}#r#{event.repo_id}"),
    ]
    if unit:
        rows += [(current, f"bu#{unit}"), (ledger, f"{when}#bu#{unit}")]
    return {row: (size, files) for row in rows}


def apply(event: Change) -> bool:
    """Count the storage change of ``event`` once; returns whether it was new."""
    return apply_batch([event]) == 1


def apply_batch(events: Iterable[Change]) -> int:
    """Count the storage changes of ``events`` (one SQS batch) once each; returns how many were new
    (an event that changes nothing is never counted: it writes nothing)."""
    unique = list({event.id: event for event in events}.values())
    units: dict[tuple[str, str, str], str | None] = {}
    changes = []
    for event in unique:
        where = (event.owner, event.repo, event.repo_id)
        if where not in units:
            units[where] = _business_unit(*where)  # one GetItem per repository of the batch
        rows = {row: change for row, change in _rows(event, units[where]).items() if change != (0, 0)}
        if rows:
            changes.append((event, rows))
    new = 0
    for start in range(0, len(changes), EVENTS_PER_TRANSACTION):
        new += _count(changes[start : start + EVENTS_PER_TRANSACTION])
    return new


def _count(changes: list[tuple[Change, Rows]]) -> int:
    """One transaction: the marks of ``changes``' events and their rows' sums; events whose mark is
    there already are left out (a cancelled transaction wrote nothing: it is sent again without them)."""
    while changes:
        try:
            db.run_transaction(partial(_write, changes))
        except TransactWriteError as error:
            seen = {i for i in range(len(changes)) if db.cancelled_by_condition(error, i)}
            if not seen:
                raise
            changes = [change for i, change in enumerate(changes) if i not in seen]
            continue
        return len(changes)
    return 0


def _write(changes: list[tuple[Change, Rows]], tx) -> None:  # noqa: ANN001
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for _, rows in changes:
        for row, (size, files) in rows.items():
            sums[row][0] += size
            sums[row][1] += files
    expires = now() + MARK_RETENTION
    for event, _ in changes:  # puts come first in a transaction: action i is event i's mark
        tx.save(Stat(event_mark_key(event.id), "-", expires_at=expires), condition=Stat.key.does_not_exist())
    for (key, period), (size, files) in sums.items():
        if (size, files) != (0, 0):
            tx.update(Stat(key, period), actions=[Stat.bytes.add(size), Stat.files.add(files)])


def storage_at(owner: str, scopes: list[str], ends: list[datetime]) -> dict[tuple[str, int], int]:
    """Bytes stored under each of ``scopes`` (``total``, ``r#<repo_id>``, ``bu#<unit>``) at each of
    ``ends``: ``{(scope, index of the end): bytes}``. The current counters (one GetItem per scope)
    minus the ledger's changes after each end's day (one Query from the earliest end on): a day's
    changes count from its end on, so an end inside a day sees that whole day. A day's change of
    ``total`` is the sum of its repository rows (``<day>#total`` rows, written before that sum was
    used, are left out: their repositories' rows have the same change)."""
    current: dict[str, int] = {}
    for scope in scopes:
        try:
            current[scope] = int(Stat.get(storage_key(owner), scope).bytes or 0)
        except DoesNotExist:
            current[scope] = 0
    cutoffs = [_first_day_after(end) for end in ends]
    out = {(scope, i): current[scope] for scope in scopes for i in range(len(ends))}
    if not ends or min(cutoffs) > day(now()):
        return out
    wanted = set(scopes)
    for row in Stat.query(ledger_key(owner), Stat.period >= min(cutoffs)):
        when, scope = row.period.split("#", 1)
        targets = [scope] if scope in wanted and scope != "total" else []
        if scope.startswith("r#") and "total" in wanted:
            targets.append("total")
        for target in targets:
            for i, cutoff in enumerate(cutoffs):
                if when >= cutoff:
                    out[(target, i)] -= int(row.bytes or 0)
    return {k: max(v, 0) for k, v in out.items()}


def _first_day_after(end: datetime) -> str:
    """The first day whose changes are not in the storage at ``end`` (periods end at midnight)."""
    return day(end) if end.time() == datetime.min.time() else day(end + timedelta(days=1))
