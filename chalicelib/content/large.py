"""Large files: uploads whose body cannot pass through Lambda go straight to S3.

A Lambda request carries at most 6 MB, and binary bodies arrive base64-encoded: about 4.5 MiB of file.
For a bigger ``PUT /content/...`` (or ``/maven/...``) the gateway hands the function the request
without its body, and the function:

1. validates the upload as for a small one (rights, package, path, override rules),
2. records a ``PendingUpload`` with everything needed to finish it,
3. answers ``307`` with ``Location:`` a presigned S3 PUT of ``uploads/<id>`` (valid one hour).

Clients that follow redirects (``curl -L -T file``, python-requests) resend the body to S3 by
themselves; any other client gets the 307 with a message saying so, and nothing is stored. S3 reports
the new object through SQS, and ``finish_from_event`` (the ``upload_events`` function of ``app.py``)
streams it to check its size and SHA-256, moves it to its content address and records the file with
the code path of small uploads. The version is created at the 307 and knows its pending uploads, so a
publish before the file is recorded covers it: the finisher publishes the file when it sees that the
version was published after the upload began (the handshake is described in ``services``, "large
uploads of a version").
A refused upload is ``failed`` with its ``reason``; ``version_uploads`` lists the states.

Example::

    if too_large(ctx.headers):
        url = stage(ctx.principal, ctx.repo, request, content_length(ctx.headers))
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import db, storage
from chalicelib.auth.principal import Principal
from chalicelib.content import services
from chalicelib.content.models import DONE, FAILED, PENDING, PROCESSING, File, PendingUpload
from chalicelib.content.paths import DebianCoordinates, MavenCoordinates
from chalicelib.content.services import Digest, Upload
from chalicelib.errors import BadRequest, ShelfError
from chalicelib.packages import services as packages
from chalicelib.packages.models import Package
from chalicelib.packages.versions import get_version
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import iso, now
from chalicelib.validation import ASCII_DIGITS

log = logging.getLogger("shelf")

#: Uploads above this size never carry their body through Lambda (6 MB payload, base64: 4.5 MiB of file).
MAX_INLINE_UPLOAD = 4 * 1024 * 1024 + 512 * 1024
#: The header carrying the Content-Length of a body the deployed front withheld (infra/edge/upload_front.py).
WITHHELD_LENGTH = "x-shelf-content-length"
#: The largest object one S3 PUT may create.
MAX_UPLOAD = 5 * 1024**3
#: How long the presigned PUT of a large upload stays valid.
PRESIGN_SECONDS = 3600
#: How long a pending upload is kept when its bytes never come (DynamoDB TTL).
PENDING_TTL = timedelta(days=1)
#: How long one finishing run owns an upload (the longest a Lambda runs); a crashed run's upload is
#: taken over by the retried event after this.
LEASE = timedelta(minutes=15)

MESSAGE = (
    "Upload the content to the Location URL: this file is larger than {limit}, the most a request to "
    "the API may carry; clients that follow redirects (curl -L, python-requests) do this by themselves"
)


class UploadInProgress(Exception):
    """Another run is finishing this upload; raising makes SQS deliver the event again later."""


def content_length(headers: Mapping[str, str]) -> int | None:
    """The request's Content-Length, or None when absent or not a plain (ASCII) number. Behind the
    deployed CDN front (infra/edge/upload_front.py) a body too large for the API arrives removed, its
    length in ``X-Shelf-Content-Length``."""
    value = (headers.get(WITHHELD_LENGTH) or headers.get("content-length") or "").strip()
    return int(value) if ASCII_DIGITS.fullmatch(value) else None


def too_large(headers: Mapping[str, str]) -> bool:
    """Whether the request's body is too big to have reached the function (the gateway dropped it)."""
    length = content_length(headers)
    return length is not None and length > MAX_INLINE_UPLOAD


def redirect_message() -> dict[str, str]:
    return {"message": MESSAGE.format(limit=f"{MAX_INLINE_UPLOAD / 1024 / 1024:g} MiB")}


