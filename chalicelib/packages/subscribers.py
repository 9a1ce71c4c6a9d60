"""Reactions of the packages domain to other domains' events."""

from __future__ import annotations

from chalicelib.events import RepositoryDeleted
from chalicelib.packages.services import purge_repository_contents


def repository_deleted(event: RepositoryDeleted) -> None:
    """Delete every package of the deleted repository (each publishes PackageDeleted)."""
    purge_repository_contents(event.repo_id)
