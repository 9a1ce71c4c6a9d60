"""Team services: teams of organisations and users, their permissions on repositories, cascades.

Two pairs of records describe the same facts and change together, in one transaction per change:
``Team.members`` / ``TeamMembership.teams`` and ``Team.permitted_repos`` /
``Repository.team_permissions``. The policy reads only ``TeamMembership`` and the repository, so a
right exists exactly when the team lists it. A change touching more records than one transaction
holds (``TRANSACTION_ITEMS``) runs as several transactions, each keeping both sides equal.

Example::

    team = create_team(org, CreateTeamBody(name="devs", members=["alice"]))
    set_permission(org, repo, PermissionBody(team="devs", permission="publish"))
    describe(get_team(org.name, "devs"))["permitted_repos"]   # {"tools": "publish"}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import db, plans
from chalicelib.accounts.models import USER, Membership, Subject
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository
from chalicelib.teams.models import PERMISSIONS, Team, TeamMembership, map_dict
from chalicelib.timefmt import now
from chalicelib.validation import REPO_NAME, SUBJECT_NAME, Body, Field, Flag, check_name

#: Items per transaction: moto (the local AWS) accepts 25, DynamoDB 100.
TRANSACTION_ITEMS = 25
#: Teams with a permission on one repository: deleting the repository updates them all in the
#: transaction that deletes it.
MAX_TEAMS_PER_REPO = TRANSACTION_ITEMS - 1
MAX_MEMBERS = 500

Permission = Literal["read", "publish", "admin"]


@dataclass(frozen=True)
class Op:
    """One write of a transaction: ``TransactWrite.<kind>(item, **args)``."""

    kind: str  # "save", "update", "delete"
    item: Model
    args: dict[str, Any]


def _update(item: Model, actions: list[Any], condition: Any = None) -> Op:
    return Op("update", item, {"actions": actions, "condition": condition})


def _delete(item: Model, condition: Any = None) -> Op:
    return Op("delete", item, {"condition": condition})


class CreateTeamBody(Body):
    """``POST /orgs/{org}/teams``, ``POST /users/{user}/teams``."""

    name: str = Field(max_length=64)
    members: list[str] = Field(default_factory=list, max_length=MAX_MEMBERS)
    allow_repo_creation: Flag = False
    business_unit: str | None = Field(default=None, max_length=128)


class UpdateTeamBody(Body):
    """``PATCH /orgs/{org}/teams/{team}``, ``PATCH /users/{user}/teams/{team}``."""

    members: list[str] | None = Field(default=None, max_length=MAX_MEMBERS)
    allow_repo_creation: Flag | None = None
    business_unit: str | None = Field(default=None, max_length=128)


class PermissionBody(Body):
    """``PUT /repos/{subject}/{repo}/permissions``."""

    team: str = Field(max_length=64)
    permission: Permission


# --- transactions -----------------------------------------------------------------------------


def _transact(ops: list[Op]) -> int | None:
    """Run ``ops`` in one transaction (retried when DynamoDB reports a conflict). Returns None, or
    the index of the first write whose condition failed (then nothing was written)."""

    def write(tx: TransactWrite) -> None:
        for op in ops:
            getattr(tx, op.kind)(op.item, **op.args)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        failed = next((i for i in range(len(ops)) if db.cancelled_by_condition(error, i)), None)
        if failed is not None:
            return failed
        raise
    return None


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _membership_op(subject: str, member: str, team: str, add: bool) -> Op:
    change = TeamMembership.teams.add({team}) if add else TeamMembership.teams.delete({team})
    return _update(TeamMembership(subject, member), [change])


def _team_exists() -> Any:
    return Team.name.exists()


# --- owners and lookups -----------------------------------------------------------------------


def team_owner(subject: Subject | None, kind: str, team: str | None = None) -> Subject:
    """The subject of a ``/orgs/{org}/teams`` (kind ``org``) or ``/users/{user}/teams`` route:
    404 when it is not of that kind, or (``team`` given) when it has no such team, then the plan
    check (400 unless its plan includes teams)."""
    if subject is None or subject.kind != kind:
        what = "User" if kind == USER else "Organization"
        raise NotFound(f"{what} '{subject.name if subject else ''}' was not found")
    plans.require(subject, "teams", exists=(lambda: get_team(subject.name, team)) if team else None)
    return subject


def require_teams_plan(
    subject: Subject | None, team: str | None = None, repo: Repository | None = None
) -> None:
    """The plan check of team permissions of a repository of ``subject`` (400 unless it may have
    teams); a named ``team`` that does not exist (with ``repo``: that has no permission there) is a
    404 first."""
    assert subject is not None

    def exists() -> object:
        return get_permission(repo, team) if repo is not None else get_team(subject.name, team or "")

    plans.require(subject, "team_permissions", exists=exists if team is not None else None)


def team_names(subject: str) -> list[str]:
    """Names of the teams of ``subject`` (one Query, names only)."""
    return [team.name for team in Team.query(subject, attributes_to_get=["name"])]


def get_team(subject: str, name: str, consistent: bool = False) -> Team:
    """Team ``name`` of ``subject`` or a 404."""
    if not _valid_team_name(name):
        raise NotFound(f"Team '{name}' was not found")
    return db.get_or_404(
        Team, subject, name, consistent_read=consistent, missing=f"Team '{name}' was not found"
    )


def _valid_team_name(name: str) -> bool:
    return bool(REPO_NAME.fullmatch(name)) and ".." not in name


def describe(team: Team) -> dict[str, Any]:
    """The spec's team shape (Get, Create and Update Team)."""
    return {
        "name": team.name,
        "owner": team.subject,
        "members": sorted(team.members or ()),
        "permitted_repos": dict(sorted(map_dict(team.permitted_repos).items())),
        "allow_repo_creation": bool(team.allow_repo_creation),
        "business_unit": team.business_unit,
    }


