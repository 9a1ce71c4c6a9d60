"""Storage usage from ``FileStored`` / ``FileDeleted`` events (never by scanning).

Each event is one transaction: the event's mark (a redelivery changes nothing), ADDs on the subject's
current counters (total, repository, package, business unit) and on its daily ledger (the day's
change), from which ``storage_at`` derives the storage at the end of any day.

Example::

    apply(FileStored(owner="acme", repo="tools", repo_id="r1", package="p", path="a", size=10, ...))
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import db
from chalicelib.events import FileDeleted, FileStored
from chalicelib.repositories.models import Repository
from chalicelib.stats.models import Stat, day, event_mark_key, ledger_key, storage_key
from chalicelib.timefmt import now, read_iso

MARK_RETENTION = timedelta(days=7)


def _business_unit(owner: str, repo: str, repo_id: str) -> str | None:
    try:
        found = Repository.get(owner, repo)
    except DoesNotExist:
        return None
    return found.business_unit if found.id == repo_id else None


def apply(event: FileStored | FileDeleted) -> bool:
    """Count the storage change of ``event`` once; returns whether it was new."""
    if isinstance(event, FileStored):
        replaced = event.replaced_size is not None
        size = event.size - (event.replaced_size or 0)
        files = 0 if replaced else 1
    else:
        size, files = -event.size, -1
    at = read_iso(event.at) if event.at else now()
    when = day(at)
    owner = event.owner
    unit = _business_unit(owner, event.repo, event.repo_id)
    current = ["total", f"r#{event.repo_id}", f"r#{event.repo_id}#p#{event.package}"]
    ledger = [f"{when}#total", f"{when}#r#{event.repo_id}"]
    if unit:
        current.append(f"bu#{unit}")
        ledger.append(f"{when}#bu#{unit}")

    def write(tx) -> None:  # noqa: ANN001
        tx.save(
            Stat(event_mark_key(event.id), "-", expires_at=now() + MARK_RETENTION),
            condition=Stat.key.does_not_exist(),
        )
        for key, periods in ((storage_key(owner), current), (ledger_key(owner), ledger)):
            for period in periods:
                tx.update(Stat(key, period), actions=[Stat.bytes.add(size), Stat.files.add(files)])

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            return False
        raise
    return True


def storage_at(owner: str, scopes: list[str], ends: list[datetime]) -> dict[tuple[str, int], int]:
    """Bytes stored under each of ``scopes`` (``total``, ``r#<repo_id>``, ``bu#<unit>``) at each of
    ``ends``: ``{(scope, index of the end): bytes}``. The current counters (one GetItem per scope)
    minus the ledger's changes after each end's day (one Query from the earliest end on): a day's
    changes count from its end on, so an end inside a day sees that whole day."""
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
        if scope not in wanted:
            continue
        for i, cutoff in enumerate(cutoffs):
            if when >= cutoff:
                out[(scope, i)] -= int(row.bytes or 0)
    return {k: max(v, 0) for k, v in out.items()}


def _first_day_after(end: datetime) -> str:
    """The first day whose changes are not in the storage at ``end`` (periods end at midnight)."""
    return day(end) if end.time() == datetime.min.time() else day(end + timedelta(days=1))