def stage(
    principal: Principal,
    repo: Repository,
    request: Upload,
    size: int,
    maven: MavenCoordinates | None = None,
) -> str:
    """Validate a large upload and record it as pending; returns the presigned URL to PUT it to."""
    if size > MAX_UPLOAD:
        raise BadRequest(f"A file may have at most {MAX_UPLOAD // 1024**3} GiB; this one has {size} bytes")
    package = packages.get_package(repo, request.package)
    services.check_upload(principal.name, principal.is_admin, repo, package, request)
    # The version exists from now on, so that a publish right after the upload finds it (and covers it).
    version = services.ensure_version(repo, package, request.version)
    created = now()
    pending = PendingUpload(
        uuid.uuid4().hex,
        repo_owner=repo.owner,
        repo_name=repo.name,
        repo_id=repo.id,
        package=package.name,
        version=version.name,
        version_key=f"{package.id}#{version.name}",
        path=request.path,
        publish=request.publish,
        override=request.override,
        sha256=request.sha256.lower() if request.sha256 else None,
        size=size,
        uploader=principal.name,
        uploader_is_admin=principal.is_admin,
        created=created,
        expires_at=created + PENDING_TTL,
    )
    if request.debian is not None:
        pending.deb_distribution = request.debian.distributions
        pending.deb_component = request.debian.components
        pending.deb_architecture = request.debian.architectures
    if maven is not None:
        pending.maven_group_id = maven.group_id
        pending.maven_artifact_id = maven.artifact_id
    # In the version's set first: a publish from now on covers the upload (a publish that finds the id
    # but not yet the row below takes it for a stale one; the upload is still published when it finishes).
    pending.publishes_seen = services.begin_pending_upload(version, pending.id)
    pending.save()
    return storage.presign_put(storage.staged_key(pending.id), PRESIGN_SECONDS, size)


# --- finishing: S3 ObjectCreated events, delivered through SQS -------------------------------------


def finish_from_event(event: dict[str, Any]) -> dict[str, str]:
    """Finish the uploads named by an SQS event of S3 notifications; returns ``{id: outcome}``."""
    outcomes: dict[str, str] = {}
    for message in event.get("Records", []):
        notification = json.loads(message.get("body") or "{}")
        for record in notification.get("Records", []):  # absent in S3's s3:TestEvent
            if not record.get("eventName", "").startswith("ObjectCreated"):
                continue
            key = unquote_plus(record["s3"]["object"]["key"])
            if key.startswith(storage.UPLOAD_PREFIX):
                upload_id = key[len(storage.UPLOAD_PREFIX) :]
                outcomes[upload_id] = finish(upload_id)
    return outcomes


def finish(upload_id: str) -> str:
    """Record the file of staged upload ``upload_id`` once; returns ``done``, ``failed`` or ``unknown``.

    Idempotent: a finished upload is left alone; a run claims the upload with a conditional write
    (another live run makes this one raise ``UploadInProgress``, so SQS retries it later).
    """
    try:
        pending = PendingUpload.get(upload_id)
    except DoesNotExist:
        log.warning("large upload %s: no pending upload (expired or unknown)", upload_id)
        return "unknown"
    if pending.state in (DONE, FAILED) or not _claim(pending):
        if pending.state in (DONE, FAILED):
            # A redelivery: the run that settled it may have failed before removing the staged object.
            storage.delete_object(storage.staged_key(pending.id))
        return pending.state
    try:
        return _finish_claimed(pending)
    except Exception:
        _release(pending)
        raise


def _release(pending: PendingUpload) -> None:
    """Give a claimed upload back at once, so the retried event need not wait for the lease to end."""
    try:
        pending.update(
            actions=[PendingUpload.state.set(PENDING)], condition=PendingUpload.state == PROCESSING
        )
    except UpdateError as error:
        if not db.condition_failed(error):  # settled already: the retry finds it finished
            raise


def _finish_claimed(pending: PendingUpload) -> str:
    """Check and record the staged object, take the upload off its version's pending uploads, publish
    the file when asked (``publish=1``, or a publish of the version since the upload began), settle."""
    key = storage.staged_key(pending.id)
    problem: str | None = None
    recorded: Recorded | None = None
    if not storage.object_exists(key):
        problem = "the uploaded object is missing"
    else:
        data = _digest_object(key)
        problem = _mismatch(pending, data)
        if problem is None:
            storage.adopt_staged(key, data.sha256)
            try:
                recorded = _record(pending, data)
            except ShelfError as error:  # the path, package or repository changed since the 307
                problem = error.message
    publishes = services.end_pending_upload(pending.version_key, pending.id) if pending.version_key else None
    if recorded is not None:
        _publish(pending, recorded, publishes)
    outcome = _settle(pending, FAILED if problem else DONE, problem)
    storage.delete_object(key)
    return outcome


def _publish(pending: PendingUpload, recorded: Recorded, publishes: int | None) -> None:
    """Publish a recorded large upload: its whole version with ``publish=1`` (as a small upload does),
    or the file alone when the version was published after the upload began."""
    repo, package, record = recorded
    if pending.publish:
        services.publish_after_upload(repo, package, record.version, [record])
    elif not record.published and publishes is not None and publishes > int(pending.publishes_seen or 0):
        version = get_version(package, record.version)
        services.publish_files(repo, package, version, [record])