def _check_members(owner: Subject, names: list[str]) -> list[str]:
    """The distinct members, each a member of the organisation (or an existing user); else 400."""
    members = sorted(set(names))
    if not members:
        return []
    invalid = [name for name in members if not SUBJECT_NAME.fullmatch(name)]
    if invalid:
        raise BadRequest(f"Invalid value for 'members': {invalid[0][:70]!r} is not a valid user name")
    if owner.is_org:
        found = {m.member for m in Membership.batch_get([(owner.name, name) for name in members])}
        missing = [name for name in members if name not in found]
        if missing:
            raise BadRequest(
                f"Invalid value for 'members': {', '.join(repr(n) for n in missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not a member of organization '{owner.name}'"
            )
    else:
        found = {s.name for s in Subject.batch_get(members) if s.kind == USER}
        missing = [name for name in members if name not in found]
        if missing:
            raise BadRequest(
                f"Invalid value for 'members': user{'' if len(missing) == 1 else 's'} "
                f"{', '.join(repr(n) for n in missing)} not found"
            )
    return members


def _check_business_unit(owner: Subject, business_unit: str | None, allow_repo_creation: bool) -> None:
    if not business_unit:
        return
    plans.require(owner, "business_unit")
    if not allow_repo_creation:
        raise BadRequest(
            "Invalid value for 'business_unit': a business unit can only be associated with a team "
            "whose members are allowed to create repositories ('allow_repo_creation': true)"
        )


# --- teams ------------------------------------------------------------------------------------


def create_team(owner: Subject, body: CreateTeamBody) -> Team:
    """Create team ``body.name`` of ``owner``; 409 when the name is taken."""
    check_name("team", body.name, REPO_NAME)
    members = _check_members(owner, body.members)
    business_unit = body.business_unit or None
    _check_business_unit(owner, business_unit, body.allow_repo_creation)
    first, rest = members[: TRANSACTION_ITEMS - 1], members[TRANSACTION_ITEMS - 1 :]
    team = Team(
        owner.name,
        body.name,
        members=set(first) or None,
        permitted_repos={},
        allow_repo_creation=body.allow_repo_creation,
        business_unit=business_unit,
        created=now(),
        version=0,
    )
    ops = [Op("save", team, {"condition": Team.name.does_not_exist()})]
    ops += [_membership_op(owner.name, member, body.name, add=True) for member in first]
    if _transact(ops) == 0:
        raise Conflict(f"Team '{body.name}' already exists")
    if rest:
        _change_members(team, add=rest, remove=[])
    team.members = set(members) or None
    return team


def _change_members(team: Team, add: list[str], remove: list[str]) -> None:
    """Add and remove members of ``team``, a transaction per ``TRANSACTION_ITEMS - 1`` of them, each
    updating the team and the members' ``TeamMembership`` rows together. 404 if the team is gone."""
    changes = [(name, True) for name in add] + [(name, False) for name in remove]
    for start in range(0, len(changes), TRANSACTION_ITEMS - 1):
        chunk = changes[start : start + TRANSACTION_ITEMS - 1]
        added = {name for name, adding in chunk if adding}
        removed = {name for name, adding in chunk if not adding}
        team_actions = [Team.version.add(1)]
        if added:
            team_actions.append(Team.members.add(added))
        if removed:
            team_actions.append(Team.members.delete(removed))
        ops = [_update(Team(team.subject, team.name), team_actions, _team_exists())]
        ops += [_membership_op(team.subject, name, team.name, adding) for name, adding in chunk]
        if _transact(ops) == 0:
            raise NotFound(f"Team '{team.name}' was not found")


