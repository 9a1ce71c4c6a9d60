"""Version services: create (with its ordinal), describe, update, delete, latest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib import db, outbox
from chalicelib.auth.policy import Access, Right
from chalicelib.errors import Conflict, NotFound
from chalicelib.events import VersionDeleted, VersionPublished
from chalicelib.packages.models import Package, Version
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import iso, now, parse_iso, read_iso
from chalicelib.validation import Body, Field, Flag, version_name

LATEST = "_latest"
MAX_ORDINAL_RETRIES = 16


class VersionFields(Body):
    """Fields shared by create and update."""

    desc: str | None = Field(default=None, max_length=4000)
    labels: list[str] | None = Field(default=None, max_length=50)
    released: str | None = Field(default=None, max_length=64)
    github_release_notes_file: str | None = Field(default=None, max_length=1024)
    github_use_tag_release_notes: Flag | None = None
    vcs_tag: str | None = Field(default=None, max_length=256)

    def released_at(self) -> datetime | None:
        return parse_iso(self.released, "released") if self.released else None


class CreateVersionBody(VersionFields):
    """``POST /packages/{subject}/{repo}/{package}/versions``."""

    name: str


class UpdateVersionBody(VersionFields):
    """``PATCH /packages/{subject}/{repo}/{package}/versions/{version}``."""


def get_version(package: Package, name: str) -> Version:
    """Version ``name`` of ``package`` (``_latest`` resolves to the latest version) or a 404."""
    if name == LATEST:
        name = package.latest_version or ""
        if not name:
            raise NotFound(f"Package '{package.name}' has no versions")
    return db.get_or_404(Version, package.id, name, missing=f"Version '{name}' was not found")


def create_version(repo: Repository, package: Package, body: CreateVersionBody) -> Version:
    """Create a version with the next ordinal of its package.

    The ordinal comes from the package's ``version_seq``, claimed with an optimistic condition in
    the same transaction as the version's insert; a concurrent creator (a failed condition, or
    DynamoDB's ``TransactionConflict``) makes us retry.
    """
    version_name(body.name)
    released = body.released_at()
    for attempt in range(MAX_ORDINAL_RETRIES):
        ordinal = int(package.version_seq or 0) + 1
        created = now()
        version = Version(
            package.id,
            body.name,
            ordinal=ordinal,
            owner=package.owner,
            repo=package.repo,
            package=package.name,
            desc=body.desc,
            labels=body.labels or [],
            created=created,
            updated=created,
            released=released,
            published=False,
            github_release_notes_file=body.github_release_notes_file,
            github_use_tag_release_notes=bool(body.github_use_tag_release_notes),
            vcs_tag=body.vcs_tag,
        )
        try:
            with db.transaction() as tx:
                tx.save(version, condition=Version.name.does_not_exist())
                tx.update(
                    package,
                    actions=[
                        Package.version_seq.set(ordinal),
                        Package.newest_version.set(body.name),
                        Package.updated.set(created),
                    ],
                    condition=(Package.id == package.id) & (Package.version_seq == ordinal - 1),
                )
        except TransactWriteError as error:
            if db.cancelled_by_condition(error, 0):
                raise Conflict(f"Version '{body.name}' already exists") from None
            if db.transaction_conflict(error):
                # Another transaction was writing the package (or this name) at the same moment.
                db.backoff(attempt)
            elif not db.cancelled_by_condition(error, 1):
                raise
            package = _reload(repo, package)
            continue
        package.version_seq = ordinal
        package.newest_version = body.name
        return version
    raise Conflict("Too many concurrent version creations; try again")


def _reload(repo: Repository, package: Package) -> Package:
    try:
        fresh = Package.get(repo.id, package.name)
    except DoesNotExist:
        fresh = None
    if fresh is None or fresh.id != package.id:
        raise NotFound(f"Package '{package.name}' was not found")
    return fresh


def update_version(version: Version, body: UpdateVersionBody) -> Version:
    """Apply the fields present in ``body``."""
    given = body.model_fields_set
    actions = [Version.updated.set(now())]
    if "released" in given:
        released = body.released_at()
        actions.append(Version.released.set(released) if released else Version.released.remove())
    for field in ("desc", "github_release_notes_file", "vcs_tag"):
        if field in given:
            value = getattr(body, field)
            attr = getattr(Version, field)
            actions.append(attr.set(value) if value else attr.remove())
    if "labels" in given:
        actions.append(Version.labels.set(body.labels or []))
    if "github_use_tag_release_notes" in given:
        actions.append(Version.github_use_tag_release_notes.set(bool(body.github_use_tag_release_notes)))
    try:
        version.update(actions=actions, condition=Version.name.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            raise NotFound(f"Version '{version.name}' was not found") from None
        raise
    return version


def delete_version(package: Package, version: Version) -> None:
    """Delete a version. Its files, attributes and release notes go (their domains' subscribers of
    ``VersionDeleted``), and the package's newest/latest pointers move to the next candidates (this
    domain's); the event is written in the transaction of the delete (``chalicelib/outbox.py``), so
    a failure half-way is finished by the outbox's sweep."""
    deleted = VersionDeleted(
        owner=package.owner,
        repo=package.repo,
        repo_id=package.repo_id,
        package=package.name,
        package_id=package.id,
        version=version.name,
    )
    pending = outbox.entry(f"version#{package.id}#{version.name}", deleted)

    def write(tx: Any) -> None:
        tx.delete(version, condition=Version.name.exists())
        tx.save(pending)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise NotFound(f"Version '{version.name}' was not found") from None
        raise
    outbox.release(pending)


