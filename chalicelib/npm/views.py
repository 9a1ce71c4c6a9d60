"""Routes of the npm registries: ``/npm/:subject/:repo/`` is the registry URL npm is given.

API Gateway allows one variable per path level, so everything under the registry is one greedy route
per method that dispatches on the path (``chalicelib/npm/paths.py``); only ``npm login``, which comes
without credentials, has its own route.
"""

from __future__ import annotations

from chalice import Response

from chalicelib.auth.policy import Need, Right, require_file
from chalicelib.content import downloads, signing
from chalicelib.content import services as content
from chalicelib.errors import NotFound, Unauthorized
from chalicelib.npm import paths, services
from chalicelib.storage import presign_get
from chalicelib.validation import parse_json
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created

api = Api(__name__)
ABBREVIATED = "application/vnd.npm.install-v1+json"
#: How long a tarball's download redirect stays valid.
DOWNLOAD_URL_SECONDS = 30
OK = {"ok": True}


def _base(ctx: Ctx) -> str:
    request = api.blueprint.current_request
    return signing.base_url(request.headers, request.context or {})


def _registry(ctx: Ctx) -> str:
    assert ctx.repo is not None
    return f"{_base(ctx)}/npm/{ctx.repo.owner}/{ctx.repo.name}"


def _download(ctx: Ctx, path: str) -> Response:
    """A file of the repository (tarballs): 302 to its content, as ``/dl`` answers."""
    from chalicelib.products.eulas import check_download

    record = content.visible_file(ctx, path)
    require_file(ctx, Right.READ, record.path, record.package, record.version, record.package_id)
    check_download(ctx.principal, record, lambda: _base(ctx))
    url = presign_get(record.sha256, record.name, DOWNLOAD_URL_SECONDS)
    downloads.record(ctx.principal, record, ctx.request_id, ctx.source_ip)
    return Response(body="", status_code=302, headers={"Location": url})


def _entitled(ctx: Ctx, right: Right, name: str) -> None:
    """Access keys: a grant on the package's tarballs (``<name>/-/``) covers its registry documents."""
    require_file(ctx, right, f"{name}/-/", paths.package_name(name))


@api.route(
    "/npm/{subject}/{repo}/{file_path+}",
    ["GET", "HEAD"],
    Need.DOWNLOAD,
    key_files=True,
    response=schemas.NPM_READ,
)
def npm_read(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response | dict:
    """Packuments (abbreviated when asked for), dist-tags, ``whoami``, tarballs and other files."""
    assert ctx.repo is not None
    target = paths.parse(file_path)
    if target.kind == "whoami":
        if not ctx.principal.authenticated:
            raise Unauthorized()
        return {"username": ctx.principal.name}
    if target.kind == "dist_tags" and not target.tag:
        _entitled(ctx, Right.READ, target.name)
        return services.dist_tags(ctx.repo, target.name)
    item = services.find(ctx.repo, target.name) if target.kind == "packument" else None
    if item is not None:
        _entitled(ctx, Right.READ, target.name)
        abbreviated = ABBREVIATED in (ctx.headers.get("accept") or "")
        text = services.packument(ctx.repo, item, abbreviated, _registry(ctx))
        kind = ABBREVIATED if abbreviated else "application/json"
        return Response(body=text, status_code=200, headers={"Content-Type": kind})
    if target.kind in ("tarball", "file", "packument"):
        try:
            return _download(ctx, target.file or file_path)
        except NotFound:
            if target.kind == "packument":
                raise NotFound(f"Package '{target.name}' was not found") from None
            raise
    raise NotFound("Not found")


@api.route(
    "/npm/{subject}/{repo}/{file_path+}",
    ["PUT"],
    Need.PUBLISH,
    key_files=True,
    body=schemas.OBJECT,
    response={201: schemas.OBJECT},
)
def npm_write(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response | dict:
    """``npm publish`` (PUT <name>), ``npm unpublish <name>@<version>`` (PUT <name>/-rev/<rev>),
    ``npm dist-tag add`` (PUT -/package/<name>/dist-tags/<tag>)."""
    assert ctx.repo is not None
    target = paths.parse(file_path)
    body = parse_json(ctx.raw_body)
    if target.kind == "packument":
        version, *_ = services.check_publish(target.name, body)
        path = paths.tarball_path(target.name, version)
        require_file(ctx, Right.PUBLISH, path, paths.package_name(target.name), version)
        services.publish(ctx.principal, ctx.repo, target.name, body)
        return created({"ok": True, "id": target.name})
    if target.kind == "rev":
        _entitled(ctx, Right.PUBLISH, target.name)
        services.update(ctx.repo, target.name, body)
        return created({"ok": True, "id": target.name})
    if target.kind == "dist_tags" and target.tag:
        _entitled(ctx, Right.PUBLISH, target.name)
        return created(services.set_dist_tag(ctx.repo, target.name, target.tag, body))
    raise NotFound("Not found")


@api.route(
    "/npm/{subject}/{repo}/{file_path+}",
    ["DELETE"],
    Need.PUBLISH,
    key_files=True,
    response=schemas.OBJECT,
)
def npm_delete(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    """``npm dist-tag rm`` (DELETE -/package/<name>/dist-tags/<tag>), the tarball step of ``npm
    unpublish`` (DELETE <name>/-/<file>/-rev/<rev>), ``npm unpublish <name>`` (DELETE <name>/-rev/<rev>)."""
    assert ctx.repo is not None
    target = paths.parse(file_path)
    if target.kind == "dist_tags" and target.tag:
        _entitled(ctx, Right.PUBLISH, target.name)
        return services.remove_dist_tag(ctx.repo, target.name, target.tag)
    if target.kind == "tarball":
        _entitled(ctx, Right.PUBLISH, target.name)
        services.delete_tarball(ctx.repo, target.name, target.file)
        return OK
    if target.kind == "rev":
        _entitled(ctx, Right.PUBLISH, target.name)
        services.unpublish_package(ctx.repo, target.name)
        return OK
    raise NotFound("Not found")


# The repository is not loaded (``creates_repo``): a login comes without credentials, for private
# registries too, and needs only the user's.
@api.route(
    "/npm/{subject}/{repo}/-/user/{user}",
    ["PUT"],
    Need.ANYONE,
    creates_repo=True,
    body=schemas.NPM_LOGIN,
    response={201: schemas.NPM_TOKEN},
)
def npm_login(ctx: Ctx, subject: str, repo: str, user: str) -> Response:
    """``npm login``: 201 with a token for valid credentials (``_authToken``), 401 otherwise."""
    return created(services.login(user, parse_json(ctx.raw_body)))
