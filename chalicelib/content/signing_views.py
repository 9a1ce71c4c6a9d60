"""Routes of URL signing (Premium): create a signed download URL, regenerate the subject's key.

The signed download itself is the ordinary ``/dl`` route: the policy (``Need.DOWNLOAD``) accepts a
valid signature in place of read rights; see ``chalicelib/content/signing.py``.
"""

from __future__ import annotations

import json

from chalice import Response

from chalicelib import plans
from chalicelib.auth.policy import Need
from chalicelib.content import services, signing
from chalicelib.content.paths import split_matrix, truthy
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created, json_response

api = Api(__name__)


def request_base_url() -> str:
    """The base URL of this API as the current request reached it."""
    request = api.blueprint.current_request
    return signing.base_url(request.headers, request.context or {})


@api.route(
    "/signed_url/{subject}/{repo}/{file_path+}",
    ["POST"],
    Need.PUBLISH,
    body=signing.SignedUrlBody,
    query=schemas.Encrypt,
    response=schemas.SIGNED_URL_ANSWER,
)
def create_signed_url(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    """A signed, anonymous download URL (``encrypt=true``: the answer is encrypted, see ``signing``)."""
    assert ctx.repo is not None and ctx.subject is not None
    plans.require(ctx.subject, "url_signing", repo=ctx.repo.name)
    body = parse_body(ctx.raw_body, signing.SignedUrlBody)
    record = services.visible_file(ctx, split_matrix(file_path).path)
    url = signing.create_signed_url(ctx.subject, ctx.repo.name, record.path, request_base_url(), body)
    if not truthy(ctx.query.get("encrypt")):
        return json_response({"url": url})
    secret = body.secret or signing.new_secret()
    encrypted = signing.encrypt_payload(secret, json.dumps({"url": url}).encode())
    return Response(
        body=encrypted, status_code=200, headers={"Content-Type": "text/plain", "X-Bintray-Secret": secret}
    )


@api.route("/subjects/{subject}/keypair", ["POST"], Need.ADMIN, response={201: schemas.MESSAGE})
def regenerate_keypair(ctx: Ctx, subject: str) -> Response:
    """Re-generate the subject's URL signing key: every outstanding signed URL stops working."""
    assert ctx.subject is not None
    plans.require(ctx.subject, "url_signing_key")
    signing.regenerate_key(ctx.subject)
    return created({"message": "success"})
