"""Routes of Maven repositories beyond the file routes (``/maven`` uploads and ``/dl`` downloads live
in ``content``; metadata is an index, ``chalicelib/indexes``)."""

from __future__ import annotations

from chalicelib.auth.policy import Need
from chalicelib.maven import services
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api

api = Api(__name__)


@api.route(
    "/maven_central_sync/{subject}/{repo}/{package}/versions/{version}",
    ["POST"],
    Need.PUBLISH,
    body=services.SyncBody,
    response=schemas.EMPTY,
)
def maven_central_sync(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    """Sync Version Artifacts to Maven Central: validated, then refused (403; no sync target here)."""
    assert ctx.repo is not None
    services.sync_to_central(ctx.repo, package, version, parse_body(ctx.raw_body, services.SyncBody))
    return {}
