"""Metadata indexes: schedule a repository's calculation (debounced), run it (leased, crash-safe),
switch readers to the new generation in one write, and find the file a reader asks for.

Flow::

    request(repo, paths)    # a subscriber: ADD the paths to IndexState.changed; the first change
                            # since the last run sends one SQS message delayed by the debounce time
    run(repo_id)            # the indexes function: lease, calculate, write generation N+1, flip
    lookup(repo, path)      # /dl: IndexState.generation + IndexFile -> the object to serve

A calculation writes new content under ``indexes/<repo_id>/g<N>/<path>`` and updates each changed
``IndexFile`` item, keeping the content before it as ``prev_*``; readers on generation ``G`` take
``key`` where the item's ``gen <= G`` and ``prev_key`` otherwise, so until the flip they see the old
index whole, and after it the new one whole. Unchanged files keep their object (incremental).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import uuid
from collections.abc import Iterable, Iterator

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib import db, events, outbox, queues, storage
from chalicelib.config import settings
from chalicelib.content.models import File
from chalicelib.errors import BadRequest
from chalicelib.events import DownloadPathChanged
from chalicelib.indexes import registry
from chalicelib.indexes.models import IndexFile, IndexState
from chalicelib.indexes.registry import Job, Output, Signer
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import now_ms

log = logging.getLogger("shelf")

INDEX_PREFIX = "indexes/"
#: How long a calculation holds a repository; one that outlives it (a crash) is taken over.
LEASE_MS = 15 * 60 * 1000
#: A scheduled message older than this was lost: the next change schedules again.
SCHEDULE_STALE_MS = 20 * 60 * 1000
#: More changed paths than this in one event or pending: calculate from scratch instead.
MAX_CHANGED = 500
#: How long an index download redirect stays valid.
URL_SECONDS = 30


def calc_message(subject: str, repo: str) -> dict[str, str]:
    """The spec's 202 answer of POST /calc_metadata."""
    return {"message": f"Calculation was successfully scheduled for '/{subject}/{repo}'"}


def schedule_calculation(repo: Repository, path: str | None) -> None:
    """POST /calc_metadata: recalculate from scratch (400 for a type without an index)."""
    if registry.calculator(repo.type) is None:
        name = "Generic" if repo.type == "generic" else repo.type.capitalize()
        raise BadRequest(f"It is not possible to calculate index for {name} repositories.")
    request(repo.id, repo.owner, repo.name, full=True, scope=path or None)


def request(
    repo_id: str,
    owner: str,
    repo: str,
    paths: Iterable[str] = (),
    full: bool = False,
    scope: str | None = None,
    send: bool = True,
) -> bool:
    """Note changed ``paths`` (or ``full``) of a repository and schedule its calculation unless one is
    scheduled already: one UpdateItem, plus one SQS message for the first change of a burst.
    Returns whether a message was sent."""
    changed = set(paths)
    token = uuid.uuid4().hex
    at = now_ms()
    actions = [
        IndexState.owner.set(owner),
        IndexState.repo.set(repo),
        IndexState.requests.add(1),
        IndexState.schedule.set(IndexState.schedule | f"{token}:{at}"),
    ]
    if len(changed) > MAX_CHANGED:
        full, changed = True, set()
    if changed:
        actions.append(IndexState.changed.add(changed))
    if full:
        actions.append(IndexState.full.set(True))
    if scope:
        actions.append(IndexState.scopes.add({scope}))
    state = IndexState(repo_id)
    state.update(actions=actions)
    holder, _, since = (state.schedule or ":0").partition(":")
    if holder != token:
        if at - int(since or 0) < SCHEDULE_STALE_MS:
            return False  # scheduled already: this change joins that calculation
        try:  # the message of that schedule was lost: take the schedule over (one sender wins)
            IndexState(repo_id).update(
                actions=[IndexState.schedule.set(f"{token}:{at}")],
                condition=IndexState.schedule == state.schedule,
            )
        except UpdateError as error:
            if db.condition_failed(error):
                return False
            raise
    if send:
        queues.send(queues.INDEXES, {"repo_id": repo_id}, delay_seconds=settings().index_debounce_seconds)
    return send


# --- the calculation ------------------------------------------------------------------------------


@dataclass
class Claim:
    state: IndexState
    lease: int
    attempt: int
    full: bool
    changed: frozenset[str]
    scopes: frozenset[str]
    #: ``requests`` when claimed: a request noted during the calculation keeps its changes pending.
    requests: int = 0


