"""Routes of proprietary licenses (spec: Licenses). ``GET /licenses/oss_licenses`` lives with the
packages routes.

Security: listing an organisation's licenses needs the 'publish' right on the organisation as the
central policy computes it (``rights_on``: its owner, admins and the members it gives publish);
listing a user's needs 'admin' on the user (the user or a system administrator); create, update and
delete need 'admin' (organisation owner or admin, the user, a system administrator).
"""

from __future__ import annotations

from chalice import Response

from chalicelib.accounts.models import ORG, USER, Subject
from chalicelib.auth.policy import Need
from chalicelib.errors import NotFound
from chalicelib.licenses import services
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}


def _check_kind(subject: Subject | None, kind: str) -> Subject:
    assert subject is not None
    if subject.kind != kind:
        title = "Organization" if kind == ORG else "User"
        raise NotFound(f"{title} '{subject.name}' was not found")
    return subject


def _list(subject: Subject) -> list[dict]:
    return [services.render(lic) for lic in services.list_licenses(subject)]


def _create(ctx: Ctx, subject: Subject) -> Response:
    body = services.parse_license_body(ctx.raw_body, services.NewLicenseBody)
    return created(services.render(services.create_license(subject, body)))


def _update(ctx: Ctx, subject: Subject, name: str) -> dict:
    body = services.parse_license_body(ctx.raw_body)
    return services.render(services.update_license(subject, name, body))


def _delete(subject: Subject, name: str) -> dict:
    services.delete_license(subject, name)
    return SUCCESS


@api.route("/orgs/{org}/licenses", ["GET"], Need.PUBLISH, response=schemas.array(schemas.LICENSE))
def get_org_licenses(ctx: Ctx, org: str) -> list[dict]:
    return _list(_check_kind(ctx.subject, ORG))


@api.route("/users/{user}/licenses", ["GET"], Need.ADMIN, response=schemas.array(schemas.LICENSE))
def get_user_licenses(ctx: Ctx, user: str) -> list[dict]:
    return _list(_check_kind(ctx.subject, USER))


@api.route(
    "/orgs/{org}/licenses",
    ["POST"],
    Need.ADMIN,
    body=services.NewLicenseBody,
    response={201: schemas.LICENSE},
)
def create_org_license(ctx: Ctx, org: str) -> Response:
    return _create(ctx, _check_kind(ctx.subject, ORG))


@api.route(
    "/users/{user}/licenses",
    ["POST"],
    Need.ADMIN,
    body=services.NewLicenseBody,
    response={201: schemas.LICENSE},
)
def create_user_license(ctx: Ctx, user: str) -> Response:
    return _create(ctx, _check_kind(ctx.subject, USER))


@api.route(
    "/orgs/{org}/licenses/{custom_license_name}",
    ["PATCH"],
    Need.ADMIN,
    body=services.LicenseBody,
    response=schemas.LICENSE,
)
def update_org_license(ctx: Ctx, org: str, custom_license_name: str) -> dict:
    return _update(ctx, _check_kind(ctx.subject, ORG), custom_license_name)


@api.route(
    "/users/{user}/licenses/{custom_license_name}",
    ["PATCH"],
    Need.ADMIN,
    body=services.LicenseBody,
    response=schemas.LICENSE,
)
def update_user_license(ctx: Ctx, user: str, custom_license_name: str) -> dict:
    return _update(ctx, _check_kind(ctx.subject, USER), custom_license_name)


@api.route("/orgs/{org}/licenses/{custom_license_name}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_org_license(ctx: Ctx, org: str, custom_license_name: str) -> dict:
    return _delete(_check_kind(ctx.subject, ORG), custom_license_name)


@api.route("/users/{user}/licenses/{custom_license_name}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_user_license(ctx: Ctx, user: str, custom_license_name: str) -> dict:
    return _delete(_check_kind(ctx.subject, USER), custom_license_name)
