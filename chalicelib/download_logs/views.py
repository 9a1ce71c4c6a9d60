"""Routes of download logs (the spec's Logs): the publish right on the repository, or an access key
with a read/write entitlement covering the package (``key_files``, then ``policy.require_file``);
the package must exist (404), then the subject's plan (Premium, 403)."""

from __future__ import annotations

from chalice import Response

from chalicelib import plans
from chalicelib.auth.policy import Need, Right, require_file
from chalicelib.download_logs import services
from chalicelib.packages.models import Package
from chalicelib.packages.services import get_package
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api

api = Api(__name__)


def _package(ctx: Ctx, package: str, log_name: str | None = None) -> Package:
    """The package (404), the caller's right on it, then the plan (a named log's 404 first)."""
    assert ctx.repo is not None and ctx.subject is not None
    found = get_package(ctx.repo, package)
    require_file(ctx, Right.PUBLISH, "", package, package_id=found.id)
    exists = (lambda: services.log_url(found, log_name)) if log_name is not None else None
    plans.require(ctx.subject, "download_logs", exists=exists)
    return found


@api.route(
    "/packages/{subject}/{repo}/{package}/logs",
    ["GET"],
    Need.PUBLISH,
    key_files=True,
    response=schemas.array(schemas.LOG),
)
def list_package_logs(ctx: Ctx, subject: str, repo: str, package: str) -> list[dict]:
    return services.list_logs(_package(ctx, package))


@api.route(
    "/packages/{subject}/{repo}/{package}/logs/{log_name}",
    ["GET"],
    Need.PUBLISH,
    key_files=True,
    response={302: schemas.REDIRECT},
)
def download_package_log(ctx: Ctx, subject: str, repo: str, package: str, log_name: str) -> Response:
    url = services.log_url(_package(ctx, package, log_name), log_name)
    return Response(body="", status_code=302, headers={"Location": url})
