"""Reactions of the repositories domain to other domains' events."""

from __future__ import annotations

from chalicelib.events import SubjectDeleted
from chalicelib.repositories.services import delete_all_repositories


def subject_deleted(event: SubjectDeleted) -> None:
    """Delete every repository of the deleted subject (each publishes its own RepositoryDeleted)."""
    delete_all_repositories(event.name)
