"""Readme and release-notes services: bodies, storage (as given), the spec's response shapes, cascades."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError

from chalicelib import db
from chalicelib.docs_meta.models import BINTRAY, GITHUB, README, RELEASE_NOTES, DocsMeta, version_kind
from chalicelib.errors import BadRequest, NotFound
from chalicelib.packages.models import Package, Version
from chalicelib.timefmt import now
from chalicelib.validation import MARKDOWN, Body, Field, Flag, Syntax, needs_one_of, syntax_name

#: Content is stored inline: at most 64 Ki characters keeps an item far below DynamoDB's 400 KB.
MAX_CONTENT = 65536
GITHUB_REPO_PATTERN = r"^[\w.-]+/[\w.-]+$"


class BintrayContent(Body):
    """``{"syntax": "MARKDOWN"|"ASCIIDOC"|"PLAIN_TEXT" (any case), "content": "..."}`` (default MARKDOWN)."""

    syntax: Syntax = MARKDOWN
    content: str = Field(max_length=MAX_CONTENT)


class ReadmeGithub(Body):
    github_repo: str = Field(max_length=256, pattern=GITHUB_REPO_PATTERN)


class ReadmeBody(Body):
    """``POST /packages/{subject}/{repo}/{package}/readme``."""

    model_config = needs_one_of("bintray", "github", exactly=True)
    bintray: BintrayContent | None = None
    github: ReadmeGithub | None = None


class PackageNotesGithub(Body):
    github_repo: str | None = Field(default=None, max_length=256, pattern=GITHUB_REPO_PATTERN)
    github_release_notes_file: str = Field(min_length=1, max_length=1024)


class PackageNotesBody(Body):
    """``POST /packages/{subject}/{repo}/{package}/release_notes``."""

    model_config = needs_one_of("bintray", "github", exactly=True)
    bintray: BintrayContent | None = None
    github: PackageNotesGithub | None = None


class VersionNotesGithub(Body):
    github_release_notes_file: str | None = Field(default=None, min_length=1, max_length=1024)
    #: The spec shows the string ``"true"``; a JSON boolean is accepted as well.
    use_release: Flag | None = None


class VersionNotesBody(Body):
    """``POST /packages/{subject}/{repo}/{package}/versions/{version}/release_notes``."""

    model_config = needs_one_of("bintray", "github", exactly=True)
    bintray: BintrayContent | None = None
    github: VersionNotesGithub | None = None


def _one_source(body: ReadmeBody | PackageNotesBody | VersionNotesBody) -> None:
    if (body.bintray is None) == (body.github is None):
        raise BadRequest("Exactly one of 'bintray' and 'github' is required")


def _bintray_item(package: Package, kind: str, content: BintrayContent) -> DocsMeta:
    return DocsMeta(
        package.id, kind, source=BINTRAY, syntax=content.syntax, content=content.content, updated=now()
    )


# --- reading and shaping ---------------------------------------------------------------------------


def _get(package: Package, kind: str) -> DocsMeta | None:
    try:
        return DocsMeta.get(package.id, kind)
    except DoesNotExist:
        return None


def _head(package: Package) -> dict[str, Any]:
    return {"package": package.name, "repo": package.repo, "owner": package.owner}


def _source(item: DocsMeta, for_version: bool = False) -> dict[str, Any]:
    if item.source == BINTRAY:
        return {"bintray": {"syntax": syntax_name(item.syntax), "content": item.content or ""}}
    github: dict[str, Any] = {}
    if item.github_repo and not for_version:
        github["github_repo"] = item.github_repo
    if item.github_release_notes_file:
        github["github_release_notes_file"] = item.github_release_notes_file
    if item.use_release:
        github["use_release"] = "true"
    return {"github": github}


def get_readme(package: Package) -> dict[str, Any]:
    """The spec's Get Readme shape, or 404."""
    item = _get(package, README)
    if item is None:
        raise NotFound(f"Package '{package.name}' has no readme")
    return _head(package) | _source(item)


def get_package_notes(package: Package) -> dict[str, Any]:
    """The spec's Get Package's Release Notes shape, or 404."""
    item = _get(package, RELEASE_NOTES)
    if item is None:
        raise NotFound(f"Package '{package.name}' has no release notes")
    return _head(package) | _source(item)


def get_version_notes(package: Package, version: Version) -> dict[str, Any]:
    """The version's release notes; else the package's (they apply to all versions); else 404."""
    item = _get(package, version_kind(version.name)) or _get(package, RELEASE_NOTES)
    if item is None:
        raise NotFound(f"Version '{version.name}' has no release notes")
    return {"version": version.name} | _head(package) | _source(item, for_version=True)


