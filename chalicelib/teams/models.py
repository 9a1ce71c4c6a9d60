"""DynamoDB models of teams.

Access patterns (see docs/data-model.md):
- teams of a subject, a team by name: ``Team`` hash ``subject``, range ``name``
- the teams a caller belongs to in a subject (rights on a repository with team permissions, one
  GetItem): ``TeamMembership`` hash ``subject``, range ``member``
- the team memberships of a user (cleanup when the user is deleted): GSI ``member_index``

A repository's permissions live twice, kept equal by transactions: ``Team.permitted_repos``
(``{repo: permission}``, for Get Team) and ``Repository.team_permissions`` (``{team: permission}``,
read by the policy with the repository itself). Likewise ``Team.members`` and
``TeamMembership.teams``.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.db import table_meta

#: Team permissions on a repository, weakest first.
PERMISSIONS = ("read", "publish", "admin")


class Team(Model):
    """A team of ``subject`` (an organisation or a user)."""

    Meta = table_meta("teams")

    subject = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    #: User names (absent when the team has none: DynamoDB sets cannot be empty).
    members = UnicodeSetAttribute(null=True)
    #: ``{repository name: permission}``.
    permitted_repos = MapAttribute(default=dict)
    allow_repo_creation = BooleanAttribute(default=False)
    business_unit = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    #: Incremented by every change: a delete is conditional on the version it cleaned up.
    version = NumberAttribute(default=0)


class TeamMemberIndex(GlobalSecondaryIndex):
    """Subjects in whose teams a user is."""

    class Meta:
        index_name = "member_index"
        projection = KeysOnlyProjection()

    member = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute(range_key=True)


class TeamMembership(Model):
    """The teams of ``subject`` that user ``member`` belongs to."""

    Meta = table_meta("team_memberships")

    subject = UnicodeAttribute(hash_key=True)
    member = UnicodeAttribute(range_key=True)
    #: Team names (absent when none are left).
    teams = UnicodeSetAttribute(null=True)

    member_index = TeamMemberIndex()


def map_dict(value: object) -> dict[str, str]:
    """A raw ``MapAttribute`` value (or None) as a plain ``dict``."""
    if value is None:
        return {}
    if isinstance(value, MapAttribute):
        return {str(k): str(v) for k, v in value.as_dict().items()}
    return {str(k): str(v) for k, v in dict(value).items()}  # type: ignore[call-overload]


MODELS = (Team, TeamMembership)
