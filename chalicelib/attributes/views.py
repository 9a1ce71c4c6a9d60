"""Routes of package and version attributes and of attribute search."""

from __future__ import annotations

from typing import Any

from chalicelib.attributes import services
from chalicelib.attributes.services import Target, package_target, split_names, version_target
from chalicelib.auth.policy import Need, Right
from chalicelib.packages import services as packages
from chalicelib.packages import versions
from chalicelib.validation import flag, parse_json
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api

api = Api(__name__)
SUCCESS = {"message": "success"}
PACKAGE = "/packages/{subject}/{repo}/{package}/attributes"
VERSION = "/packages/{subject}/{repo}/{package}/versions/{version}/attributes"


def _package(ctx: Ctx, package: str) -> Target:
    assert ctx.repo is not None
    return package_target(packages.get_package(ctx.repo, package))


def _version(ctx: Ctx, package: str, version: str) -> Target:
    assert ctx.repo is not None
    parent = packages.get_package(ctx.repo, package)
    return version_target(parent, versions.get_version(parent, version))


def _get(ctx: Ctx, target: Target) -> list[dict[str, Any]]:
    return services.get_attributes(target, split_names(ctx.query.get("names")), ctx.can(Right.PUBLISH))


def _set(ctx: Ctx, target: Target) -> list[dict[str, Any]]:
    services.set_attributes(target, parse_json(ctx.raw_body))
    return _get(ctx, target)


def _update(ctx: Ctx, target: Target) -> list[dict[str, Any]]:
    services.update_attributes(target, parse_json(ctx.raw_body))
    return _get(ctx, target)


def _delete(ctx: Ctx, target: Target) -> dict[str, str]:
    services.delete_attributes(target, split_names(ctx.query.get("names")))
    return SUCCESS


# --- package attributes -----------------------------------------------------------------------


@api.route(PACKAGE, ["GET"], Need.ANYONE, query=schemas.AttributeNames, response=schemas.ATTRIBUTES)
def get_package_attributes(ctx: Ctx, subject: str, repo: str, package: str) -> list[dict]:
    return _get(ctx, _package(ctx, package))


@api.route(
    PACKAGE,
    ["POST"],
    Need.PUBLISH,
    body=schemas.ATTRIBUTES_BODY,
    query=schemas.AttributeNames,
    response=schemas.ATTRIBUTES,
)
def set_package_attributes(ctx: Ctx, subject: str, repo: str, package: str) -> list[dict]:
    return _set(ctx, _package(ctx, package))


@api.route(
    PACKAGE,
    ["PATCH"],
    Need.PUBLISH,
    body=schemas.ATTRIBUTES_BODY,
    query=schemas.AttributeNames,
    response=schemas.ATTRIBUTES,
)
def update_package_attributes(ctx: Ctx, subject: str, repo: str, package: str) -> list[dict]:
    return _update(ctx, _package(ctx, package))


@api.route(PACKAGE, ["DELETE"], Need.PUBLISH, query=schemas.AttributeNames, response=schemas.MESSAGE)
def delete_package_attributes(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    return _delete(ctx, _package(ctx, package))


# --- version attributes -----------------------------------------------------------------------


@api.route(VERSION, ["GET"], Need.ANYONE, query=schemas.AttributeNames, response=schemas.ATTRIBUTES)
def get_version_attributes(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> list[dict]:
    return _get(ctx, _version(ctx, package, version))


@api.route(
    VERSION,
    ["POST"],
    Need.PUBLISH,
    body=schemas.ATTRIBUTES_BODY,
    query=schemas.AttributeNames,
    response=schemas.ATTRIBUTES,
)
def set_version_attributes(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> list[dict]:
    return _set(ctx, _version(ctx, package, version))


@api.route(
    VERSION,
    ["PATCH"],
    Need.PUBLISH,
    body=schemas.ATTRIBUTES_BODY,
    query=schemas.AttributeNames,
    response=schemas.ATTRIBUTES,
)
def update_version_attributes(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> list[dict]:
    return _update(ctx, _version(ctx, package, version))


@api.route(VERSION, ["DELETE"], Need.PUBLISH, query=schemas.AttributeNames, response=schemas.MESSAGE)
def delete_version_attributes(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    return _delete(ctx, _version(ctx, package, version))


# --- search -----------------------------------------------------------------------------------


@api.route(
    "/search/attributes/{subject}/{repo}",
    ["POST"],
    Need.ANYONE,
    body=schemas.ATTRIBUTE_QUERY,
    query=schemas.AttributeValues,
    response=schemas.array(schemas.PACKAGE),
)
def search_package_attributes(ctx: Ctx, subject: str, repo: str) -> list[dict]:
    assert ctx.repo is not None
    can_publish = ctx.can(Right.PUBLISH)
    found = services.search_packages(ctx.repo.id, parse_json(ctx.raw_body), can_publish)
    values = flag(ctx.query, "attribute_values")
    return [packages.describe(ctx, p, attribute_values=values) for p in found]


@api.route(
    "/search/attributes/{subject}/{repo}/{package}/versions",
    ["POST"],
    Need.ANYONE,
    body=schemas.ATTRIBUTE_QUERY,
    query=schemas.AttributeValues,
    response=schemas.array(schemas.VERSION),
)
def search_version_attributes(ctx: Ctx, subject: str, repo: str, package: str) -> list[dict]:
    assert ctx.repo is not None
    parent = packages.get_package(ctx.repo, package)
    found = services.search_versions(parent, parse_json(ctx.raw_body), ctx.can(Right.PUBLISH))
    values = flag(ctx.query, "attribute_values")
    return [versions.describe(ctx, v, attribute_values=values) for v in found]