# --- writing ---------------------------------------------------------------------------------------


def _save(item: DocsMeta, package: Package, version: Version | None = None) -> None:
    """Save ``item`` while its package (and version) still exist, so a cascade cannot miss it."""
    for attempt in range(db.TRANSACTION_ATTEMPTS):
        try:
            with db.transaction() as tx:
                tx.condition_check(Package, package.repo_id, package.name, condition=Package.id == package.id)
                if version is not None:
                    tx.condition_check(
                        Version, package.id, version.name, condition=Version.ordinal == version.ordinal
                    )
                tx.save(item)
        except TransactWriteError as error:
            if db.cancelled_by_condition(error, 0):
                raise NotFound(f"Package '{package.name}' was not found") from None
            if version is not None and db.cancelled_by_condition(error, 1):
                raise NotFound(f"Version '{version.name}' was not found") from None
            if db.transaction_conflict(error) and attempt + 1 < db.TRANSACTION_ATTEMPTS:
                db.backoff(attempt)
                continue
            raise
        return


def set_readme(package: Package, body: ReadmeBody) -> dict[str, Any]:
    """Create (or replace) the package's readme, stored as given."""
    _one_source(body)
    if body.bintray is not None:
        item = _bintray_item(package, README, body.bintray)
    else:
        assert body.github is not None
        item = DocsMeta(package.id, README, source=GITHUB, github_repo=body.github.github_repo, updated=now())
    _save(item, package)
    return _head(package) | _source(item)


def set_package_notes(package: Package, body: PackageNotesBody) -> dict[str, Any]:
    """Create (or replace) the package's release notes; a GitHub file needs a GitHub repository
    (given in the body, or the package's ``github_repo``)."""
    _one_source(body)
    if body.bintray is not None:
        item = _bintray_item(package, RELEASE_NOTES, body.bintray)
    else:
        assert body.github is not None
        github_repo = body.github.github_repo or package.github_repo
        if not github_repo:
            raise BadRequest(
                "Missing required field 'github.github_repo': the package has no GitHub repository "
                "(set 'github_repo' here or on the package)"
            )
        item = DocsMeta(
            package.id,
            RELEASE_NOTES,
            source=GITHUB,
            github_repo=github_repo,
            github_release_notes_file=body.github.github_release_notes_file,
            updated=now(),
        )
    _save(item, package)
    return _head(package) | _source(item)


def set_version_notes(package: Package, version: Version, body: VersionNotesBody) -> dict[str, Any]:
    """Create (or replace) a version's release notes.

    GitHub: either ``github_release_notes_file`` (the package needs its ``github_repo``) or
    ``use_release`` (the version needs its ``vcs_tag``).
    """
    _one_source(body)
    kind = version_kind(version.name)
    if body.bintray is not None:
        item = _bintray_item(package, kind, body.bintray)
    else:
        assert body.github is not None
        notes_file = body.github.github_release_notes_file
        use_release = bool(body.github.use_release)
        if bool(notes_file) == use_release:
            raise BadRequest(
                "Exactly one of 'github.github_release_notes_file' and 'github.use_release' is required"
            )
        if use_release and not version.vcs_tag:
            raise BadRequest(
                f"Version '{version.name}' has no 'vcs_tag': set it (update version) before using "
                "'use_release'"
            )
        if notes_file and not package.github_repo:
            raise BadRequest(
                f"Package '{package.name}' has no 'github_repo': set it (update package) before using "
                "a GitHub release notes file"
            )
        item = DocsMeta(
            package.id,
            kind,
            source=GITHUB,
            github_repo=package.github_repo if notes_file else None,
            github_release_notes_file=notes_file,
            use_release=True if use_release else None,
            updated=now(),
        )
    _save(item, package, version)
    return {"version": version.name} | _head(package) | _source(item, for_version=True)


def _delete(package: Package, kind: str, what: str) -> None:
    try:
        DocsMeta(package.id, kind).delete(condition=DocsMeta.kind.exists())
    except DeleteError as error:
        if db.condition_failed(error):
            raise NotFound(f"Package '{package.name}' has no {what}") from None
        raise


def delete_readme(package: Package) -> None:
    _delete(package, README, "readme")


def delete_package_notes(package: Package) -> None:
    _delete(package, RELEASE_NOTES, "release notes")


# --- cascades --------------------------------------------------------------------------------------


def purge_package(package_id: str) -> None:
    """Remove the readme and every release notes of a deleted package (idempotent)."""
    db.batch_delete(DocsMeta.query(package_id))


def purge_version(package_id: str, version: str) -> None:
    """Remove a deleted version's release notes (idempotent)."""
    DocsMeta(package_id, version_kind(version)).delete()
