"""Package services: create, describe, update, delete (cascading), list, search, Maven search."""

from __future__ import annotations

import fnmatch
import heapq
import re
import uuid
from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import db, licenses, outbox, plans
from chalicelib.accounts.models import Subject
from chalicelib.auth.policy import Access, Right
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.events import PackageDeleted
from chalicelib.licenses.services import unknown_custom_licenses
from chalicelib.packages.models import Package, SystemId, Version
from chalicelib.repositories.models import PUBLIC_SHARD, Repository
from chalicelib.timefmt import iso, now
from chalicelib.validation import Body, Field, Flag, package_name

URL = Field(default=None, max_length=2048)


class PackageFields(Body):
    """Fields shared by create and update."""

    desc: str | None = Field(default=None, max_length=4000)
    labels: list[str] | None = Field(default=None, max_length=50)
    licenses: list[str] | None = Field(default=None, max_length=20)
    custom_licenses: list[str] | None = Field(default=None, max_length=20)
    vcs_url: str | None = URL
    website_url: str | None = URL
    issue_tracker_url: str | None = URL
    github_repo: str | None = Field(default=None, max_length=256, pattern=r"^$|^[\w.-]+/[\w.-]+$")
    github_release_notes_file: str | None = Field(default=None, max_length=1024)
    public_download_numbers: Flag | None = None
    public_stats: Flag | None = None


class CreatePackageBody(PackageFields):
    """``POST /packages/{subject}/{repo}``."""

    name: str


class UpdatePackageBody(PackageFields):
    """``PATCH /packages/{subject}/{repo}/{package}``."""


def _check_fields(owner: Subject, repo: Repository, body: PackageFields, creating: bool) -> None:
    given = body.model_fields_set
    unknown = licenses.unknown_licenses(body.licenses or [])
    if unknown:
        raise BadRequest(
            f"Invalid value for 'licenses': unknown license(s) {', '.join(unknown)}; "
            "see GET /licenses/oss_licenses"
        )
    if body.custom_licenses:
        plans.require(owner, "custom_licenses")
        unknown = unknown_custom_licenses(owner, body.custom_licenses)
        if unknown:
            raise BadRequest(
                f"Invalid value for 'custom_licenses': unknown license(s) {', '.join(unknown)}; "
                f"see GET /{'orgs' if owner.is_org else 'users'}/{owner.name}/licenses"
            )
    if "public_stats" in given and body.public_stats is not None:
        plans.require(owner, "public_stats")
    for label in body.labels or []:
        if not label.strip() or len(label) > 64:
            raise BadRequest(
                "Invalid value for 'labels': each label is a non-empty string of at most 64 chars"
            )
    oss_public = owner.plan == "oss" and not repo.private
    if oss_public and (creating or "licenses" in given) and not body.licenses:
        raise BadRequest(
            "Missing required field 'licenses': packages of public OSS repositories need a license"
        )
    if oss_public and (creating or "vcs_url" in given) and not body.vcs_url:
        raise BadRequest(
            "Missing required field 'vcs_url': packages of public OSS repositories need a vcs_url"
        )


def get_package(repo: Repository, name: str) -> Package:
    """Package ``name`` of ``repo`` or a 404."""
    return db.get_or_404(Package, repo.id, name, missing=f"Package '{name}' was not found")