def mark_published(event: VersionPublished) -> None:
    """A version's files were published: the version is published (released then, unless it was
    before) and the package's latest published version if newest. Idempotent."""
    if not event.version_was_published:
        try:
            Version(event.package_id, event.version).update(
                actions=[
                    Version.published.set(True),
                    Version.released.set(Version.released | (read_iso(event.at) or now())),
                ],
                condition=Version.name.exists(),
            )
        except UpdateError as error:
            if not db.condition_failed(error):
                raise
            return  # deleted meanwhile
    try:
        Package(event.repo_id, event.package).update(
            actions=[
                Package.latest_published_version.set(event.version),
                Package.latest_published_ordinal.set(event.ordinal),
            ],
            condition=(Package.id == event.package_id)
            & (
                Package.latest_published_ordinal.does_not_exist()
                | (Package.latest_published_ordinal <= event.ordinal)
            ),
        )
    except UpdateError as error:
        if not db.condition_failed(error):
            raise


REFRESH_ATTEMPTS = 8


def refresh_latest(package: Package) -> None:
    """Recompute the package's newest version and newest version with published files.

    Optimistic: the pointers are written only if no version was created and none published since
    they were read (``version_seq`` and ``latest_published_ordinal`` unchanged); otherwise the package
    is read again and the pointers recomputed, so a concurrent create or publish of a newer version
    is never overwritten by an older one."""
    for attempt in range(REFRESH_ATTEMPTS):
        try:
            package = Package.get(package.repo_id, package.name, consistent_read=True)
        except DoesNotExist:
            return
        newest = None
        latest_published = None
        for row in Version.ordinal_index.query(package.id, scan_index_forward=False, consistent_read=True):
            newest = newest or row.name
            if row.published:
                latest_published = row
                break
        actions = [Package.newest_version.set(newest) if newest else Package.newest_version.remove()]
        if latest_published is not None:
            actions += [
                Package.latest_published_version.set(latest_published.name),
                Package.latest_published_ordinal.set(latest_published.ordinal),
            ]
        else:
            actions += [Package.latest_published_version.remove(), Package.latest_published_ordinal.remove()]
        seen_published = (
            Package.latest_published_ordinal.does_not_exist()
            if package.latest_published_ordinal is None
            else Package.latest_published_ordinal == package.latest_published_ordinal
        )
        try:
            package.update(
                actions=actions,
                condition=(Package.id == package.id)
                & (Package.version_seq == package.version_seq)
                & seen_published,
            )
            return
        except UpdateError as error:
            if not db.condition_failed(error):
                raise
            db.backoff(attempt)  # a version was created or published meanwhile: read again
    raise Conflict("Too many concurrent version changes; try again")


def describe(access: Access, version: Version, attribute_values: bool = False) -> dict[str, Any]:
    """The spec's Get Version shape; publisher-only fields for publishers."""
    can_publish = access.can(Right.PUBLISH)
    body: dict[str, Any] = {
        "name": version.name,
        "desc": version.desc or "",
        "package": version.package,
        "repo": version.repo,
        "owner": version.owner,
        "labels": list(version.labels or []),
        "published": bool(version.published),
        "created": iso(version.created),
        "updated": iso(version.updated),
        "released": iso(version.released) or "",
        "ordinal": int(version.ordinal),
    }
    if attribute_values:
        from chalicelib.attributes.services import attribute_map

        body["attributes"] = attribute_map(version.package_id, version.name, can_publish)
    else:
        body["attribute_names"] = [
            n for n in version.attribute_names or [] if can_publish or not n.startswith("_")
        ]
    if can_publish:
        body.update(
            github_release_notes_file=version.github_release_notes_file or "",
            github_use_tag_release_notes=bool(version.github_use_tag_release_notes),
            vcs_tag=version.vcs_tag or "",
        )
    return body
