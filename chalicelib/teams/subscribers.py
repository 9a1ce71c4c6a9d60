"""Reactions of the teams domain to other domains' events."""

from __future__ import annotations

from chalicelib.events import MemberRemoved, RepositoryDeleted, SubjectDeleted
from chalicelib.teams.services import drop_member, drop_user, forget_repository, purge_subject


def repository_deleted(event: RepositoryDeleted) -> None:
    """The teams that had a permission on the repository lose it from their ``permitted_repos``."""
    forget_repository(event.owner, event.repo, event.teams)


def subject_deleted(event: SubjectDeleted) -> None:
    """A deleted user leaves every team (their own teams go); a deleted organisation's teams go."""
    if event.kind_of_subject == "user":
        drop_user(event.name)
    else:
        purge_subject(event.name)


def member_removed(event: MemberRemoved) -> None:
    """A member leaving an organisation leaves its teams."""
    drop_member(event.org, event.user)