def create_package(owner: Subject, repo: Repository, body: CreatePackageBody) -> Package:
    """Create a package; 409 if the name is taken, 404 if the repository vanished meanwhile."""
    package_name(body.name)
    _check_fields(owner, repo, body, creating=True)
    created = now()
    package = Package(
        repo.id,
        body.name,
        id=uuid.uuid4().hex,
        owner=repo.owner,
        repo=repo.name,
        desc=body.desc,
        desc_lower=body.desc.lower() if body.desc else None,
        labels=body.labels or [],
        licenses=body.licenses or [],
        custom_licenses=body.custom_licenses or [],
        vcs_url=body.vcs_url,
        website_url=body.website_url,
        issue_tracker_url=body.issue_tracker_url,
        github_repo=body.github_repo,
        github_release_notes_file=body.github_release_notes_file,
        public_download_numbers=bool(body.public_download_numbers),
        public_stats=True if body.public_stats is None else body.public_stats,
        created=created,
        updated=created,
        version_seq=0,
        name_lower=body.name.lower(),
        search_shard=None if repo.private else PUBLIC_SHARD,
    )

    def write(tx: TransactWrite) -> None:
        tx.save(package, condition=Package.name.does_not_exist())
        tx.update(
            Repository(repo.owner, repo.name),
            actions=[Repository.package_count.add(1)],
            condition=Repository.id == repo.id,
        )

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise Conflict(f"Package '{body.name}' already exists") from None
        if db.cancelled_by_condition(error, 1):
            raise NotFound(f"Repo '{repo.name}' was not found") from None
        raise
    return package


def update_package(owner: Subject, repo: Repository, package: Package, body: UpdatePackageBody) -> Package:
    """Apply the fields present in ``body``."""
    _check_fields(owner, repo, body, creating=False)
    given = body.model_fields_set
    actions = [Package.updated.set(now())]
    for field in (
        "vcs_url",
        "website_url",
        "issue_tracker_url",
        "github_repo",
        "github_release_notes_file",
        "public_download_numbers",
        "public_stats",
    ):
        if field in given:
            value = getattr(body, field)
            attr = getattr(Package, field)
            actions.append(attr.set(value) if value is not None else attr.remove())
    for field in ("labels", "licenses", "custom_licenses"):
        if field in given:
            actions.append(getattr(Package, field).set(getattr(body, field) or []))
    if "desc" in given:
        if body.desc:
            actions += [Package.desc.set(body.desc), Package.desc_lower.set(body.desc.lower())]
        else:
            actions += [Package.desc.remove(), Package.desc_lower.remove()]
    try:
        package.update(actions=actions, condition=Package.id == package.id)
    except UpdateError as error:
        if db.condition_failed(error):
            raise NotFound(f"Package '{package.name}' was not found") from None
        raise
    return package


def package_deleted_event(package: Package) -> PackageDeleted:
    return PackageDeleted(
        owner=package.owner,
        repo=package.repo,
        repo_id=package.repo_id,
        package=package.name,
        package_id=package.id,
        system_ids=tuple(package.system_ids or ()),
    )


def delete_package(repo: Repository, package: Package) -> None:
    """Delete a package with its versions and coordinates: the package goes with the outbox entry of
    its ``PackageDeleted`` in one transaction, whose subscribers remove every record under it
    (idempotent; a failure half-way is finished by the outbox's sweep, ``chalicelib/outbox.py``)."""
    pending = outbox.entry(f"package#{package.id}", package_deleted_event(package))

    def write(tx: TransactWrite) -> None:
        tx.delete(package, condition=Package.id == package.id)
        tx.update(
            Repository(repo.owner, repo.name),
            actions=[Repository.package_count.add(-1)],
            condition=Repository.id == repo.id,
        )
        tx.save(pending)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise NotFound(f"Package '{package.name}' was not found") from None
        if db.cancelled_by_condition(error, 1):
            # The repository is being deleted: its purge removes this package too.
            return
        raise
    outbox.release(pending)


def purge_package_records(event: PackageDeleted) -> None:
    """Remove the versions and Maven coordinates of a deleted package (after the other domains'
    subscribers of ``PackageDeleted`` removed theirs; idempotent)."""
    db.batch_delete(Version.query(event.package_id))
    db.batch_delete(_system_id_rows(event.package_id, event.system_ids))


