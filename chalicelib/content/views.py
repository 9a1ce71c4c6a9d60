"""Routes of content: upload, publish, download, delete, file listings, file search.

API Gateway allows one variable per path level, so everything under ``/content/:subject/:repo/``
is one greedy route per method that dispatches on the path inside.
"""

from __future__ import annotations

from chalice import Response

from chalicelib import plans
from chalicelib.auth.policy import Need, Right, require_file
from chalicelib.content import downloads, large, services, signing
from chalicelib.content.explode import explode_zip
from chalicelib.content.models import File
from chalicelib.content.paths import (
    MavenCoordinates,
    debian_coordinates,
    maven_coordinates,
    option,
    split_matrix,
    truthy,
)
from chalicelib.content.services import Upload
from chalicelib.errors import BadRequest, NotFound
from chalicelib.gpg import services as gpg
from chalicelib.indexes import services as indexes
from chalicelib.packages import services as packages
from chalicelib.packages import versions
from chalicelib.storage import presign_get
from chalicelib.validation import Body, Field, Flag, flag, parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.paging import PAGE_SIZE, start_pos
from chalicelib.web.routing import Api, created, json_response

api = Api(__name__)
SUCCESS = {"message": "success"}
#: How long a download redirect stays valid.
DOWNLOAD_URL_SECONDS = 30


class PublishBody(Body):
    discard: Flag = False
    publish_wait_for_secs: int = Field(default=0, ge=-1)


class FileMetadataBody(Body):
    list_in_downloads: Flag


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


@api.route(
    "/content/{subject}/{repo}/{file_path+}",
    ["PUT"],
    Need.PUBLISH,
    key_files=True,
    body=schemas.BINARY,
    query=schemas.UploadOptions,
    response=schemas.UPLOADED,
)
def upload_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    assert ctx.repo is not None
    request = _upload_request(ctx, file_path)
    explode_archive = truthy(ctx.headers.get("x-bintray-explode"))
    require_file(ctx, Right.PUBLISH, request.path, request.package, request.version)
    if explode_archive:
        # Entries land under the archive's directory: an access key must be entitled to all of it.
        directory = request.path.rsplit("/", 1)[0] + "/" if "/" in request.path else ""
        require_file(ctx, Right.PUBLISH, directory + "\0", request.package, request.version)
    if large.too_large(ctx.headers):
        if explode_archive:
            raise BadRequest(f"X-Bintray-Explode takes archives of at most {large.MAX_INLINE_UPLOAD} bytes")
        return _redirect_upload(ctx, request)
    with gpg.request_passphrase(ctx.headers.get("x-gpg-passphrase")):
        if explode_archive:
            explode_zip(ctx.principal, ctx.repo, request, _raw_body(ctx))
        else:
            services.upload_bytes(ctx.principal, ctx.repo, request, _raw_body(ctx))
    return created(SUCCESS)


def _redirect_upload(ctx: Ctx, request: Upload, maven: MavenCoordinates | None = None) -> Response:
    """A body too large for Lambda never reached us: 307 to a presigned S3 PUT (``content/large.py``)."""
    assert ctx.repo is not None
    size = large.content_length(ctx.headers) or 0
    url = large.stage(ctx.principal, ctx.repo, request, size, maven)
    return json_response(large.redirect_message(), 307, {"Location": url})


@api.route(
    "/maven/{subject}/{repo}/{package}/{file_path+}",
    ["PUT"],
    Need.PUBLISH,
    key_files=True,
    body=schemas.BINARY,
    query=schemas.UploadOptions,
    response=schemas.UPLOADED,
)
def upload_maven(ctx: Ctx, subject: str, repo: str, package: str, file_path: str) -> Response:
    assert ctx.repo is not None
    parsed = split_matrix(file_path)
    coordinates = maven_coordinates(parsed.path)
    request = _upload_request(ctx, file_path, package=package, version=coordinates.version)
    require_file(ctx, Right.PUBLISH, request.path, request.package, request.version)
    if large.too_large(ctx.headers):
        return _redirect_upload(ctx, request, coordinates)
    services.upload_bytes(ctx.principal, ctx.repo, request, _raw_body(ctx))
    found = packages.get_package(ctx.repo, package)
    packages.register_system_id(ctx.repo, found, coordinates.group_id, coordinates.artifact_id)
    return created(SUCCESS)