def _digest_object(key: str) -> Digest:
    """Size, SHA-1, SHA-256, MD5 and SHA-512 of an object, streamed in chunks."""
    sha1, sha256, md5, sha512, size = hashlib.sha1(), hashlib.sha256(), hashlib.md5(), hashlib.sha512(), 0
    for chunk in storage.object_chunks(key):
        for hashed in (sha1, sha256, md5, sha512):
            hashed.update(chunk)
        size += len(chunk)
    return Digest(size, sha1.hexdigest(), sha256.hexdigest(), md5.hexdigest(), sha512.hexdigest())


def _mismatch(pending: PendingUpload, data: Digest) -> str | None:
    if data.size != int(pending.size):
        return f"Size mismatch: Content-Length was {int(pending.size)} but {data.size} bytes arrived"
    if pending.sha256 and pending.sha256 != data.sha256:
        return f"Checksum mismatch: X-Checksum-Sha2 is {pending.sha256} but the content's is {data.sha256}"
    return None


def _claim(pending: PendingUpload) -> bool:
    """Take the upload for this run; False when another run has finished it meanwhile."""
    at = now()
    try:
        pending.update(
            actions=[PendingUpload.state.set(PROCESSING), PendingUpload.lease_until.set(at + LEASE)],
            condition=(PendingUpload.state == PENDING)
            | ((PendingUpload.state == PROCESSING) & (PendingUpload.lease_until < at)),
        )
    except UpdateError as error:
        if not db.condition_failed(error):
            raise
        pending.refresh()
        if pending.state in (DONE, FAILED):
            return False
        raise UploadInProgress(f"large upload {pending.id} is being finished by another run") from None
    return True


def _settle(pending: PendingUpload, state: str, reason: str | None = None) -> str:
    actions = [PendingUpload.state.set(state)]
    if reason:
        actions.append(PendingUpload.reason.set(reason))
        log.warning("large upload %s failed: %s", pending.id, reason)
    pending.update(actions=actions, condition=PendingUpload.state == PROCESSING)
    return state


#: What recording a large upload wrote: the repository, the package and the file.
Recorded = tuple[Repository, Package, File]


def _record(pending: PendingUpload, data: Digest) -> Recorded:
    """Record the file as a small upload would (``services.store``), re-checking the path's rules."""
    try:
        repo = Repository.get(pending.repo_owner, pending.repo_name)
    except DoesNotExist:
        raise BadRequest("The repository was deleted") from None
    if repo.id != pending.repo_id:
        raise BadRequest("The repository was deleted")
    package = packages.get_package(repo, pending.package)
    existing = services.find_file(repo, pending.path)
    if (
        existing is not None
        and existing.sha256 == data.sha256
        and existing.uploader == pending.uploader
        and existing.created >= pending.created
    ):
        return repo, package, existing  # recorded by a run that crashed before settling
    request = Upload(
        path=pending.path,
        package=pending.package,
        version=pending.version,
        publish=bool(pending.publish),
        override=bool(pending.override),
        sha256=pending.sha256,
        debian=DebianCoordinates(
            list(pending.deb_distribution), list(pending.deb_component), list(pending.deb_architecture)
        )
        if pending.deb_distribution is not None
        else None,
    )
    is_admin = bool(pending.uploader_is_admin)
    replaced = services.check_upload(pending.uploader, is_admin, repo, package, request)
    record = services.store(pending.uploader, repo, package, request, data, replaced)
    if pending.maven_group_id and pending.maven_artifact_id:
        packages.register_system_id(repo, package, pending.maven_group_id, pending.maven_artifact_id)
    return repo, package, record


# --- the state of large uploads, for clients waiting for theirs -------------------------------------


def describe(pending: PendingUpload) -> dict[str, Any]:
    """A large upload as ``GET .../versions/:version/uploads`` shows it."""
    return {
        "id": pending.id,
        "path": pending.path,
        "package": pending.package,
        "version": pending.version,
        "size": int(pending.size),
        "created": iso(pending.created),
        "state": pending.state,
        "reason": pending.reason,
    }


def version_uploads(package: Package, version: str, path: str | None = None) -> list[PendingUpload]:
    """The large uploads of ``version`` (of one ``path`` when given) kept until they expire (a day), by
    path and age: ``pending`` until the bytes are in S3, then ``done`` or ``failed`` with a reason."""
    condition = PendingUpload.path == path if path else None
    rows = PendingUpload.version_index.query(f"{package.id}#{version}", range_key_condition=condition)
    return sorted(rows, key=lambda row: (row.path, row.created))
