"""Routes of webhooks (spec: Webhooks).

Security: listing needs 'admin' on the subject (or on the repository named): the URLs often carry
credentials of a CI (the spec says 'read'; a documented deviation). Registering, testing and deleting
need 'publish' on the repository, as the spec says (users only: access keys are refused, as on the
other publishing routes).
"""

from __future__ import annotations

from chalice import Response

from chalicelib.auth.policy import Need
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, json_response
from chalicelib.webhooks import services

api = Api(__name__)


@api.route("/webhooks/{subject}", ["GET"], Need.ADMIN, response=schemas.array(schemas.WEBHOOK))
def get_webhooks(ctx: Ctx, subject: str) -> list[dict]:
    return [services.render(hook) for hook in services.list_webhooks(subject)]


@api.route("/webhooks/{subject}/{repo}", ["GET"], Need.ADMIN, response=schemas.array(schemas.WEBHOOK))
def get_repo_webhooks(ctx: Ctx, subject: str, repo: str) -> list[dict]:
    assert ctx.repo is not None
    return [services.render(hook) for hook in services.list_webhooks(subject, ctx.repo)]


@api.route(
    "/webhooks/{subject}/{repo}/{package}",
    ["POST"],
    Need.PUBLISH,
    body=services.RegisterBody,
    response=schemas.WEBHOOK_CREATED,
)
def register_webhook(ctx: Ctx, subject: str, repo: str, package: str) -> Response:
    """201 with the webhook and its secret (shown once) and the limit headers."""
    assert ctx.repo is not None
    body = services.parse_register_body(ctx.raw_body, repo, package)
    hook, secret, remaining = services.register(ctx.repo, package, body, ctx.principal.name)
    answer = {**services.render(hook), "secret": secret}
    return json_response(answer, 201, services.limit_headers(remaining))


@api.route(
    "/webhooks/{subject}/{repo}/{package}/{version}",
    ["POST"],
    Need.PUBLISH,
    body=services.TestBody,
    response=schemas.OBJECT,
)
def trigger_webhook(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    """Calls the webhook now: the payload sent and the target's answer (``status``, null if none)."""
    assert ctx.repo is not None
    body = services.parse_test_body(ctx.raw_body, repo, package)
    payload, status = services.test(ctx.repo, package, version, body)
    return {**payload, "status": status}


@api.route("/webhooks/{subject}/{repo}/{package}", ["DELETE"], Need.PUBLISH, response=schemas.MESSAGE)
def delete_webhook(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    services.delete(ctx.repo, package)
    return {"message": "success"}