def update_team(owner: Subject, name: str, body: UpdateTeamBody) -> Team:
    """Apply the fields present in ``body`` to team ``name`` of ``owner``."""
    given = body.model_fields_set
    for attempt in range(db.TRANSACTION_ATTEMPTS):
        team = get_team(owner.name, name, consistent=True)
        allow = team.allow_repo_creation if body.allow_repo_creation is None else body.allow_repo_creation
        business_unit = (body.business_unit or None) if "business_unit" in given else team.business_unit
        if "business_unit" in given or "allow_repo_creation" in given:
            _check_business_unit(owner, business_unit, bool(allow))
        members = _check_members(owner, body.members) if body.members is not None else None
        actions = [Team.version.add(1), Team.allow_repo_creation.set(bool(allow))]
        actions.append(
            Team.business_unit.set(business_unit) if business_unit else Team.business_unit.remove()
        )
        # The settings change only if the team is still the one read (its members are then diffed).
        condition = Team.version == (team.version or 0)
        if _transact([_update(Team(owner.name, name), actions, condition)]) is None:
            break
        if attempt + 1 == db.TRANSACTION_ATTEMPTS:
            raise Conflict(f"Team '{name}' is being changed by another request; try again")
    if members is not None:
        current = set(team.members or ())
        _change_members(team, add=sorted(set(members) - current), remove=sorted(current - set(members)))
    return get_team(owner.name, name, consistent=True)


def delete_team(owner: Subject, name: str) -> None:
    """Delete team ``name`` of ``owner`` with its memberships and repository permissions.

    The team goes last, in the transaction that removes its last references, under a condition on
    its version: a member or permission added meanwhile makes it start over, so no right outlives
    the team (a re-created team of the same name starts with none)."""
    for _ in range(100):
        team = get_team(owner.name, name, consistent=True)
        refs = [("member", m) for m in sorted(team.members or ())]
        refs += [("repo", r) for r in sorted(map_dict(team.permitted_repos))]
        chunk, final = refs[: TRANSACTION_ITEMS - 1], len(refs) < TRANSACTION_ITEMS
        record = Team(owner.name, name)
        same = Team.version == (team.version or 0)
        if final:
            ops = [_delete(record, same)]
        else:
            team_actions = [Team.version.add(1)]
            members = {value for kind, value in chunk if kind == "member"}
            if members:
                team_actions.append(Team.members.delete(members))
            team_actions += [Team.permitted_repos[value].remove() for kind, value in chunk if kind == "repo"]
            ops = [_update(record, team_actions, same)]
        for kind, value in chunk:
            if kind == "member":
                ops.append(_membership_op(owner.name, value, name, add=False))
            else:
                ops.append(_repo_permission_op(owner.name, value, name, None))
        failed = _transact(ops)
        if failed is None and final:
            return
        if failed is not None and failed > 0:
            # A permitted repository no longer exists: forget it on the team, then start over.
            _forget_repo(record, chunk[failed - 1][1])
    raise Conflict(f"Team '{name}' is being changed by other requests; try again")


def _forget_repo(team: Team, repo: str) -> None:
    team.update(actions=[Team.version.add(1), Team.permitted_repos[repo].remove()], condition=_team_exists())


def _repo_permission_op(owner: str, repo: str, team: str, permission: str | None) -> Op:
    """Set (or remove, ``permission`` None) ``team``'s entry in ``Repository.team_permissions`` of
    an existing repository whose map exists."""
    path = Repository.team_permissions[team]
    change = path.set(permission) if permission else path.remove()
    return _update(Repository(owner, repo), [change], Repository.team_permissions.exists())


def _team_repo_op(owner: str, team: str, repo: str, permission: str | None) -> Op:
    """Set (or remove) ``repo``'s entry in ``Team.permitted_repos`` of an existing team."""
    path = Team.permitted_repos[repo]
    change = path.set(permission) if permission else path.remove()
    return _update(Team(owner, team), [Team.version.add(1), change], _team_exists())


# --- repository permissions -------------------------------------------------------------------


def list_permissions(repo: Repository) -> list[dict[str, str]]:
    """The spec's Get All Team Permissions shape."""
    return [
        {"team": team, "permission": permission}
        for team, permission in sorted(map_dict(repo.team_permissions).items())
    ]


def get_permission(repo: Repository, team: str) -> dict[str, str]:
    """The permission of ``team`` on ``repo`` or a 404."""
    permission = map_dict(repo.team_permissions).get(team)
    if permission is None:
        raise NotFound(f"Team '{team}' has no permission on repository '{repo.name}'")
    return {"team": team, "permission": permission}


