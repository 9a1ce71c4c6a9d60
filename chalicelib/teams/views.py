"""Routes of teams (organisations' and users') and of team permissions on repositories.

Every route needs admin rights on the subject (the spec: "caller must be an admin of the
organization"; others get 403 ``forbidden``) and a subject whose plan includes teams (else the plan
refusal of ``chalicelib/plans.py``, after the 404 of a named team that does not exist).
"""

from __future__ import annotations

from chalice import Response

from chalicelib.accounts.models import ORG, USER
from chalicelib.auth.policy import Need
from chalicelib.teams import services
from chalicelib.teams.services import CreateTeamBody, PermissionBody, UpdateTeamBody
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}


def _list(ctx: Ctx, kind: str) -> dict:
    owner = services.team_owner(ctx.subject, kind)
    return {"teams": services.team_names(owner.name)}


def _get(ctx: Ctx, kind: str, team: str) -> dict:
    owner = services.team_owner(ctx.subject, kind, team)
    return services.describe(services.get_team(owner.name, team))


def _create(ctx: Ctx, kind: str) -> Response:
    owner = services.team_owner(ctx.subject, kind)
    return created(services.describe(services.create_team(owner, parse_body(ctx.raw_body, CreateTeamBody))))


def _update(ctx: Ctx, kind: str, team: str) -> dict:
    owner = services.team_owner(ctx.subject, kind, team)
    body = parse_body(ctx.raw_body, UpdateTeamBody)
    return services.describe(services.update_team(owner, team, body))


def _delete(ctx: Ctx, kind: str, team: str) -> dict:
    services.delete_team(services.team_owner(ctx.subject, kind, team), team)
    return SUCCESS


# --- organisations' teams ---------------------------------------------------------------------


@api.route("/orgs/{org}/teams", ["GET"], Need.ADMIN, response=schemas.TEAMS)
def get_org_teams(ctx: Ctx, org: str) -> dict:
    return _list(ctx, ORG)


@api.route("/orgs/{org}/teams", ["POST"], Need.ADMIN, body=CreateTeamBody, response={201: schemas.TEAM})
def create_org_team(ctx: Ctx, org: str) -> Response:
    return _create(ctx, ORG)


@api.route("/orgs/{org}/teams/{team}", ["GET"], Need.ADMIN, response=schemas.TEAM)
def get_org_team(ctx: Ctx, org: str, team: str) -> dict:
    return _get(ctx, ORG, team)


@api.route("/orgs/{org}/teams/{team}", ["PATCH"], Need.ADMIN, body=UpdateTeamBody, response=schemas.TEAM)
def update_org_team(ctx: Ctx, org: str, team: str) -> dict:
    return _update(ctx, ORG, team)


@api.route("/orgs/{org}/teams/{team}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_org_team(ctx: Ctx, org: str, team: str) -> dict:
    return _delete(ctx, ORG, team)


# --- users' teams -----------------------------------------------------------------------------


@api.route("/users/{user}/teams", ["GET"], Need.ADMIN, response=schemas.TEAMS)
def get_user_teams(ctx: Ctx, user: str) -> dict:
    return _list(ctx, USER)


@api.route("/users/{user}/teams", ["POST"], Need.ADMIN, body=CreateTeamBody, response={201: schemas.TEAM})
def create_user_team(ctx: Ctx, user: str) -> Response:
    return _create(ctx, USER)


@api.route("/users/{user}/teams/{team}", ["GET"], Need.ADMIN, response=schemas.TEAM)
def get_user_team(ctx: Ctx, user: str, team: str) -> dict:
    return _get(ctx, USER, team)


@api.route("/users/{user}/teams/{team}", ["PATCH"], Need.ADMIN, body=UpdateTeamBody, response=schemas.TEAM)
def update_user_team(ctx: Ctx, user: str, team: str) -> dict:
    return _update(ctx, USER, team)


@api.route("/users/{user}/teams/{team}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_user_team(ctx: Ctx, user: str, team: str) -> dict:
    return _delete(ctx, USER, team)


# --- team permissions on a repository ---------------------------------------------------------


@api.route(
    "/repos/{subject}/{repo}/permissions",
    ["GET"],
    Need.ADMIN,
    response=schemas.array(schemas.TEAM_PERMISSION),
)
def get_team_permissions(ctx: Ctx, subject: str, repo: str) -> list[dict]:
    assert ctx.repo is not None
    services.require_teams_plan(ctx.subject)
    return services.list_permissions(ctx.repo)


@api.route(
    "/repos/{subject}/{repo}/permissions",
    ["PUT"],
    Need.ADMIN,
    body=PermissionBody,
    response=schemas.MESSAGE,
)
def set_team_permission(ctx: Ctx, subject: str, repo: str) -> dict:
    assert ctx.repo is not None
    body = parse_body(ctx.raw_body, PermissionBody)
    services.require_teams_plan(ctx.subject, body.team)
    services.set_permission(ctx.repo, body)
    return SUCCESS


@api.route(
    "/repos/{subject}/{repo}/permissions/{team}",
    ["GET"],
    Need.ADMIN,
    response=schemas.TEAM_PERMISSION,
)
def get_team_permission(ctx: Ctx, subject: str, repo: str, team: str) -> dict:
    assert ctx.repo is not None
    services.require_teams_plan(ctx.subject, team, ctx.repo)
    return services.get_permission(ctx.repo, team)


@api.route("/repos/{subject}/{repo}/permissions/{team}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_team_permission(ctx: Ctx, subject: str, repo: str, team: str) -> dict:
    assert ctx.repo is not None
    services.require_teams_plan(ctx.subject, team, ctx.repo)
    services.delete_permission(ctx.repo, team)
    return SUCCESS
