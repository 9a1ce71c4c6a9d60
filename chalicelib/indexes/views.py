"""Routes of metadata indexes: schedule a calculation (index files are served by /dl, see
chalicelib/content/views.py)."""

from __future__ import annotations

from chalice import Response

from chalicelib.auth.policy import Need
from chalicelib.indexes import services
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, json_response

api = Api(__name__)


@api.route("/calc_metadata/{subject}/{repo}", ["POST"], Need.PUBLISH, response={202: schemas.MESSAGE})
def calc_metadata(ctx: Ctx, subject: str, repo: str) -> Response:
    assert ctx.repo is not None
    services.schedule_calculation(ctx.repo, None)
    return json_response(services.calc_message(ctx.repo.owner, ctx.repo.name), 202)


@api.route(
    "/calc_metadata/{subject}/{repo}/{file_path+}",
    ["POST"],
    Need.PUBLISH,
    response={202: schemas.MESSAGE},
)
def calc_metadata_path(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    assert ctx.repo is not None
    services.schedule_calculation(ctx.repo, file_path.strip("/"))
    return json_response(services.calc_message(ctx.repo.owner, ctx.repo.name), 202)
