"""Reactions of the indexes domain (queued; idempotent: noting a change twice costs one more run)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.events import (
    FileDeleted,
    FileStored,
    RepositoryAccessChanged,
    RepositoryDeleted,
    VersionPublished,
)
from chalicelib.indexes import registry, services
from chalicelib.repositories.models import Repository


def files_changed(event: VersionPublished | FileDeleted | FileStored) -> None:
    """Published, deleted or overridden files: schedule the repository's index (if its type has one)."""
    if isinstance(event, VersionPublished):
        paths: tuple[str, ...] = event.files
    elif isinstance(event, FileStored):
        if event.replaced_size is None:
            return  # a new, unpublished file: its publish will count
        paths = (event.path,)
    else:
        paths = (event.path,)
    if not paths:
        return
    try:
        repo = Repository.get(event.owner, event.repo)
    except DoesNotExist:
        return
    if repo.id != event.repo_id or registry.calculator(repo.type) is None:
        return
    services.request(repo.id, repo.owner, repo.name, paths)


def repository_deleted(event: RepositoryDeleted) -> None:
    services.forget(event.repo_id)


def access_changed(event: RepositoryAccessChanged) -> None:
    """Who may download changed: announce the index files again (the CDN copies them when the
    repository may be served so, and has removed them otherwise)."""
    try:
        repo = Repository.get(event.owner, event.repo)
    except DoesNotExist:
        return
    if repo.id == event.repo_id and registry.calculator(repo.type) is not None:
        services.announce_all(repo)