@api.route(
    "/content/{subject}/{repo}/{file_path+}",
    ["POST"],
    Need.PUBLISH,
    body=PublishBody,
    response=schemas.FILES_COUNT,
)
def publish_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    parts = file_path.split("/")
    if len(parts) != 3 or parts[2] != "publish":
        raise NotFound("Not found")
    body = parse_body(ctx.raw_body, PublishBody)
    package = packages.get_package(ctx.repo, parts[0])
    version = versions.get_version(package, parts[1])
    with gpg.request_passphrase(ctx.headers.get("x-gpg-passphrase")):
        count = services.publish_version(
            ctx.repo, package, version, discard=body.discard, wait_seconds=body.publish_wait_for_secs
        )
    return {"files": count}


def _check_eula(ctx: Ctx, record: File) -> None:
    """403 when an access key downloads a file of a product version whose EULA it has not accepted
    (no reads for users)."""
    from chalicelib.products.eulas import check_download

    def base() -> str:
        request = api.blueprint.current_request
        return signing.base_url(request.headers, request.context or {})

    check_download(ctx.principal, record, base)


def _index_download(ctx: Ctx, path: str) -> Response:
    """An index file (Debian dists/, RPM repodata/ ...): 302 to the generation readers see now."""
    assert ctx.repo is not None
    key = indexes.lookup(ctx.repo, path)
    if key is None:
        raise NotFound(f"File '{path}' was not found")
    return Response(body="", status_code=302, headers={"Location": indexes.download_url(key, path)})


def _download(ctx: Ctx, file_path: str) -> Response:
    path = split_matrix(file_path).path
    assert ctx.repo is not None
    if ctx.repo.type != "generic" and indexes.claims(ctx.repo, path):
        return _index_download(ctx, path)
    try:
        record = services.visible_file(ctx, path)
    except NotFound as missing:
        checksum = services.checksum_file(ctx, path)
        if checksum is not None:  # <file>.sha1 and the like, as recorded at upload
            found, value = checksum
            require_file(ctx, Right.READ, found.path, found.package, found.version, found.package_id)
            return Response(body=value, status_code=200, headers={"Content-Type": "text/plain"})
        from chalicelib.links.services import linked_file  # published files of packages linked in

        assert ctx.repo is not None
        found = linked_file(ctx.principal, ctx.repo, path, ctx.source_ip, ctx.headers)
        if found is None:
            raise missing
        record = found
    require_file(ctx, Right.READ, record.path, record.package, record.version, record.package_id)
    _check_eula(ctx, record)
    url = presign_get(record.sha256, record.name, DOWNLOAD_URL_SECONDS)
    fields = signing.callback_fields(ctx)
    assert ctx.repo is not None
    unit = ctx.repo.business_unit if ctx.repo.id == record.repo_id else None
    downloads.record(
        ctx.principal,
        record,
        ctx.request_id,
        ctx.source_ip,
        business_unit=unit,
        headers=ctx.headers,
        **fields,
    )
    return Response(body="", status_code=302, headers={"Location": url})


def _dynamic_download(ctx: Ctx, file_path: str) -> Response:
    """``$latest`` in the path (Premium): 302 to a signed URL, valid 15 s, of the file in the latest
    published version of the package named by ``bt_package`` (query, matrix) or ``X-Bintray-Package``."""
    assert ctx.repo is not None and ctx.subject is not None
    plans.require(ctx.subject, "dynamic_download", repo=ctx.repo.name)
    parsed = split_matrix(file_path)
    name = option("bt_package", parsed.matrix, ctx.query, ctx.headers, "X-Bintray-Package")
    if not name:
        raise BadRequest("A dynamic download needs the package: 'bt_package' or 'X-Bintray-Package'")
    latest = packages.get_package(ctx.repo, name).latest_published_version
    record = services.visible_file(ctx, parsed.path.replace("$latest", latest or "$latest"))
    if latest is None or not record.published:
        raise NotFound(f"File '{parsed.path}' was not found")
    require_file(ctx, Right.READ, record.path, record.package, record.version, record.package_id)
    _check_eula(ctx, record)
    request = api.blueprint.current_request
    base = signing.base_url(request.headers, request.context or {})
    expiry = signing.now_ms() + signing.DYNAMIC_VALID_SECONDS * 1000
    url = signing.download_url(base, ctx.subject, ctx.repo.name, record.path, expiry)
    return Response(body="", status_code=302, headers={"Location": url})


