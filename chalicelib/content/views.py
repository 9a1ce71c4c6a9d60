"""Routes of content: upload, publish, download, delete, file listings, file search.

API Gateway allows one variable per path level, so everything under ``/content/:subject/:repo/``
is one greedy route per method that dispatches on the path inside.
"""

from __future__ import annotations

from chalice import Response

from chalicelib.auth.policy import Ctx, Need
from chalicelib.content import downloads, services
from chalicelib.content.paths import debian_coordinates, maven_coordinates, option, split_matrix, truthy
from chalicelib.content.services import Upload
from chalicelib.errors import BadRequest, NotFound
from chalicelib.packages import services as packages
from chalicelib.packages import versions
from chalicelib.storage import presign_get
from chalicelib.validation import Body, parse_body
from chalicelib.web.paging import PAGE_SIZE, flag, start_pos
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}
#: How long a download redirect stays valid.
DOWNLOAD_URL_SECONDS = 30


class PublishBody(Body):
    discard: bool = False
    publish_wait_for_secs: int = 0


class FileMetadataBody(Body):
    list_in_downloads: bool


def _upload_request(
    ctx: Ctx, raw_path: str, package: str | None = None, version: str | None = None
) -> Upload:
    """The upload asked for by a path (``pkg/ver/file`` or ``file``), matrix parameters, query and headers."""
    parsed = split_matrix(raw_path)
    path = parsed.path
    opt = lambda name, header: option(name, parsed.matrix, ctx.query, ctx.headers, header)  # noqa: E731
    package = package or opt("bt_package", "X-Bintray-Package")
    version = version or opt("bt_version", "X-Bintray-Version")
    if package is None and version is None:
        parts = path.split("/", 2)
        if len(parts) < 3:
            raise BadRequest(
                "Upload path must be :package/:version/:file_path, or give the package and version"
            )
        package, version, path = parts
    if not package or not version:
        raise BadRequest("Both the package and the version are required for an upload")
    return Upload(
        path=path,
        package=package,
        version=version,
        publish=truthy(opt("publish", "X-Bintray-Publish")),
        override=truthy(opt("override", "X-Bintray-Override")),
        sha256=ctx.headers.get("x-checksum-sha2") or None,
        debian=debian_coordinates(parsed.matrix, ctx.headers),
    )


def _raw_body(ctx: Ctx) -> bytes:
    body = ctx.raw_body or b""
    return body.encode() if isinstance(body, str) else body


@api.route("/content/{subject}/{repo}/{file_path+}", ["PUT"], Need.PUBLISH)
def upload_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    assert ctx.repo is not None
    services.upload_bytes(ctx.principal, ctx.repo, _upload_request(ctx, file_path), _raw_body(ctx))
    return created(SUCCESS)


@api.route("/maven/{subject}/{repo}/{package}/{file_path+}", ["PUT"], Need.PUBLISH)
def upload_maven(ctx: Ctx, subject: str, repo: str, package: str, file_path: str) -> Response:
    assert ctx.repo is not None
    parsed = split_matrix(file_path)
    coordinates = maven_coordinates(parsed.path)
    request = _upload_request(ctx, file_path, package=package, version=coordinates.version)
    services.upload_bytes(ctx.principal, ctx.repo, request, _raw_body(ctx))
    found = packages.get_package(ctx.repo, package)
    packages.register_system_id(ctx.repo, found, coordinates.group_id, coordinates.artifact_id)
    return created(SUCCESS)


@api.route("/content/{subject}/{repo}/{file_path+}", ["POST"], Need.PUBLISH)
def publish_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    parts = file_path.split("/")
    if len(parts) != 3 or parts[2] != "publish":
        raise NotFound("Not found")
    body = parse_body(ctx.raw_body, PublishBody)
    package = packages.get_package(ctx.repo, parts[0])
    version = versions.get_version(package, parts[1])
    return {"files": services.publish_version(ctx.repo, package, version, discard=body.discard)}


def _download(ctx: Ctx, file_path: str) -> Response:
    record = services.visible_file(ctx, split_matrix(file_path).path)
    url = presign_get(record.sha256, record.name, DOWNLOAD_URL_SECONDS)
    downloads.record(ctx, record, event_id=ctx.extra["request_id"])
    return Response(body="", status_code=302, headers={"Location": url})


@api.route("/content/{subject}/{repo}/{file_path+}", ["GET"], Need.ANYONE)
def download_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    return _download(ctx, file_path)


@api.route("/dl/{subject}/{repo}/{file_path+}", ["GET", "HEAD"], Need.ANYONE)
def download(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    return _download(ctx, file_path)


@api.route("/content/{subject}/{repo}/{file_path+}", ["DELETE"], Need.PUBLISH)
def delete_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    record = services.visible_file(ctx, file_path)
    services.delete_file(ctx.principal, ctx.repo, record)
    return SUCCESS


@api.route("/packages/{subject}/{repo}/{package}/files", ["GET"], Need.ANYONE)
def get_package_files(ctx: Ctx, subject: str, repo: str, package: str) -> list[dict]:
    assert ctx.repo is not None
    found = packages.get_package(ctx.repo, package)
    rows = services.package_files(ctx, found, flag(ctx.query, "include_unpublished"))
    return [services.describe(f) for f in rows]


@api.route("/packages/{subject}/{repo}/{package}/versions/{version}/files", ["GET"], Need.ANYONE)
def get_version_files(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> list[dict]:
    assert ctx.repo is not None
    found = packages.get_package(ctx.repo, package)
    name = versions.get_version(found, version).name
    rows = services.version_files(ctx, found, name, flag(ctx.query, "include_unpublished"))
    return [services.describe(f) for f in rows]


@api.route("/file_version/{subject}/{repo}/{file_path+}", ["GET"], Need.ANYONE)
def file_version(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    record = services.visible_file(ctx, file_path)
    package = services.package_of(record, ctx.repo)
    return versions.describe(ctx, versions.get_version(package, record.version))


@api.route("/file_package/{subject}/{repo}/{file_path+}", ["GET"], Need.ANYONE)
def file_package(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    record = services.visible_file(ctx, file_path)
    return packages.describe(ctx, services.package_of(record, ctx.repo))


@api.route("/file_metadata/{subject}/{repo}/{file_path+}", ["PUT"], Need.PUBLISH)
def file_metadata(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    body = parse_body(ctx.raw_body, FileMetadataBody)
    services.set_list_in_downloads(services.visible_file(ctx, file_path), body.list_in_downloads)
    return SUCCESS


@api.route("/search/file", ["GET"], Need.ANYONE)
def search_files(ctx: Ctx) -> list[dict]:
    q = ctx.query
    start = start_pos(q)
    if q.get("sha1"):
        rows = services.search_by_sha1(q["sha1"], q.get("subject"), q.get("repo"), start, PAGE_SIZE)
    else:
        rows = services.search_by_name(
            q.get("name", ""), q.get("subject"), q.get("repo"), q.get("created_after"), start, PAGE_SIZE
        )
    return [services.describe(f) for f in rows]
