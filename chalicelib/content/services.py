"""Content services: upload, publish/discard, download lookup, delete, listings, search."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import re
import time
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import db, events, outbox, storage
from chalicelib.accounts.models import Subject
from chalicelib.auth.policy import Access, Right, org_role
from chalicelib.auth.principal import Principal
from chalicelib.content.models import DONE, FAILED, PENDING, PROCESSING, File, PendingUpload
from chalicelib.content.paths import DebianCoordinates, check_file_path, storable
from chalicelib.errors import BadRequest, Conflict, NotFound, RequestTimeout
from chalicelib.events import FileDeleted, FileStored, VersionPublished
from chalicelib.indexes.registry import metadata as index_metadata
from chalicelib.packages.models import Package, Version
from chalicelib.packages.services import get_package
from chalicelib.packages.versions import CreateVersionBody, create_version, get_version
from chalicelib.records import dataclass
from chalicelib.repositories.models import PUBLIC_SHARD, Repository
from chalicelib.timefmt import iso, now, parse_iso

#: The longest a publish call works: below API Gateway's 29 s integration timeout.
MAX_PUBLISH_WAIT = 25
#: The clock deadlines are measured with (tests replace it).
clock = time.monotonic

#: Published files may be overridden or deleted this long after publishing (the spec's 180 days).
OVERRIDE_WINDOW = timedelta(days=180)


@dataclass(frozen=True)
class Upload:
    """What an upload request asks for."""

    path: str
    package: str
    version: str
    publish: bool = False
    override: bool = False
    sha256: str | None = None
    debian: DebianCoordinates | None = None


@dataclass(frozen=True)
class Digest:
    """Size and checksums of a file's content, computed once at upload (Maven's ``.md5``, ``.sha1``,
    ``.sha256`` and ``.sha512`` beside a file are answered from them, never from the blob)."""

    size: int
    sha1: str
    sha256: str
    md5: str | None = None
    sha512: str | None = None


def digest(data: bytes) -> Digest:
    return Digest(
        len(data),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        hashlib.md5(data).hexdigest(),
        hashlib.sha512(data).hexdigest(),
    )


def _version_key(package: Package, version: str) -> str:
    return f"{package.id}#{version}"


def find_file(repo: Repository, path: str) -> File | None:
    if not storable(path):  # no such key can exist (and DynamoDB would refuse the lookup)
        return None
    try:
        return File.get(repo.id, path)
    except DoesNotExist:
        return None


def ensure_version(repo: Repository, package: Package, name: str) -> Version:
    """The version ``name`` of ``package``, created when missing (uploads create versions)."""
    try:
        return get_version(package, name)
    except NotFound:
        pass
    try:
        return create_version(repo, package, CreateVersionBody(name=name))
    except Conflict:
        return get_version(package, name)


def _update_window(who: str | None, is_admin: bool, repo: Repository) -> timedelta:
    """How long after publishing ``who`` (a system administrator or not) may still change a published
    file of ``repo``."""
    limited = repo.version_update_max_days is not None and who and not is_admin
    if limited and who != repo.owner and org_role(repo.owner, who) not in ("owner", "admin"):
        return timedelta(days=int(repo.version_update_max_days))
    return OVERRIDE_WINDOW


def check_may_change(who: str | None, is_admin: bool, repo: Repository, existing: File, action: str) -> None:
    """409 when a published file is past the window in which ``who`` may still change it."""
    if not existing.published or existing.published_at is None:
        return
    window = _update_window(who, is_admin, repo)
    if now() - existing.published_at > window:
        raise Conflict(
            f"Cannot {action} '{existing.path}': it was published more than {window.days} days ago"
        )


def check_upload(
    uploader: str | None, is_admin: bool, repo: Repository, package: Package, request: Upload
) -> File | None:
    """Validate an upload by ``uploader`` (a system administrator or not) before any byte is stored;
    returns the file it replaces, if any."""
    check_file_path(request.path)
    if repo.type == "debian" and request.debian is None and request.path.endswith(".deb"):
        raise BadRequest(
            "Debian uploads need deb_distribution, deb_component and deb_architecture "
            "(matrix parameters or X-Bintray-Debian-* headers)"
        )
    if request.debian is not None and not all(
        (request.debian.distributions, request.debian.components, request.debian.architectures)
    ):
        raise BadRequest("Debian coordinates need a distribution, a component and an architecture")
    existing = find_file(repo, request.path)
    if existing is None:
        return None
    if existing.version_key != _version_key(package, request.version):
        raise Conflict(
            f"'{request.path}' already belongs to {existing.package}/{existing.version}; delete it first"
        )
    if existing.published:
        if not request.override:
            raise Conflict(f"'{request.path}' is already published; upload with override=1 to replace it")
        check_may_change(uploader, is_admin, repo, existing, "override")
    return existing


def store(
    uploader: str | None,
    repo: Repository,
    package: Package,
    request: Upload,
    data: Digest,
    replaced: File | None,
    metadata: dict[str, Any] | None = None,
) -> File:
    """Record a file whose bytes are already in S3 under ``data.sha256`` (unpublished, unless it
    overrides a published file; callers publish with ``publish_after_upload``).

    The write is conditional on what ``check_upload`` saw, so of two concurrent uploads to one path
    exactly one lands; the other gets 409. S3 is written before DynamoDB: a failure in between
    leaves an unreferenced blob (collected later), never a record without its object.
    """
    version = ensure_version(repo, package, request.version)
    created = now()
    record = File(
        repo.id,
        request.path,
        name=request.path.rsplit("/", 1)[-1],
        name_lower=request.path.rsplit("/", 1)[-1].lower(),
        owner=repo.owner,
        repo=repo.name,
        package=package.name,
        package_id=package.id,
        version=version.name,
        version_key=_version_key(package, version.name),
        size=data.size,
        sha1=data.sha1,
        sha256=data.sha256,
        md5=data.md5,
        sha512=data.sha512,
        created=created,
        uploader=uploader,
        published=False,
        list_in_downloads=bool(replaced.list_in_downloads) if replaced else False,
    )
    if replaced is not None and replaced.published:
        # An override replaces the content of a published file; the file stays published.
        record.published = True
        record.published_at = replaced.published_at
        record.search_shard = replaced.search_shard
    for name, value in (metadata or {}).items():
        setattr(record, name, value)  # read from the package for the index (indexes.registry.metadata)
    if request.debian is not None:
        record.deb_distribution = request.debian.distributions
        record.deb_component = request.debian.components
        record.deb_architecture = request.debian.architectures
    if replaced is None:
        condition = File.path.does_not_exist()
    else:
        condition = (File.sha256 == replaced.sha256) & (File.created == replaced.created)
    stored = FileStored(
        owner=repo.owner,
        repo=repo.name,
        repo_id=repo.id,
        package=package.name,
        version=version.name,
        path=record.path,
        size=data.size,
        sha256=data.sha256,
        uploader=uploader,
        replaced_size=int(replaced.size) if replaced is not None else None,
    )
    pending = outbox.entry(f"file#{repo.id}#{record.path}", stored)
    _write_record(record, condition, data.size - (int(replaced.size) if replaced else 0), pending)
    outbox.release(pending)
    return record


def _quota(tx: Any, owner: str, delta: int) -> None:
    """Add ``delta`` to the owner's ``quota_used_bytes`` within transaction ``tx`` (never creating a
    subject that was deleted meanwhile)."""
    tx.update(
        Subject(owner), actions=[Subject.quota_used_bytes.add(delta)], condition=Subject.name.exists()
    )


def _write_record(record: File, condition: Any, delta: int, pending: outbox.Pending | None = None) -> None:
    """Put ``record`` under ``condition`` and move the owner's quota by ``delta``, in one transaction:
    the quota is the sum of the sizes of the subject's files, whatever fails or runs concurrently.
    ``pending``: the outbox entry of the event announcing it, written in the same transaction."""

    def write(tx: TransactWrite) -> None:
        tx.save(record, condition=condition)
        _quota(tx, record.owner, delta)
        if pending is not None:
            tx.save(pending)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise Conflict(f"'{record.path}' was changed by another upload at the same time") from None
        # PynamoDB sends deletes, then puts, then updates: the quota's update follows the outbox
        # entry's put when there is one (the entry has no condition).
        if db.cancelled_by_condition(error, 1) or db.cancelled_by_condition(error, 2):
            raise NotFound(f"Subject '{record.owner}' was not found") from None
        raise


def undo_store(record: File, replaced: File | None) -> None:
    """Take back what ``store`` wrote (an archive that cannot land whole): the file it replaced comes
    back, or the new one goes, quota included; left alone when another upload changed it since."""
    if replaced is None:
        _delete_records([record], strict=True)
        return
    condition = (File.sha256 == record.sha256) & (File.created == record.created)
    with contextlib.suppress(Conflict):
        _write_record(replaced, condition, int(replaced.size) - int(record.size))


def upload_bytes(principal: Principal, repo: Repository, request: Upload, body: bytes) -> File:
    """Upload a file whose bytes came with the request; with ``publish``, publish its version."""
    package = get_package(repo, request.package)
    data = digest(body)
    if request.sha256 and request.sha256.lower() != data.sha256:
        raise Conflict(
            f"Checksum mismatch: X-Checksum-Sha2 is {request.sha256} but the content's is {data.sha256}"
        )
    replaced = check_upload(principal.name, principal.is_admin, repo, package, request)
    storage.put_blob(body, data.sha256)
    metadata = index_metadata(repo.type, request.path, body)
    record = store(principal.name, repo, package, request, data, replaced, metadata)
    if request.publish:
        publish_after_upload(repo, package, record.version, [record])
    return record


# --- publishing -------------------------------------------------------------------------------


def unpublished_files(package: Package, version: str) -> list[File]:
    return [f for f in File.version_index.query(_version_key(package, version)) if not f.published]


def publish_files(
    repo: Repository, package: Package, version: Version, files: list[File], deadline: float | None = None
) -> int:
    """Publish ``files`` of ``version`` until ``deadline`` (a ``clock()`` value) passes; returns how many
    were published. The version becomes published, and the latest if newest."""
    at = now()
    done = 0
    published: list[str] = []
    announced = VersionPublished(
        owner=repo.owner,
        repo=repo.name,
        repo_id=repo.id,
        package=package.name,
        version=version.name,
        sign_files=bool(repo.gpg_sign_files or repo.gpg_use_owner_key),
        package_id=package.id,
        ordinal=int(version.ordinal),
        version_was_published=bool(version.published),
    )
    # The intent first (docs/reliability.md, "Fault injection"): if this publish fails half-way, the
    # files it did publish are announced by the retry, or by the outbox's sweep.
    candidates = {record.path for record in files}
    key = f"version#{package.id}#{version.name}"
    intent = outbox.intend(key, announced, sorted(candidates)) if files else None
    for record in files:
        if deadline is not None and clock() > deadline:
            break
        actions = [File.published.set(True), File.published_at.set(at)]
        if not repo.private:
            actions.append(File.search_shard.set(PUBLIC_SHARD))
        try:
            record.update(actions=actions, condition=File.sha256 == record.sha256)
            published.append(record.path)
        except UpdateError as error:
            if not db.condition_failed(error):
                raise
        done += 1
    if done:
        # The version is marked published by the packages domain's subscriber (so that a retry or
        # the outbox's sweep marks it too). The event has the files an earlier publish of the
        # version published before it failed.
        earlier = sorted(set(intent.paths or ()) - candidates) if intent is not None else []
        events.publish(announced.replace(files=(*published, *earlier)))
    if intent is not None:
        outbox.settle(intent)
    return done


# --- large uploads of a version ----------------------------------------------------------------
#
# A publish and the finishing of a large upload meet on the version item, each with one atomic
# UpdateItem: the publish adds 1 to ``publish_count`` and reads ``pending_uploads``; the finisher
# (after recording the file) removes its id from ``pending_uploads`` and reads ``publish_count``. If
# the publish came first, the finisher sees a count above the one of its upload's start and publishes
# the file; if the finisher came first, its file was recorded before the publish read the version's
# files. Either way the file is published.


def begin_pending_upload(version: Version, upload_id: str) -> int:
    """Add large upload ``upload_id`` to ``version``'s pending uploads; returns the version's publish
    count at that moment (``PendingUpload.publishes_seen``)."""
    try:
        version.update(actions=[Version.pending_uploads.add({upload_id})], condition=Version.name.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            raise Conflict(f"Version '{version.name}' was deleted at the same time; try again") from None
        raise
    return int(version.publish_count or 0)


def end_pending_upload(version_key: str, upload_id: str) -> int | None:
    """Remove a finished (or failed) large upload from its version's pending uploads; returns the
    version's publish count then, None when the version is gone."""
    package_id, _, name = version_key.partition("#")
    version = Version(package_id, name)
    try:
        version.update(actions=[Version.pending_uploads.delete({upload_id})], condition=Version.name.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            return None
        raise
    return int(version.publish_count or 0)


def _announce_publish(version: Version) -> set[str]:
    """Count a publish of ``version``; returns the ids of its large uploads still pending then (each
    will be published when it finishes)."""
    try:
        version.update(actions=[Version.publish_count.add(1)], condition=Version.name.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            raise NotFound(f"Version '{version.name}' was not found") from None
        raise
    return set(version.pending_uploads or ())


def _covered_uploads(version: Version, ids: set[str]) -> tuple[dict[str, PendingUpload], set[str]]:
    """Of the large uploads ``ids`` a publish covers: those still to finish, by path, and the paths of
    those recorded since (their finisher saw the publish, so they are published). Ids of rows gone
    (expired) or settled are dropped from the version's set."""
    rows = list(PendingUpload.batch_get(sorted(ids), consistent_read=True)) if ids else []
    live = {row.path: row for row in rows if row.state in (PENDING, PROCESSING)}
    recorded = {row.path for row in rows if row.state == DONE}
    stale = ids - {row.id for row in live.values()}
    if stale:
        try:
            version.update(actions=[Version.pending_uploads.delete(stale)], condition=Version.name.exists())
        except UpdateError as error:
            if not db.condition_failed(error):
                raise
    return live, recorded


#: How often a waiting publish looks at the large uploads it waits for.
POLL_SECONDS = 0.25


def _wait_for_uploads(uploads: list[PendingUpload], deadline: float) -> tuple[set[str], int]:
    """Wait until ``uploads`` are finished or ``deadline`` passes; returns the paths of those recorded
    and how many are still waiting."""
    waiting = {upload.id: upload for upload in uploads}
    recorded: set[str] = set()
    while waiting:
        rows = {row.id: row for row in PendingUpload.batch_get(list(waiting), consistent_read=True)}
        for upload_id in list(waiting):
            row = rows.get(upload_id)
            if row is None or row.state in (DONE, FAILED):
                waiting.pop(upload_id)
                if row is not None and row.state == DONE:
                    recorded.add(row.path)
        if not waiting or clock() > deadline:
            break
        time.sleep(POLL_SECONDS)
    return recorded, len(waiting)


def publish_version(
    repo: Repository,
    package: Package,
    version: Version,
    discard: bool,
    wait_seconds: int = 0,
    include: list[File] | None = None,
) -> int:
    """Publish (or, with ``discard``, remove) every unpublished file of ``version``; returns how many.

    Large uploads of the version still pending are covered: each is published when it finishes, and
    counts. ``wait_seconds`` is the spec's ``publish_wait_for_secs``: N waits at most N seconds (408
    after, with what was done), -1 at most ``MAX_PUBLISH_WAIT``; 0 publishes the recorded files within
    ``MAX_PUBLISH_WAIT`` and does not wait for pending large uploads. ``include``: files just written
    (a query of the version's files may not show them yet).
    """
    if discard:
        files = unpublished_files(package, version.name)
        for record in files:
            _delete_record(record)
        return len(files)
    limit = wait_seconds if wait_seconds > 0 else MAX_PUBLISH_WAIT
    deadline = clock() + min(limit, MAX_PUBLISH_WAIT)
    covered = _announce_publish(version)  # before the files are read: see the comment above
    files = {f.path: f for f in unpublished_files(package, version.name)}
    files.update({f.path: f for f in include or () if not f.published})
    pending, finished = _covered_uploads(version, covered)
    ordered = list(files.values())
    done = publish_files(repo, package, version, ordered, deadline)
    total = len(set(files) | set(pending) | finished)
    if done < len(ordered):
        so_far = len({f.path for f in ordered[:done]} | finished)
        raise RequestTimeout(
            f"Publishing timed out after {so_far} of {total} files; publish again to finish the rest"
        )
    if not pending or wait_seconds == 0:
        return total
    recorded, waiting = _wait_for_uploads(list(pending.values()), deadline)
    published = len(set(files) | finished | recorded)
    if waiting:
        raise RequestTimeout(
            f"Publishing timed out after {published} of {total} files: {waiting} large upload(s) not "
            "recorded yet; they are published when they are"
        )
    return published


def publish_after_upload(repo: Repository, package: Package, version: str, uploaded: list[File]) -> None:
    """``publish=1`` on an upload: publish the whole version, as the publish call does (the files
    uploaded before unpublished, a Maven pom for instance, and its pending large uploads too)."""
    publish_version(repo, package, get_version(package, version), discard=False, include=uploaded)


# --- reading, downloading, deleting -----------------------------------------------------------


def visible_file(access: Access, path: str) -> File:
    """The file at ``path`` of ``access.repo`` if the caller may see it; otherwise 404 (nothing revealed).

    Unpublished files are visible to publishers only.
    """
    assert access.repo is not None
    check_file_path(path)
    record = find_file(access.repo, path)
    if record is None or (not record.published and not access.can(Right.PUBLISH)):
        raise NotFound(f"File '{path}' was not found")
    return record


#: Checksum files answered beside every file (Maven asks for them), by extension: the record's attribute.
CHECKSUM_EXTENSIONS = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha512": "sha512"}


def checksum_file(access: Access, path: str) -> tuple[File, str] | None:
    """``<file>.md5`` / ``.sha1`` / ``.sha256`` / ``.sha512`` of a visible file: (the file, its
    checksum as recorded at upload); None when ``path`` is no such name or the file is not there."""
    base, dot, extension = path.rpartition(".")
    attribute = CHECKSUM_EXTENSIONS.get(extension)
    if not dot or not base or attribute is None:
        return None
    try:
        record = visible_file(access, base)
    except NotFound:
        return None
    value = getattr(record, attribute)
    return (record, value) if value else None


def _delete_record(record: File, by: str | None = None) -> None:
    """Delete one file record (409 when it changed meanwhile) and give its bytes back to the quota."""
    if not _delete_records([record], strict=True, by=by):
        raise Conflict(f"'{record.path}' was changed at the same time; try again")


#: File deletes per transaction: with the quota update and the outbox entry of their ``FileDeleted``
#: events, moto's (and DynamoDB's old) limit of 25 actions.
DELETE_CHUNK = 23


def _delete_records(records: list[File], strict: bool = False, by: str | None = None) -> int:
    """Delete ``records``, each with its size taken off its owner's ``quota_used_bytes`` in the same
    transaction (so a purge running twice, or concurrently with a delete, never counts a file twice).
    A record changed meanwhile is re-read and deleted as it is now if it is still in the same version,
    unless ``strict`` (then it stays). Each deleted record publishes ``FileDeleted`` (its attributes
    go with it), ``by`` the caller.
    Returns how many were deleted."""
    deleted = 0
    for start in range(0, len(records), DELETE_CHUNK):
        chunk = {(r.repo_id, r.path): r for r in records[start : start + DELETE_CHUNK]}
        with_quota = True
        for attempt in range(db.TRANSACTION_ATTEMPTS * 2):
            if not chunk:
                break
            first = next(iter(chunk.values()))
            pending = outbox.entry(
                f"file#{first.repo_id}#{first.path}", *(_file_deleted(r, by) for r in chunk.values())
            )
            try:
                with db.transaction() as tx:
                    for record in chunk.values():
                        tx.delete(record, condition=File.sha256 == record.sha256)
                    if with_quota:
                        _quota(tx, records[start].owner, -sum(int(r.size) for r in chunk.values()))
                    tx.save(pending)
            except TransactWriteError as error:
                items = list(chunk.items())
                changed = [key for i, (key, _) in enumerate(items) if db.cancelled_by_condition(error, i)]
                if changed:
                    for key in changed:
                        stale = chunk.pop(key)
                        fresh = None if strict else find_file_consistently(*key)
                        if fresh is not None and fresh.version_key == stale.version_key:
                            chunk[key] = fresh  # overridden meanwhile: still a file of what is purged
                    continue
                # The deletes come first, then the entry's put, then the quota's update (PynamoDB's
                # order, whatever the order of the calls): the quota's index is len(items) + 1.
                if with_quota and db.cancelled_by_condition(error, len(items) + 1):
                    with_quota = False  # the subject is gone: nothing to count any more
                    continue
                if db.transaction_conflict(error) and attempt + 1 < db.TRANSACTION_ATTEMPTS * 2:
                    db.backoff(attempt)
                    continue
                raise
            deleted += len(chunk)
            outbox.release(pending)
            break
    return deleted


def _file_deleted(record: File, by: str | None) -> FileDeleted:
    return FileDeleted(
        owner=record.owner,
        repo=record.repo,
        repo_id=record.repo_id,
        package=record.package,
        version=record.version,
        path=record.path,
        size=int(record.size),
        by=by,
    )


def find_file_consistently(repo_id: str, path: str) -> File | None:
    try:
        return File.get(repo_id, path, consistent_read=True)
    except DoesNotExist:
        return None


def delete_file(principal: Principal, repo: Repository, record: File) -> None:
    """Delete one file (published ones only within the update window). Its blob is collected later."""
    check_may_change(principal.name, principal.is_admin, repo, record, "delete")
    _delete_record(record, by=principal.name)


def purge_version_files(package_id: str, version: str) -> None:
    """Remove the file records of a deleted version (idempotent)."""
    records = list(File.version_index.query(f"{package_id}#{version}"))
    _delete_records(records)


def purge_package_files(package_id: str) -> None:
    """Remove the file records of a deleted package (idempotent)."""
    records = list(File.package_index.query(package_id))
    _delete_records(records)


def set_list_in_downloads(record: File, listed: bool) -> None:
    record.update(actions=[File.list_in_downloads.set(listed)])


# --- listings and search ----------------------------------------------------------------------


def describe(record: File) -> dict[str, Any]:
    """The spec's file shape (Get Package Files)."""
    return {
        "name": record.name,
        "path": record.path,
        "package": record.package,
        "version": record.version,
        "repo": record.repo,
        "owner": record.owner,
        "created": iso(record.created),
        "size": int(record.size),
        "sha1": record.sha1,
        "sha256": record.sha256,
    }


def package_files(access: Access, package: Package, include_unpublished: bool) -> list[File]:
    show_unpublished = include_unpublished and access.can(Right.PUBLISH)
    return [f for f in File.package_index.query(package.id) if f.published or show_unpublished]


def version_files(access: Access, package: Package, version: str, include_unpublished: bool) -> list[File]:
    show_unpublished = include_unpublished and access.can(Right.PUBLISH)
    rows = File.version_index.query(_version_key(package, version))
    return [f for f in rows if f.published or show_unpublished]


def search_by_name(
    name: str, subject: str | None, repo: str | None, created_after: str | None, start: int, size: int
) -> list[File]:
    """Published files of public repositories whose name matches ``name`` (``*`` and ``?`` wildcards,
    case-insensitive). Served by the sparse ``public_name_index``; the literal prefix bounds the read."""
    pattern = name.strip().lower()
    if not pattern:
        raise BadRequest("At least one of the 'name' and 'sha1' query parameters is required")
    after = parse_iso(created_after, "created_after") if created_after else None
    prefix = re.split(r"[*?]", pattern)[0]
    key = File.name_lower.startswith(prefix) if prefix else None
    matches = (
        f
        for f in File.public_name_index.query(PUBLIC_SHARD, range_key_condition=key)
        if fnmatch.fnmatchcase(f.name_lower, pattern)
        and (not subject or f.owner == subject)
        and (not repo or f.repo == repo)
        and (after is None or f.created >= after)
    )
    return db.page(matches, start, size)


def search_by_sha1(sha1: str, subject: str | None, repo: str | None, start: int, size: int) -> list[File]:
    """Published files of public repositories with this SHA-1."""
    matches = (
        f
        for f in File.sha1_index.query(sha1.strip().lower())
        if f.search_shard == PUBLIC_SHARD
        and (not subject or f.owner == subject)
        and (not repo or f.repo == repo)
    )
    return db.page(matches, start, size)


def package_of(record: File, repo: Repository) -> Package:
    try:
        package = Package.get(repo.id, record.package)
    except DoesNotExist:
        raise NotFound(f"Package '{record.package}' was not found") from None
    return package
