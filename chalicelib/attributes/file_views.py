"""Routes of file attributes: ``/files/:subject/:repo/:file_path/attributes`` and
``POST /files/:subject/:repo/search/attributes``.

API Gateway allows one variable per path level, so one greedy route ``{file_path+}`` serves them all:
a path ending in ``/attributes`` addresses the attributes of the file before it, and POST on
``search/attributes`` is the search. POST serves a read (search) and a write (set), so it is declared
``Need.ANYONE`` and a set enforces publish through ``policy.require``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.attributes import services
from chalicelib.attributes.services import Target, file_target, split_names
from chalicelib.auth.policy import Need, Right, require
from chalicelib.content import services as content
from chalicelib.errors import NotFound
from chalicelib.validation import parse_json
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api

api = Api(__name__)
FILES = "/files/{subject}/{repo}/{file_path+}"
SUFFIX = "/attributes"
SEARCH = "search/attributes"


def _target(ctx: Ctx, file_path: str) -> Target:
    """The file whose attributes ``file_path`` (``<path>/attributes``) addresses; 404 otherwise."""
    if not file_path.endswith(SUFFIX) or len(file_path) == len(SUFFIX):
        raise NotFound("Not found")
    return file_target(content.visible_file(ctx, file_path[: -len(SUFFIX)]))


def _get(ctx: Ctx, target: Target) -> list[dict[str, Any]]:
    found = services.get_attributes(target, split_names(ctx.query.get("names")), ctx.can(Right.PUBLISH))
    # Files report their types in upper case, as the spec shows (STRING, NUMBER, DATE).
    return [{**attribute, "type": attribute["type"].upper()} for attribute in found]


@api.route(FILES, ["GET"], Need.ANYONE, query=schemas.AttributeNames, response=schemas.ATTRIBUTES)
def get_file_attributes(ctx: Ctx, subject: str, repo: str, file_path: str) -> list[dict]:
    return _get(ctx, _target(ctx, file_path))


@api.route(
    FILES,
    ["POST"],
    Need.ANYONE,
    body=schemas.ATTRIBUTES_OR_QUERY,
    query=schemas.AttributeNames,
    response=schemas.FILE_ATTRIBUTES_OR_FILES,
)
def set_or_search_file_attributes(ctx: Ctx, subject: str, repo: str, file_path: str) -> list[dict]:
    assert ctx.repo is not None
    if file_path == SEARCH:
        can_publish = ctx.can(Right.PUBLISH)
        found = services.search_files(ctx.repo.id, parse_json(ctx.raw_body), can_publish)
        return [content.describe(record) for record in found]
    require(ctx, Right.PUBLISH)
    target = _target(ctx, file_path)
    services.set_attributes(target, parse_json(ctx.raw_body))
    return _get(ctx, target)


@api.route(
    FILES,
    ["PATCH"],
    Need.PUBLISH,
    body=schemas.ATTRIBUTES_BODY,
    query=schemas.AttributeNames,
    response=schemas.ATTRIBUTES,
)
def update_file_attributes(ctx: Ctx, subject: str, repo: str, file_path: str) -> list[dict]:
    target = _target(ctx, file_path)
    services.update_attributes(target, parse_json(ctx.raw_body))
    return _get(ctx, target)


@api.route(FILES, ["DELETE"], Need.PUBLISH, query=schemas.AttributeNames, response=schemas.MESSAGE)
def delete_file_attributes(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    """Delete File Attributes; the answer names the file, as the real service's did."""
    target = _target(ctx, file_path)
    services.delete_attributes(target, split_names(ctx.query.get("names")))
    return {"message": f"Attributes were deleted successfully from the following file path: {target.item}"}