def purge_repository_contents(repo_id: str) -> None:
    """Remove every package of a deleted repository with what is under it (idempotent): each package
    goes with the outbox entry of its ``PackageDeleted``, as ``delete_package`` does."""
    for package in Package.query(repo_id):
        pending = outbox.entry(f"package#{package.id}", package_deleted_event(package))

        def write(tx: TransactWrite, package: Package = package, pending: outbox.Pending = pending) -> None:
            tx.delete(package)
            tx.save(pending)

        db.run_transaction(write)
        outbox.release(pending)


def list_packages(
    repo: Repository, start_pos: int, start_name: str | None, size: int
) -> tuple[list[tuple[str, bool]], int]:
    """One page of ``(name, linked)`` of the packages of ``repo`` and of those linked into it, ordered
    by name, and the total count."""
    from chalicelib.links.services import linked_names

    if start_name:
        condition = Package.name.startswith(start_name)
        total = Package.count(repo.id, range_key_condition=condition)
        items = Package.query(repo.id, range_key_condition=condition, attributes_to_get=["name"])
    else:
        total = int(repo.package_count or 0)
        items = Package.query(repo.id, attributes_to_get=["name"])
    linked = linked_names(repo, start_name)
    merged = heapq.merge(((p.name, False) for p in items), ((name, True) for name in linked))
    return db.page(merged, start_pos, size), total + len(linked)


def version_names(package: Package) -> list[str]:
    """Names of the versions of ``package``, newest first."""
    rows = Version.ordinal_index.query(package.id, scan_index_forward=False, attributes_to_get=["name"])
    return [row.name for row in rows]


def describe(
    access: Access, package: Package, attribute_values: bool = False, can_publish: bool | None = None
) -> dict:
    """The spec's Get Package shape; publisher-only fields for publishers."""
    if can_publish is None:
        can_publish = access.can(Right.PUBLISH)
    body: dict[str, Any] = {
        "name": package.name,
        "repo": package.repo,
        "owner": package.owner,
        "desc": package.desc or "",
        "labels": list(package.labels or []),
        "licenses": list(package.licenses or []),
        "custom_licenses": list(package.custom_licenses or []),
        "followers_count": int(package.followers_count or 0),
        "created": iso(package.created),
        "website_url": package.website_url or "",
        "issue_tracker_url": package.issue_tracker_url or "",
        "rating": int(package.rating or 0),
        "rating_count": int(package.rating_count or 0),
        "linked_to_repos": list(package.linked_to_repos or []),
        "permissions": [],
        "versions": version_names(package),
        "latest_version": package.latest_version,
        "system_ids": list(package.system_ids or []),
        "updated": iso(package.updated),
        "vcs_url": package.vcs_url or "",
    }
    if attribute_values:
        from chalicelib.attributes.services import attribute_map

        body["attributes"] = attribute_map(package.id, "", can_publish)
    else:
        body["attribute_names"] = [
            n for n in package.attribute_names or [] if can_publish or not n.startswith("_")
        ]
    if can_publish:
        body.update(
            github_repo=package.github_repo or "",
            github_release_notes_file=package.github_release_notes_file or "",
            public_download_numbers=bool(package.public_download_numbers),
            public_stats=bool(package.public_stats),
        )
    return body


def search(
    name: str | None,
    desc: str | None,
    subject: str | None,
    repo: str | None,
    start_pos: int,
    size: int,
) -> list[Package]:
    """Packages of public repositories: ``name`` is a case-insensitive prefix, ``desc`` a
    case-insensitive substring, ``subject`` and ``repo`` exact. Private packages never match."""
    name = (name or "").strip().lower()
    desc = (desc or "").strip().lower()
    if not (name or desc or subject or repo):
        raise BadRequest("At least one of 'name', 'desc', 'subject' and 'repo' is required")
    filters = []
    if desc:
        filters.append(Package.desc_lower.contains(desc))
    if subject and repo:
        try:
            target = Repository.get(subject, repo)
        except DoesNotExist:
            return []
        if target.private:
            return []
        if name:
            filters.append(Package.name_lower.startswith(name))
        results: Iterable[Package] = Package.query(target.id, filter_condition=_all(filters))
    else:
        if subject:
            filters.append(Package.owner == subject)
        if repo:
            filters.append(Package.repo == repo)
        key = Package.name_lower.startswith(name) if name else None
        results = Package.public_index.query(
            PUBLIC_SHARD, range_key_condition=key, filter_condition=_all(filters)
        )
    return db.page(iter(results), start_pos, size)


