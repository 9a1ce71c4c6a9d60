"""Routes of repositories."""

from __future__ import annotations

from chalice import Response

from chalicelib.auth.policy import Need
from chalicelib.repositories import services
from chalicelib.repositories.services import CreateRepoBody, UpdateRepoBody
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.paging import PAGE_SIZE, start_pos
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}


@api.route("/repos/{subject}", ["GET"], Need.ANYONE, response=schemas.array(schemas.REPOSITORY_ITEM))
def get_repositories(ctx: Ctx, subject: str) -> list[dict]:
    assert ctx.subject is not None
    return [
        {"name": repo.name, "owner": repo.owner}
        for repo in services.visible_repositories(ctx.principal, ctx.subject)
    ]


@api.route("/repos/{subject}/{repo}", ["GET"], Need.ANYONE, response=schemas.REPOSITORY)
def get_repository(ctx: Ctx, subject: str, repo: str) -> dict:
    assert ctx.subject is not None and ctx.repo is not None
    return services.describe(ctx.repo, ctx.subject)


@api.route(
    "/repos/{subject}/{repo}",
    ["POST"],
    Need.MANAGE_REPOS,
    creates_repo=True,
    body=CreateRepoBody,
    response={201: schemas.REPOSITORY},
)
def create_repository(ctx: Ctx, subject: str, repo: str) -> Response:
    assert ctx.subject is not None
    body = parse_body(ctx.raw_body, CreateRepoBody)
    team = ctx.extra.get("creator_team")  # created through a team's allow_repo_creation
    if team is not None and body.business_unit is None:
        body.business_unit = team.business_unit
    return created(services.describe(services.create_repository(ctx.subject, repo, body), ctx.subject))


@api.route(
    "/repos/{subject}/{repo}",
    ["PATCH"],
    Need.MANAGE_REPOS,
    body=UpdateRepoBody,
    response=schemas.MESSAGE,
)
def update_repository(ctx: Ctx, subject: str, repo: str) -> dict:
    """Update Repository: ``{"message": "success"}`` (as the real service answered)."""
    assert ctx.subject is not None and ctx.repo is not None
    services.update_repository(ctx.subject, ctx.repo, parse_body(ctx.raw_body, UpdateRepoBody))
    return SUCCESS


@api.route("/repos/{subject}/{repo}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_repository(ctx: Ctx, subject: str, repo: str) -> dict:
    assert ctx.repo is not None
    services.delete_repository(ctx.repo)
    return SUCCESS


@api.route(
    "/search/repos",
    ["GET"],
    Need.AUTHENTICATED,
    query=schemas.RepoSearch,
    response=schemas.array(schemas.REPOSITORY),
)
def search_repositories(ctx: Ctx) -> list[dict]:
    found = services.search(ctx.query.get("name"), ctx.query.get("desc"), start_pos(ctx.query), PAGE_SIZE)
    owners = services.owners_of(found)
    return [services.describe(repo, owners[repo.owner]) for repo in found]
