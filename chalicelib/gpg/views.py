"""Routes of GPG keys and content signing.

API Gateway allows one variable per path level, so ``POST /gpg/:subject/:repo/:package/versions/:version``
and ``POST /gpg/:subject/:repo/:file_path`` are one greedy route that dispatches on the path inside.
"""

from __future__ import annotations

from chalice import Response

from chalicelib.accounts.models import Subject
from chalicelib.auth.policy import Need, Right, require_file
from chalicelib.content import services as content
from chalicelib.errors import NotFound
from chalicelib.gpg import services
from chalicelib.gpg.services import KeyBody, SigningInfo
from chalicelib.packages import services as packages
from chalicelib.packages import versions
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}
PGP_KEYS = "application/pgp-keys"


def _armored(text: str) -> Response:
    return Response(body=text, status_code=200, headers={"Content-Type": PGP_KEYS})


def _subject(ctx: Ctx, kind: str) -> Subject:
    subject = ctx.subject
    if subject is None or subject.kind != kind:
        what = "User" if kind == "user" else "Organization"
        raise NotFound(f"{what} '{subject.name if subject else ''}' was not found")
    return subject


@api.route("/keys/gpg/public.key", ["GET"], Need.ANYONE, response=schemas.ARMORED_KEY)
def system_public_key(ctx: Ctx) -> Response:
    return _armored(services.system_public_key())


@api.route("/users/{user}/keys/gpg/public.key", ["GET"], Need.ANYONE, response=schemas.ARMORED_KEY)
def user_public_key(ctx: Ctx, user: str) -> Response:
    return _armored(services.public_key(_subject(ctx, "user").name))


@api.route("/orgs/{org}/keys/gpg/public.key", ["GET"], Need.ANYONE, response=schemas.ARMORED_KEY)
def org_public_key(ctx: Ctx, org: str) -> Response:
    return _armored(services.public_key(_subject(ctx, "org").name))


def _set_key(ctx: Ctx, kind: str) -> Response:
    subject = _subject(ctx, kind)
    body = parse_body(ctx.raw_body, KeyBody)
    passphrase = body.passphrase or ctx.headers.get("x-gpg-passphrase")
    if body.private_key:
        key = services.import_key(subject.name, body.private_key, passphrase)
    else:
        key = services.generate_key(subject.name)
    return created(services.describe(key))


@api.route("/users/{user}/keys/gpg", ["POST"], Need.ADMIN, body=KeyBody, response={201: schemas.GPG_KEY})
def set_user_key(ctx: Ctx, user: str) -> Response:
    return _set_key(ctx, "user")


@api.route("/orgs/{org}/keys/gpg", ["POST"], Need.ADMIN, body=KeyBody, response={201: schemas.GPG_KEY})
def set_org_key(ctx: Ctx, org: str) -> Response:
    return _set_key(ctx, "org")


@api.route("/users/{user}/keys/gpg", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_user_key(ctx: Ctx, user: str) -> dict:
    services.delete_key(_subject(ctx, "user").name)
    return SUCCESS


@api.route("/orgs/{org}/keys/gpg", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_org_key(ctx: Ctx, org: str) -> dict:
    services.delete_key(_subject(ctx, "org").name)
    return SUCCESS


@api.route(
    "/gpg/{subject}/{repo}/{file_path+}",
    ["POST"],
    Need.PUBLISH,
    key_files=True,
    body=SigningInfo,
    response=schemas.MESSAGE,
)
def gpg_sign(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    """GPG Sign a Version (``:package/versions/:version``) or GPG Sign a File (any other path)."""
    assert ctx.repo is not None
    info = parse_body(ctx.raw_body, SigningInfo)
    header = ctx.headers.get("x-gpg-passphrase")
    parts = file_path.split("/")
    record = content.find_file(ctx.repo, file_path)
    if record is None and len(parts) == 3 and parts[1] == "versions":
        package = packages.get_package(ctx.repo, parts[0])
        version = versions.get_version(package, parts[2])
        require_file(ctx, Right.PUBLISH, "\0", package.name, version.name, package.id)
        signer = services.explicit_signer(ctx.repo, ctx.principal.name, info, header)
        services.sign_version(ctx.repo, ctx.principal.name, ctx.principal.is_admin, package, version, signer)
        return SUCCESS
    record = content.visible_file(ctx, file_path)
    require_file(ctx, Right.PUBLISH, record.path, record.package, record.version, record.package_id)
    signer = services.explicit_signer(ctx.repo, ctx.principal.name, info, header)
    services.sign_path(ctx.repo, ctx.principal.name, ctx.principal.is_admin, record, signer)
    return SUCCESS
