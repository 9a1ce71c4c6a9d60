"""Repository services: create, describe, update, delete (cascading), list, search."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError

from chalicelib import db, outbox, plans
from chalicelib.accounts.models import Subject
from chalicelib.auth.policy import readable
from chalicelib.auth.principal import Principal
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.events import RepositoryDeleted
from chalicelib.repositories.models import PUBLIC_SHARD, REPO_TYPES, Repository
from chalicelib.teams.models import map_dict
from chalicelib.timefmt import iso, now
from chalicelib.validation import Body, Field, Flag, model_validator, repo_name

RepoType = Literal[REPO_TYPES]  # type: ignore[valid-type]
Label = str


class RepoSettings(Body):
    """Fields shared by create and update."""

    business_unit: str | None = Field(default=None, max_length=128)
    desc: str | None = Field(default=None, max_length=4000)
    labels: list[Label] | None = Field(default=None, max_length=50)
    gpg_sign_metadata: Flag | None = None
    gpg_sign_files: Flag | None = None
    gpg_use_owner_key: Flag | None = None
    version_update_max_days: int | None = Field(default=None, ge=0, le=36500)
    default_debian_architecture: str | None = Field(default=None, max_length=64)
    default_debian_distribution: str | None = Field(default=None, max_length=64)
    default_debian_component: str | None = Field(default=None, max_length=64)
    yum_metadata_depth: int | None = Field(default=None, ge=0, le=32)
    yum_groups_file: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _gpg_flags_exclusive(self) -> RepoSettings:
        if self.gpg_use_owner_key and (self.gpg_sign_files or self.gpg_sign_metadata):
            raise ValueError(
                "'gpg_use_owner_key' cannot be true together with 'gpg_sign_files' or 'gpg_sign_metadata'"
            )
        return self


class CreateRepoBody(RepoSettings):
    """``POST /repos/{subject}/{repo}``."""

    name: str | None = None
    type: RepoType = "generic"
    private: Flag = False


class UpdateRepoBody(RepoSettings):
    """``PATCH /repos/{subject}/{repo}``."""


DEBIAN_FIELDS = ("default_debian_architecture", "default_debian_distribution", "default_debian_component")
RPM_FIELDS = ("yum_metadata_depth", "yum_groups_file")


def _has_gpg_key(subject: str) -> bool:
    from chalicelib.gpg.models import GpgKey

    try:
        GpgKey.get(subject)
    except DoesNotExist:
        return False
    return True


def _check_settings(owner: Subject, repo_type: str, body: RepoSettings) -> None:
    given = body.model_fields_set
    if "version_update_max_days" in given and body.version_update_max_days is not None:
        plans.require(owner, "version_update_max_days")
    for fields, only_for in ((DEBIAN_FIELDS, "debian"), (RPM_FIELDS, "rpm")):
        misplaced = [f for f in fields if getattr(body, f) is not None]
        if repo_type != only_for and misplaced:
            raise BadRequest(
                f"Invalid value for '{misplaced[0]}': it applies to {only_for} repositories only"
            )
    if body.gpg_use_owner_key and not _has_gpg_key(owner.name):
        raise BadRequest("'gpg_use_owner_key' needs a GPG key pair on the owner's profile, and it has none")
    for label in body.labels or []:
        if not isinstance(label, str) or not label.strip() or len(label) > 64:
            raise BadRequest(
                "Invalid value for 'labels': each label is a non-empty string of at most 64 chars"
            )


def create_repository(owner: Subject, name: str, body: CreateRepoBody) -> Repository:
    """Create repository ``name`` of ``owner``; 409 when the name is taken."""
    repo_name(name)
    if body.name is not None and body.name != name:
        raise BadRequest(f"Invalid value for 'name': {body.name!r} does not match the path ({name!r})")
    _check_settings(owner, body.type, body)
    created = now()
    repo = Repository(
        owner.name,
        name,
        id=uuid.uuid4().hex,
        type=body.type,
        private=body.private,
        business_unit=body.business_unit,
        desc=body.desc,
        desc_lower=body.desc.lower() if body.desc else None,
        labels=body.labels or [],
        created=created,
        updated=created,
        package_count=0,
        gpg_sign_metadata=bool(body.gpg_sign_metadata),
        gpg_sign_files=bool(body.gpg_sign_files),
        gpg_use_owner_key=bool(body.gpg_use_owner_key),
        version_update_max_days=body.version_update_max_days,
        name_lower=name.lower(),
        search_shard=None if body.private else PUBLIC_SHARD,
    )
    if body.type == "debian":
        repo.default_debian_architecture = body.default_debian_architecture
        repo.default_debian_distribution = body.default_debian_distribution
        repo.default_debian_component = body.default_debian_component or "main"
    if body.type == "rpm":
        repo.yum_metadata_depth = body.yum_metadata_depth if body.yum_metadata_depth is not None else 0
        repo.yum_groups_file = body.yum_groups_file
    try:
        repo.save(condition=Repository.name.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            raise Conflict(f"Repo '{name}' already exists") from None
        raise
    return repo


def update_repository(owner: Subject, repo: Repository, body: UpdateRepoBody) -> Repository:
    """Apply the fields present in ``body`` to ``repo``."""
    _check_settings(owner, repo.type, body)
    given = body.model_fields_set
    actions = [Repository.updated.set(now())]
    for field in (
        "business_unit",
        "gpg_sign_metadata",
        "gpg_sign_files",
        "gpg_use_owner_key",
        "version_update_max_days",
        *DEBIAN_FIELDS,
        *RPM_FIELDS,
    ):
        if field in given:
            value = getattr(body, field)
            attr = getattr(Repository, field)
            actions.append(attr.set(value) if value is not None else attr.remove())
    if "desc" in given:
        if body.desc:
            actions += [Repository.desc.set(body.desc), Repository.desc_lower.set(body.desc.lower())]
        else:
            actions += [Repository.desc.remove(), Repository.desc_lower.remove()]
    if "labels" in given:
        actions.append(Repository.labels.set(body.labels or []))
    try:
        repo.update(actions=actions, condition=Repository.id == repo.id)
    except UpdateError as error:
        if db.condition_failed(error):
            raise NotFound(f"Repo '{repo.name}' was not found") from None
        raise
    return repo


def delete_repository(repo: Repository) -> None:
    """Delete ``repo`` and everything in it. The repository disappears first, so nothing new can
    land in it (children are written under a condition on the repository's id); its children
    (team permissions, links, packages) are purged after, idempotently, by the subscribers of
    ``RepositoryDeleted``."""
    teams = tuple(sorted(map_dict(repo.team_permissions)))
    deleted = RepositoryDeleted(owner=repo.owner, repo=repo.name, repo_id=repo.id, teams=teams)
    pending = outbox.entry(f"repo#{repo.id}", deleted)  # a failure half-way: the sweep finishes

    def write(tx: Any) -> None:
        tx.delete(repo, condition=Repository.id == repo.id)
        tx.save(pending)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise NotFound(f"Repo '{repo.name}' was not found") from None
        raise
    outbox.release(pending)


def delete_all_repositories(owner: str) -> None:
    """Delete every repository of ``owner`` (used when a subject is deleted)."""
    for repo in Repository.query(owner):
        delete_repository(repo)


def visible_repositories(principal: Principal, subject: Subject) -> list[Repository]:
    """Repositories of ``subject`` that ``principal`` may see (private ones need read rights)."""
    return readable(principal, subject.name, list(Repository.query(subject.name)))


def owners_of(repos: list[Repository]) -> dict[str, Subject]:
    """The owners of ``repos`` by name (one batch read)."""
    return {subject.name: subject for subject in Subject.batch_get({repo.owner for repo in repos})}


def describe(repo: Repository, owner: Subject) -> dict[str, Any]:
    """The spec's Get Repository shape."""
    body: dict[str, Any] = {
        "name": repo.name,
        "owner": repo.owner,
        "type": repo.type,
        "private": bool(repo.private),
        "premium": owner.premium,
        "desc": repo.desc or "",
        "labels": list(repo.labels or []),
        "created": iso(repo.created),
        "package_count": int(repo.package_count or 0),
        "gpg_sign_metadata": bool(repo.gpg_sign_metadata),
        "gpg_sign_files": bool(repo.gpg_sign_files),
        "gpg_use_owner_key": bool(repo.gpg_use_owner_key),
    }
    if repo.business_unit:
        body["business_unit"] = repo.business_unit
    if repo.version_update_max_days is not None:
        body["version_update_max_days"] = int(repo.version_update_max_days)
    if repo.type == "debian":
        for field in DEBIAN_FIELDS:
            body[field] = getattr(repo, field)
    if repo.type == "rpm":
        body["yum_metadata_depth"] = int(repo.yum_metadata_depth or 0)
        body["yum_groups_file"] = repo.yum_groups_file
    return body


def search(name: str | None, desc: str | None, start_pos: int, size: int) -> list[Repository]:
    """Public repositories whose name starts with ``name`` and whose description contains ``desc``
    (both case-insensitive). Served by the sparse ``public_index``: private ones are never read."""
    name = (name or "").strip().lower()
    desc = (desc or "").strip().lower()
    if not name and not desc:
        raise BadRequest("At least one of the 'name' and 'desc' query parameters is required")
    key_condition = Repository.name_lower.startswith(name) if name else None
    filter_condition = Repository.desc_lower.contains(desc) if desc else None
    results = Repository.public_index.query(
        PUBLIC_SHARD, range_key_condition=key_condition, filter_condition=filter_condition
    )
    return db.page(iter(results), start_pos, size)