def _all(conditions: list[Any]) -> Any:
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


# --- Maven coordinates -----------------------------------------------------------------------


def register_system_id(repo: Repository, package: Package, group_id: str, artifact_id: str) -> None:
    """Record that ``package`` holds Maven artifact ``group_id:artifact_id`` (idempotent).

    Called by content upload when a Maven file lands in the package.
    """
    coordinate = f"{group_id}:{artifact_id}"
    SystemId(
        group_id,
        f"{artifact_id}#{package.id}",
        artifact_id=artifact_id,
        coordinate_lower=coordinate.lower(),
        package_id=package.id,
        repo_id=repo.id,
        owner=repo.owner,
        repo=repo.name,
        package=package.name,
        search_shard=None if repo.private else PUBLIC_SHARD,
    ).save()
    if coordinate in (package.system_ids or []):
        return
    try:
        package.update(
            actions=[Package.system_ids.set(Package.system_ids.append([coordinate]))],
            condition=~Package.system_ids.contains(coordinate) & (Package.id == package.id),
        )
    except UpdateError as error:
        if not db.condition_failed(error):
            raise


def _system_id_rows(package_id: str, system_ids: Iterable[str]) -> list[SystemId]:
    rows = []
    for coordinate in system_ids or []:
        group_id, _, artifact_id = coordinate.partition(":")
        rows.append(SystemId(group_id, f"{artifact_id}#{package_id}"))
    return rows


def maven_search(
    group: str | None,
    artifact: str | None,
    query: str | None,
    subject: str | None,
    repo: str | None,
    start_pos: int,
    size: int,
) -> list[dict[str, Any]]:
    """Public packages holding Maven coordinates matching ``g``/``a`` (wildcards ``*`` and ``?``)
    or the wildcard query ``q`` against either part; results in the spec's Maven search shape.

    Served by the ``public_index`` of coordinates: the literal prefix of ``g`` bounds the read.
    """
    group = (group or "").strip().lower()
    artifact = (artifact or "").strip().lower()
    query = (query or "").strip().lower()
    if not (group or artifact or query):
        raise BadRequest("At least one of 'g', 'a' and 'q' is required")
    prefix = re.split(r"[*?]", group)[0] if group else ""
    if group and prefix == group:
        prefix += ":"  # an exact group id
    key = SystemId.coordinate_lower.startswith(prefix) if prefix else None
    matched: dict[tuple[str, str, str], set[str]] = {}
    for row in SystemId.public_index.query(PUBLIC_SHARD, range_key_condition=key):
        g, _, a = row.coordinate_lower.partition(":")
        if group and not fnmatch.fnmatchcase(g, group):
            continue
        if artifact and not fnmatch.fnmatchcase(a, artifact):
            continue
        if query and not (fnmatch.fnmatchcase(g, query) or fnmatch.fnmatchcase(a, query)):
            continue
        if (subject and row.owner != subject) or (repo and row.repo != repo):
            continue
        matched.setdefault((row.repo_id, row.package, row.package_id), set()).add(
            f"{row.group_id}:{row.artifact_id}"
        )
    results = []
    for (repo_id, name, package_id), coordinates in db.page(iter(matched.items()), start_pos, size):
        try:
            package = Package.get(repo_id, name)
        except DoesNotExist:
            continue
        if package.id != package_id:
            continue
        results.append(
            {
                "name": package.name,
                "repo": package.repo,
                "owner": package.owner,
                "desc": package.desc or "",
                "system_ids": sorted(coordinates),
                "versions": version_names(package),
                "latest_version": package.latest_version,
            }
        )
    return results
