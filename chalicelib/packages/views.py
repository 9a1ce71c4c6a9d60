"""Routes of packages, versions, package searches and OSS licenses."""

from __future__ import annotations

from chalice import Response

from chalicelib import licenses
from chalicelib.auth.policy import Need
from chalicelib.packages import services, versions
from chalicelib.packages.services import CreatePackageBody, UpdatePackageBody
from chalicelib.packages.versions import CreateVersionBody, UpdateVersionBody
from chalicelib.validation import flag, parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.paging import AUTHENTICATED_PAGE_SIZE, PAGE_SIZE, paged_response, start_pos
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}


# --- packages ---------------------------------------------------------------------------------


@api.route(
    "/repos/{subject}/{repo}/packages",
    ["GET"],
    Need.ANYONE,
    query=schemas.StartName,
    response=schemas.paged(schemas.PACKAGE_ITEM),
)
def get_packages(ctx: Ctx, subject: str, repo: str) -> Response:
    assert ctx.repo is not None
    start = start_pos(ctx.query)
    size = AUTHENTICATED_PAGE_SIZE if ctx.principal.authenticated else PAGE_SIZE
    items, total = services.list_packages(ctx.repo, start, ctx.query.get("start_name"), size)
    return paged_response([{"name": n, "linked": linked} for n, linked in items], start, total)


@api.route(
    "/packages/{subject}/{repo}",
    ["POST"],
    Need.PUBLISH,
    body=CreatePackageBody,
    response={201: schemas.PACKAGE},
)
def create_package(ctx: Ctx, subject: str, repo: str) -> Response:
    assert ctx.subject is not None and ctx.repo is not None
    package = services.create_package(ctx.subject, ctx.repo, parse_body(ctx.raw_body, CreatePackageBody))
    return created(services.describe(ctx, package))


@api.route(
    "/packages/{subject}/{repo}/{package}",
    ["GET"],
    Need.ANYONE,
    query=schemas.AttributeValues,
    response=schemas.PACKAGE,
)
def get_package(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    found = services.get_package(ctx.repo, package)
    return services.describe(ctx, found, attribute_values=flag(ctx.query, "attribute_values"))


@api.route(
    "/packages/{subject}/{repo}/{package}",
    ["PATCH"],
    Need.PUBLISH,
    body=UpdatePackageBody,
    response=schemas.MESSAGE,
)
def update_package(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    """Update Package: ``{"message": "success"}`` (as the real service answered)."""
    assert ctx.subject is not None and ctx.repo is not None
    found = services.get_package(ctx.repo, package)
    services.update_package(ctx.subject, ctx.repo, found, parse_body(ctx.raw_body, UpdatePackageBody))
    return SUCCESS


@api.route("/packages/{subject}/{repo}/{package}", ["DELETE"], Need.PUBLISH, response=schemas.MESSAGE)
def delete_package(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    services.delete_package(ctx.repo, services.get_package(ctx.repo, package))
    return SUCCESS


@api.route(
    "/search/packages",
    ["GET"],
    Need.ANYONE,
    query=schemas.PackageSearch,
    response=schemas.array(schemas.PACKAGE),
)
def search_packages(ctx: Ctx) -> list[dict]:
    q = ctx.query
    found = services.search(
        q.get("name"), q.get("desc"), q.get("subject"), q.get("repo"), start_pos(q), PAGE_SIZE
    )
    return [services.describe(ctx, package, can_publish=False) for package in found]


@api.route(
    "/search/packages/maven",
    ["GET"],
    Need.ANYONE,
    query=schemas.MavenSearch,
    response=schemas.array(schemas.OBJECT),
)
def search_maven_packages(ctx: Ctx) -> list[dict]:
    q = ctx.query
    return services.maven_search(
        q.get("g"), q.get("a"), q.get("q"), q.get("subject"), q.get("repo"), start_pos(q), PAGE_SIZE
    )


# --- versions ---------------------------------------------------------------------------------


@api.route(
    "/packages/{subject}/{repo}/{package}/versions",
    ["POST"],
    Need.PUBLISH,
    body=CreateVersionBody,
    response={201: schemas.VERSION},
)
def create_version(ctx: Ctx, subject: str, repo: str, package: str) -> Response:
    assert ctx.repo is not None
    found = services.get_package(ctx.repo, package)
    version = versions.create_version(ctx.repo, found, parse_body(ctx.raw_body, CreateVersionBody))
    return created(versions.describe(ctx, version))


@api.route(
    "/packages/{subject}/{repo}/{package}/versions/{version}",
    ["GET"],
    Need.ANYONE,
    query=schemas.AttributeValues,
    response=schemas.VERSION,
)
def get_version(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    assert ctx.repo is not None
    found = versions.get_version(services.get_package(ctx.repo, package), version)
    return versions.describe(ctx, found, attribute_values=flag(ctx.query, "attribute_values"))


@api.route(
    "/packages/{subject}/{repo}/{package}/versions/{version}",
    ["PATCH"],
    Need.PUBLISH,
    body=UpdateVersionBody,
    response=schemas.MESSAGE,
)
def update_version(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    """Update Version: ``{"message": "success"}`` (as the real service answered)."""
    assert ctx.repo is not None
    found = versions.get_version(services.get_package(ctx.repo, package), version)
    versions.update_version(found, parse_body(ctx.raw_body, UpdateVersionBody))
    return SUCCESS


@api.route(
    "/packages/{subject}/{repo}/{package}/versions/{version}",
    ["DELETE"],
    Need.PUBLISH,
    response=schemas.MESSAGE,
)
def delete_version(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    assert ctx.repo is not None
    parent = services.get_package(ctx.repo, package)
    versions.delete_version(parent, versions.get_version(parent, version))
    return SUCCESS


# --- licenses ---------------------------------------------------------------------------------


@api.route("/licenses/oss_licenses", ["GET"], Need.ANYONE, response=schemas.OSS_LICENSES)
def oss_licenses(ctx: Ctx) -> list[dict]:
    return [dict(entry) for entry in licenses.OSS_LICENSES]