@api.route(
    "/content/{subject}/{repo}/{file_path+}",
    ["GET", "HEAD"],
    Need.DOWNLOAD,
    key_files=True,
    query=schemas.Download,
    response=schemas.DOWNLOAD,
)
def download_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    if "$latest" in file_path:
        return _dynamic_download(ctx, file_path)
    return _download(ctx, file_path)


@api.route(
    "/dl/{subject}/{repo}/{file_path+}",
    ["GET", "HEAD"],
    Need.DOWNLOAD,
    key_files=True,
    query=schemas.Download,
    response=schemas.DOWNLOAD,
)
def download(ctx: Ctx, subject: str, repo: str, file_path: str) -> Response:
    return _download(ctx, file_path)


@api.route(
    "/content/{subject}/{repo}/{file_path+}",
    ["DELETE"],
    Need.PUBLISH,
    key_files=True,
    response=schemas.MESSAGE,
)
def delete_content(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    record = services.visible_file(ctx, file_path)
    require_file(ctx, Right.PUBLISH, record.path, record.package, record.version, record.package_id)
    services.delete_file(ctx.principal, ctx.repo, record)
    return SUCCESS


@api.route(
    "/packages/{subject}/{repo}/{package}/files",
    ["GET"],
    Need.ANYONE,
    query=schemas.IncludeUnpublished,
    response=schemas.array(schemas.FILE),
)
def get_package_files(ctx: Ctx, subject: str, repo: str, package: str) -> list[dict]:
    assert ctx.repo is not None
    found = packages.get_package(ctx.repo, package)
    rows = services.package_files(ctx, found, flag(ctx.query, "include_unpublished"))
    return [services.describe(f) for f in rows]


@api.route(
    "/packages/{subject}/{repo}/{package}/versions/{version}/files",
    ["GET"],
    Need.ANYONE,
    query=schemas.IncludeUnpublished,
    response=schemas.array(schemas.FILE),
)
def get_version_files(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> list[dict]:
    assert ctx.repo is not None
    found = packages.get_package(ctx.repo, package)
    name = versions.get_version(found, version).name
    rows = services.version_files(ctx, found, name, flag(ctx.query, "include_unpublished"))
    return [services.describe(f) for f in rows]


@api.route(
    "/packages/{subject}/{repo}/{package}/versions/{version}/uploads",
    ["GET"],
    Need.PUBLISH,
    query=schemas.Path,
    response=schemas.array(schemas.UPLOAD),
)
def get_version_uploads(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> list[dict]:
    """Large uploads of a version and their state (``pending``, ``processing``, ``done``, ``failed`` with
    a ``reason``); ``?path=`` for one file. Not in the spec: how a client waits for a large upload."""
    assert ctx.repo is not None
    found = packages.get_package(ctx.repo, package)
    name = versions.get_version(found, version).name
    return [large.describe(row) for row in large.version_uploads(found, name, ctx.query.get("path") or None)]


@api.route("/file_version/{subject}/{repo}/{file_path+}", ["GET"], Need.ANYONE, response=schemas.VERSION)
def file_version(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    record = services.visible_file(ctx, file_path)
    package = services.package_of(record, ctx.repo)
    return versions.describe(ctx, versions.get_version(package, record.version))


@api.route("/file_package/{subject}/{repo}/{file_path+}", ["GET"], Need.ANYONE, response=schemas.PACKAGE)
def file_package(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    assert ctx.repo is not None
    record = services.visible_file(ctx, file_path)
    return packages.describe(ctx, services.package_of(record, ctx.repo))


@api.route(
    "/file_metadata/{subject}/{repo}/{file_path+}",
    ["PUT"],
    Need.PUBLISH,
    body=FileMetadataBody,
    response=schemas.MESSAGE,
)
def file_metadata(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    body = parse_body(ctx.raw_body, FileMetadataBody)
    services.set_list_in_downloads(services.visible_file(ctx, file_path), body.list_in_downloads)
    return SUCCESS


@api.route(
    "/search/file",
    ["GET"],
    Need.ANYONE,
    query=schemas.FileSearch,
    response=schemas.array(schemas.FILE),
)
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