def _claim(repo_id: str) -> Claim | None:
    """Take the repository's lease (None: another calculation holds it). The schedule ends here, so a
    change from now on schedules the next calculation."""
    at = now_ms()
    lease = at + LEASE_MS
    try:
        state = IndexState(repo_id)
        state.update(
            actions=[
                IndexState.lease_until.set(lease),
                IndexState.attempt.add(1),
                IndexState.schedule.remove(),
            ],
            condition=IndexState.repo_id.exists()
            & (IndexState.lease_until.does_not_exist() | (IndexState.lease_until < at)),
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return None
        raise
    attempt = int(state.attempt)
    generation = int(state.generation or 0)
    crashed = attempt - 1 > generation  # an attempt after the last flip never finished
    changed = frozenset(state.changed or ())
    return Claim(
        state=state,
        lease=lease,
        attempt=attempt,
        full=bool(state.full) or crashed or generation == 0 or len(changed) > MAX_CHANGED,
        changed=changed,
        scopes=frozenset(state.scopes or ()),
        requests=int(state.requests or 0),
    )


def run(repo_id: str) -> bool:
    """Calculate a repository's index once (the indexes function, per message). Returns whether a new
    generation was switched to; a held lease sends the message again, delayed. Any failure after the
    claim frees the lease at once (the redelivery calculates from scratch), not after ``LEASE_MS``."""
    claim = _claim(repo_id)
    if claim is None:
        if _state(repo_id) is not None:  # held by a running calculation: later (gone: nothing to do)
            queues.send(queues.INDEXES, {"repo_id": repo_id}, delay_seconds=settings().index_debounce_seconds)
        return False
    try:
        return _calculate(repo_id, claim)
    except Exception:
        _abandon(claim)  # a no-op when the lease ended already (the switch was written)
        raise


def _calculate(repo_id: str, claim: Claim) -> bool:
    state = claim.state
    repo = _repository(state)
    module = registry.calculator(repo.type) if repo is not None else None
    if repo is None or module is None:
        _release(claim, flipped=False)
        return False
    if not claim.full and not claim.changed and not claim.scopes:
        _release(claim, flipped=False)
        return False
    job = _job(repo, claim, int(state.generation or 0))
    outputs = module.calculate(job)
    count, changes = _write(repo_id, int(state.generation or 0), claim.attempt, outputs, claim.full)
    # The switch and its announcement are one write (the outbox): a failure after it cannot lose
    # which objects readers now get (the sweep announces them).
    pending = outbox.entry(f"index#{repo_id}", *_announcements(repo, changes)) if changes else None
    if not _release(claim, flipped=True, file_count=count, pending=pending):
        return False
    if pending is not None:
        outbox.release(pending)
    log.info("index %s/%s: generation %s (%s)", repo.owner, repo.name, claim.attempt, job.stats)
    return True


def _announcements(repo: Repository, changes: dict[str, str | None]) -> list[DownloadPathChanged]:
    """What tells who serves ``/dl`` (the CDN's copies) which index files readers now get from which
    object (None: gone), once the generation switched."""
    return [
        DownloadPathChanged(owner=repo.owner, repo=repo.name, repo_id=repo.id, path=path, key=key)
        for path, key in sorted(changes.items())
    ]


def _announce(repo: Repository, changes: dict[str, str | None]) -> None:
    for changed in _announcements(repo, changes):
        events.publish(changed)


def announce_all(repo: Repository) -> int:
    """Announce every index file readers see now (the repository may be served by the CDN again);
    returns how many."""
    state = _state(repo.id)
    if state is None or not int(state.generation or 0):
        return 0
    generation = int(state.generation or 0)
    current = {i.path: _committed(i, generation)[0] for i in IndexFile.query(repo.id)}
    live = {path: key for path, key in current.items() if key}
    _announce(repo, live)  # type: ignore[arg-type]
    return len(live)


def _repository(state: IndexState) -> Repository | None:
    try:
        repo = Repository.get(state.owner, state.repo)
    except DoesNotExist:
        return None
    return repo if repo.id == state.repo_id else None


def _update_state(repo_id: str, actions: list, condition: object, pending: outbox.Pending | None) -> bool:
    """One conditional update of the index state, with ``pending`` (the switch's announcements) in
    the same transaction; False when the condition failed (nothing written)."""
    try:
        if pending is None:
            IndexState(repo_id).update(actions=actions, condition=condition)
        else:
            with db.transaction() as tx:
                tx.update(IndexState(repo_id), actions=actions, condition=condition)
                tx.save(pending)
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    except TransactWriteError as error:
        # PynamoDB sends the entry's put before the state's update: the update is action 1 (the put
        # has no condition).
        if db.cancelled_by_condition(error, 1):
            return False
        raise
    return True


def _release(
    claim: Claim, flipped: bool, file_count: int | None = None, pending: outbox.Pending | None = None
) -> bool:
    """End the lease; ``flipped``: readers switch to the attempt's generation. The changes it covered
    are cleared only when no request came meanwhile (a path noted again during the calculation may
    have been read before its change: it stays pending, and the next calculation reads it again).
    Returns False when the lease was taken over (nothing switched)."""
    actions = [IndexState.lease_until.remove()]
    if flipped:
        actions += [IndexState.generation.set(claim.attempt), IndexState.calculated_at.set(now_ms())]
        if file_count is not None:
            actions.append(IndexState.file_count.set(file_count))
    else:
        # Nothing written: the attempt does not count as a crashed one.
        actions.append(IndexState.attempt.add(-1))
    covered = []
    if claim.changed:
        covered.append(IndexState.changed.delete(set(claim.changed)))
    if claim.scopes:
        covered.append(IndexState.scopes.delete(set(claim.scopes)))
    if claim.full:
        covered.append(IndexState.full.remove())
    mine = IndexState.lease_until == claim.lease
    repo_id = claim.state.repo_id
    if covered and _update_state(
        repo_id, actions + covered, mine & (IndexState.requests == claim.requests), pending
    ):
        return True
    if _update_state(repo_id, actions, mine, pending):
        return True
    log.warning("index lease of %s taken over; attempt %s dropped", repo_id, claim.attempt)
    return False


def _abandon(claim: Claim) -> None:
    """A calculation failed: free the lease at once (its attempt stays counted, so the next
    calculation starts from scratch and undoes what it wrote) and let the message come again."""
    try:
        IndexState(claim.state.repo_id).update(
            actions=[IndexState.lease_until.remove()], condition=IndexState.lease_until == claim.lease
        )
    except UpdateError as error:
        if not db.condition_failed(error):
            raise


def _job(repo: Repository, claim: Claim, generation: int) -> Job:
    def files() -> Iterator[File]:
        return (f for f in File.query(repo.id) if f.published)

    def file(path: str) -> File | None:
        try:
            return File.get(repo.id, path, consistent_read=True)
        except DoesNotExist:
            return None

    def previous(path: str) -> bytes | None:
        try:
            item = IndexFile.get(repo.id, path)
        except DoesNotExist:
            return None
        key = _committed(item, generation)[0]
        return storage.get_object(key) if key else None

    def paths() -> list[str]:
        return [i.path for i in IndexFile.query(repo.id) if _committed(i, generation)[0]]

    return Job(
        repo=repo,
        paths=paths,
        changed=None if claim.full else claim.changed,
        scopes=claim.scopes,
        signer=metadata_signer(repo),
        files=files,
        file=file,
        previous=previous,
        blob=lambda sha256: storage.get_object(storage.blob_key(sha256)),
    )


def metadata_signer(repo: Repository) -> Signer | None:
    """The signer of the repository's metadata (``gpg_sign_metadata``; the owner's key with
    ``gpg_use_owner_key``), or None."""
    if not (repo.gpg_sign_metadata or repo.gpg_use_owner_key):
        return None
    from chalicelib.gpg.services import signer_for

    return signer_for(repo)


def _committed(item: IndexFile, generation: int) -> tuple[str | None, int | None, str | None]:
    """(key, size, sha256) of the item as readers on ``generation`` see it."""
    if int(item.gen) <= generation:
        return item.key, _int(item.size), item.sha256
    return item.prev_key, _int(item.prev_size), item.prev_sha256


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _write(
    repo_id: str, generation: int, attempt: int, outputs: Output, full: bool
) -> tuple[int | None, dict[str, str | None]]:
    """Write generation ``attempt``: new objects for changed content, items pointing at them (the
    content readers on ``generation`` see kept as ``prev_*``). From scratch (``full``), paths not in
    ``outputs`` are removed and leftovers of a crashed attempt undone. Returns the file count (from
    scratch only) and the paths whose object readers get changes with the switch (None: gone)."""
    changes: dict[str, str | None] = {}
    if full:
        items = {item.path: item for item in IndexFile.query(repo_id, consistent_read=True)}
    else:
        keys = [(repo_id, path) for path in outputs]
        items = {item.path: item for item in IndexFile.batch_get(keys, consistent_read=True)} if keys else {}
    writes: list[IndexFile] = []
    removals: list[IndexFile] = []
    for path, data in outputs.items():
        item = items.get(path)
        key, size, sha = _committed(item, generation) if item else (None, None, None)
        stale = item is not None and int(item.gen) > generation  # written by a crashed attempt
        if data is None:
            if key is not None or stale:
                writes.append(_item(repo_id, path, attempt, None, None, None, (key, size, sha)))
            if key is not None:
                changes[path] = None
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest == sha and key is not None:
            if stale:
                writes.append(_item(repo_id, path, attempt, key, size, sha, (key, size, sha)))
            continue
        new_key = f"{INDEX_PREFIX}{repo_id}/g{attempt}/{path}"
        storage.put_object(new_key, data, content_type(path))
        writes.append(_item(repo_id, path, attempt, new_key, len(data), digest, (key, size, sha)))
        changes[path] = new_key
    if full:
        for path, item in items.items():
            if path in outputs:
                continue
            key, size, sha = _committed(item, generation)
            if key is not None or int(item.gen) > generation:
                writes.append(_item(repo_id, path, attempt, None, None, None, (key, size, sha)))
                if key is not None:
                    changes[path] = None
            else:
                removals.append(item)  # deleted before the generation readers see: forgotten
    displaced = {items[w.path].prev_key for w in writes if w.path in items} - {None}
    # What a crashed attempt wrote (never switched to, so never served) goes too.
    displaced |= {
        items[w.path].key for w in writes if w.path in items and int(items[w.path].gen) > generation
    }
    displaced -= {None}
    displaced -= {w.prev_key for w in writes} | {w.key for w in writes}
    with IndexFile.batch_write() as batch:
        for item in writes:
            batch.save(item)
        for item in removals:
            batch.delete(item)
    for key in displaced:  # content two generations old: no reader is on it any more
        storage.delete_object(key)
    if not full:
        return None, changes  # counted by calculations from scratch only
    live = {p for p, i in items.items() if _committed(i, generation)[0]}
    return sum(1 for w in writes if w.key) + len(live - {w.path for w in writes}), changes


def _item(
    repo_id: str,
    path: str,
    gen: int,
    key: str | None,
    size: int | None,
    sha256: str | None,
    prev: tuple[str | None, int | None, str | None],
) -> IndexFile:
    return IndexFile(
        repo_id,
        path,
        gen=gen,
        key=key,
        size=size,
        sha256=sha256,
        prev_key=prev[0],
        prev_size=prev[1],
        prev_sha256=prev[2],
    )


def content_type(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name.endswith((".asc", ".gpg")):
        return "application/pgp-signature"
    if name.endswith(".gz"):
        return "application/gzip"
    if name in ("Release", "InRelease", "Packages"):
        return "text/plain; charset=utf-8"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# --- serving --------------------------------------------------------------------------------------


def claims(repo: Repository, path: str) -> bool:
    return registry.claims(repo, path)


def lookup(repo: Repository, path: str) -> str | None:
    """The S3 key of index file ``path`` as readers see it now (None: no such index file). A repository
    never calculated is calculated here first, so an empty repository is usable at once."""
    state = _state(repo.id)
    if state is None or not int(state.generation or 0):
        request(repo.id, repo.owner, repo.name, full=True, send=False)
        try:
            run(repo.id)
        except Exception:  # the queued calculation will try again; this reader gets a 404
            log.exception("first index calculation of %s/%s failed", repo.owner, repo.name)
        state = _state(repo.id)
        if state is None:
            return None
    try:
        item = IndexFile.get(repo.id, path)
    except DoesNotExist:
        return None
    return _committed(item, int(state.generation or 0))[0]


def _state(repo_id: str) -> IndexState | None:
    try:
        return IndexState.get(repo_id)
    except DoesNotExist:
        return None


def download_url(key: str, path: str) -> str:
    return storage.presign_key(key, path.rsplit("/", 1)[-1], URL_SECONDS, content_type(path))


def state_of(repo_id: str) -> IndexState | None:
    """The index state of a repository (tests, bench)."""
    return _state(repo_id)


# --- cleaning up ----------------------------------------------------------------------------------


def forget(repo_id: str) -> None:
    """Delete a deleted repository's index: its files and its state (idempotent)."""
    items = list(IndexFile.query(repo_id))
    for item in items:
        for key in (item.key, item.prev_key):
            if key:
                storage.delete_object(key)
    with IndexFile.batch_write() as batch:
        for item in items:
            batch.delete(item)
    IndexState(repo_id).delete()
