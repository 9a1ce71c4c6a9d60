"""Reactions of the usage-thresholds domain to other domains' events (in-request: a deleted scope's
threshold is gone when the caller reads again)."""

from __future__ import annotations

from chalicelib.events import RepositoryDeleted, SubjectDeleted
from chalicelib.thresholds.models import scope_key
from chalicelib.thresholds.services import delete_all


def repository_deleted(event: RepositoryDeleted) -> None:
    delete_all(event.owner, scope_key("repo", event.repo_id))


def subject_deleted(event: SubjectDeleted) -> None:
    if event.kind_of_subject == "org":
        delete_all(event.name)