def set_permission(repo: Repository, body: PermissionBody) -> None:
    """Give team ``body.team`` of the repository's owner ``body.permission`` on ``repo``."""
    assert body.permission in PERMISSIONS
    if not _valid_team_name(body.team):
        raise NotFound(f"Team '{body.team}' was not found")
    for _ in range(db.TRANSACTION_ATTEMPTS):
        current = map_dict(repo.team_permissions)
        if body.team not in current and len(current) >= MAX_TEAMS_PER_REPO:
            raise BadRequest(
                f"Repository '{repo.name}' already has permissions for {MAX_TEAMS_PER_REPO} teams, "
                "the most allowed"
            )
        if repo.team_permissions is None:
            repo_op = _update(
                Repository(repo.owner, repo.name),
                [Repository.team_permissions.set({body.team: body.permission})],
                (Repository.id == repo.id) & Repository.team_permissions.does_not_exist(),
            )
        else:
            repo_op = _update(
                Repository(repo.owner, repo.name),
                [Repository.team_permissions[body.team].set(body.permission)],
                (Repository.id == repo.id) & Repository.team_permissions.exists(),
            )
        failed = _transact([_team_repo_op(repo.owner, body.team, repo.name, body.permission), repo_op])
        if failed is None:
            return
        if failed == 0:
            raise NotFound(f"Team '{body.team}' was not found")
        repo = _reload(repo)
    raise Conflict(f"Repository '{repo.name}' is being changed by other requests; try again")


def _reload(repo: Repository) -> Repository:
    try:
        fresh = Repository.get(repo.owner, repo.name, consistent_read=True)
    except DoesNotExist:
        fresh = None
    if fresh is None or fresh.id != repo.id:
        raise NotFound(f"Repo '{repo.name}' was not found")
    return fresh


def delete_permission(repo: Repository, team: str) -> None:
    """Remove the permission of ``team`` on ``repo``; 404 when it has none."""
    get_permission(repo, team)
    missing = NotFound(f"Team '{team}' has no permission on repository '{repo.name}'")
    repo_op = _update(
        Repository(repo.owner, repo.name),
        [Repository.team_permissions[team].remove()],
        (Repository.id == repo.id) & Repository.team_permissions[team].exists(),
    )
    failed = _transact([repo_op, _team_repo_op(repo.owner, team, repo.name, None)])
    if failed == 0:
        raise missing
    # No such team any more (cannot happen while both sides agree): drop the repository's entry.
    if failed == 1 and _transact([repo_op]) is not None:
        raise missing


# --- cascades ---------------------------------------------------------------------------------


def forget_repository(owner: str, repo: str, teams: Iterable[str]) -> None:
    """Remove the deleted repository ``repo`` from the ``permitted_repos`` of ``teams`` (idempotent;
    teams gone meanwhile are skipped)."""
    pending = sorted(teams)
    for chunk in _chunks(pending, TRANSACTION_ITEMS):
        left = list(chunk)
        while left:
            failed = _transact([_team_repo_op(owner, team, repo, None) for team in left])
            if failed is None:
                break
            del left[failed]  # that team is gone already


def drop_member(subject: str, member: str) -> None:
    """Remove ``member`` from every team of ``subject`` (they left the organisation or were deleted)."""
    try:
        record = TeamMembership.get(subject, member, consistent_read=True)
    except DoesNotExist:
        return
    teams = sorted(record.teams or ())
    for chunk in _chunks(teams, TRANSACTION_ITEMS - 1):
        # The member's row loses the whole chunk, whatever happens to the teams' side.
        row_op = _update(TeamMembership(subject, member), [TeamMembership.teams.delete(set(chunk))])
        pending = list(chunk)
        while True:
            ops = [row_op]
            ops += [
                _update(
                    Team(subject, team), [Team.version.add(1), Team.members.delete({member})], _team_exists()
                )
                for team in pending
            ]
            failed = _transact(ops)
            if failed is None:
                break
            del pending[failed - 1]  # that team is gone already
    try:
        TeamMembership(subject, member).delete(condition=TeamMembership.teams.does_not_exist())
    except DeleteError as error:  # joined a team meanwhile: keep the row
        if not db.condition_failed(error):
            raise


def drop_user(name: str) -> None:
    """Before user ``name`` is deleted: out of every team, and their own teams gone."""
    for record in TeamMembership.member_index.query(name):
        drop_member(record.subject, name)
    purge_subject(name)


def purge_subject(subject: str) -> None:
    """Delete every team and team membership of ``subject`` (the subject is being deleted, its
    repositories already are)."""
    db.batch_delete(Team.query(subject))
    db.batch_delete(TeamMembership.query(subject))
