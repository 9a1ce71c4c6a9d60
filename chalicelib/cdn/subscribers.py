"""Reactions of the CDN domain to lifecycle events (queued: S3 copies and invalidations take time, and
each reaction reads the current state, so a redelivery or a late delivery changes nothing wrong)."""

from __future__ import annotations

from chalicelib.cdn import copies
from chalicelib.events import (
    DownloadPathChanged,
    FileDeleted,
    FileStored,
    RepositoryAccessChanged,
    VersionPublished,
)


def version_published(event: VersionPublished) -> None:
    repo = copies.current_repository(event.owner, event.repo, event.repo_id)
    if repo is not None:
        copies.publish_copies(repo, event.files)


def file_stored(event: FileStored) -> None:
    """An override replaces the file's copy, or removes it while the new content is unpublished (a new
    file has no copy before it is published)."""
    if event.replaced_size is None:
        return
    repo = copies.current_repository(event.owner, event.repo, event.repo_id)
    if repo is None or not copies.publish_copies(repo, [event.path], replaced=True):
        copies.remove_copy(event.owner, event.repo, event.path)


def file_deleted(event: FileDeleted) -> None:
    copies.remove_copy(event.owner, event.repo, event.path)


def access_changed(event: RepositoryAccessChanged) -> None:
    copies.sync_repository(event.owner, event.repo, event.repo_id)


def download_path_changed(event: DownloadPathChanged) -> None:
    repo = copies.current_repository(event.owner, event.repo, event.repo_id)
    if event.key is None or not copies.servable(repo):
        copies.remove_copy(event.owner, event.repo, event.path)
    else:
        assert repo is not None
        copies.put_object_copy(repo, event.path, event.key)
