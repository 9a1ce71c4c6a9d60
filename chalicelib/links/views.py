"""Routes of package links: Link Package and Unlink Package."""

from __future__ import annotations

from chalice import Response

from chalicelib.auth.policy import Need
from chalicelib.links import services
from chalicelib.links.services import LinkBody
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}
LINK_PATH = "/repository/{subject}/{repo}/links/{source_subject}/{source_repo}/{source_package}"


@api.route(LINK_PATH, ["PUT"], Need.PUBLISH, body=LinkBody, response={201: schemas.MESSAGE})
def link_package(
    ctx: Ctx, subject: str, repo: str, source_subject: str, source_repo: str, source_package: str
) -> Response:
    assert ctx.repo is not None
    body = parse_body(ctx.raw_body, LinkBody)
    services.link_package(ctx.principal, ctx.repo, source_subject, source_repo, source_package, body)
    return created(SUCCESS)


@api.route(LINK_PATH, ["DELETE"], Need.PUBLISH, response=schemas.MESSAGE)
def unlink_package(
    ctx: Ctx, subject: str, repo: str, source_subject: str, source_repo: str, source_package: str
) -> dict:
    assert ctx.repo is not None
    services.unlink_package(ctx.repo, source_subject, source_repo, source_package)
    return SUCCESS
