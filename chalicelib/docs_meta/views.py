"""Routes of package readmes and package/version release notes (spec: Readme, Release Notes).

Creation answers 200 with the stored document, as the spec's "Status: 200 CREATED" shows.
"""

from __future__ import annotations

from chalicelib.auth.policy import Need
from chalicelib.docs_meta import services
from chalicelib.docs_meta.services import PackageNotesBody, ReadmeBody, VersionNotesBody
from chalicelib.packages.services import get_package
from chalicelib.packages.versions import get_version
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api

api = Api(__name__)
SUCCESS = {"message": "success"}

README = "/packages/{subject}/{repo}/{package}/readme"
PACKAGE_NOTES = "/packages/{subject}/{repo}/{package}/release_notes"
VERSION_NOTES = "/packages/{subject}/{repo}/{package}/versions/{version}/release_notes"


# --- readme -----------------------------------------------------------------------------------


@api.route(README, ["GET"], Need.ANYONE, response=schemas.README)
def get_readme(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    return services.get_readme(get_package(ctx.repo, package))


@api.route(README, ["POST"], Need.PUBLISH, body=ReadmeBody, response=schemas.README)
def create_readme(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    found = get_package(ctx.repo, package)
    return services.set_readme(found, parse_body(ctx.raw_body, ReadmeBody))


@api.route(README, ["DELETE"], Need.PUBLISH, response=schemas.MESSAGE)
def delete_readme(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    services.delete_readme(get_package(ctx.repo, package))
    return SUCCESS


# --- package release notes --------------------------------------------------------------------


@api.route(PACKAGE_NOTES, ["GET"], Need.ANYONE, response=schemas.RELEASE_NOTES)
def get_package_release_notes(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    return services.get_package_notes(get_package(ctx.repo, package))


@api.route(PACKAGE_NOTES, ["POST"], Need.PUBLISH, body=PackageNotesBody, response=schemas.RELEASE_NOTES)
def create_package_release_notes(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    found = get_package(ctx.repo, package)
    return services.set_package_notes(found, parse_body(ctx.raw_body, PackageNotesBody))


@api.route(PACKAGE_NOTES, ["DELETE"], Need.PUBLISH, response=schemas.MESSAGE)
def delete_package_release_notes(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    assert ctx.repo is not None
    services.delete_package_notes(get_package(ctx.repo, package))
    return SUCCESS


# --- version release notes --------------------------------------------------------------------


@api.route(VERSION_NOTES, ["GET"], Need.ANYONE, response=schemas.RELEASE_NOTES)
def get_version_release_notes(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    assert ctx.repo is not None
    found = get_package(ctx.repo, package)
    return services.get_version_notes(found, get_version(found, version))


@api.route(VERSION_NOTES, ["POST"], Need.PUBLISH, body=VersionNotesBody, response=schemas.RELEASE_NOTES)
def create_version_release_notes(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    assert ctx.repo is not None
    found = get_package(ctx.repo, package)
    target = get_version(found, version)
    return services.set_version_notes(found, target, parse_body(ctx.raw_body, VersionNotesBody))
