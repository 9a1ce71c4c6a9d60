"""Routes of usage thresholds: ``/usage_threshold/organization/:org``, ``/repo/:org/:repo`` and
``/business_unit/:org/:business_unit`` (GET, POST, PATCH, DELETE).

The organisation and repository routes need the admin right (``Need.ADMIN``: 403 ``forbidden``
otherwise); the business-unit routes check that the business unit exists first (404, as observed even
for callers without rights), then the admin right on the organisation through the policy
(``policy.require``). Then: an organisation (404), on Enterprise (403).
"""

from __future__ import annotations

from chalice import Response

from chalicelib import business_units
from chalicelib.auth.policy import Need, Right, require
from chalicelib.thresholds import services
from chalicelib.thresholds.models import BUSINESS_UNIT, ORGANIZATION, REPO, scope_key
from chalicelib.thresholds.services import NewThresholdBody, ThresholdBody
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}


def _scope(ctx: Ctx, kind: str, name: str | None = None) -> tuple[str, str | None]:
    """(the threshold's range key, the repository id) of the path, after every refusal."""
    if kind == BUSINESS_UNIT:
        assert name is not None and ctx.subject_name is not None
        business_units.require(ctx.subject_name, name)
        require(ctx, Right.ADMIN)
    services.require_org(ctx.subject)
    if kind == REPO:
        assert ctx.repo is not None
        return services.repo_scope(ctx.repo), ctx.repo.id
    return scope_key(kind, name), None


def _get(ctx: Ctx, kind: str, name: str | None = None) -> dict:
    scope, _ = _scope(ctx, kind, name)
    assert ctx.subject_name is not None
    return services.describe(services.get(ctx.subject_name, scope))


def _create(ctx: Ctx, kind: str, name: str | None = None) -> Response:
    _, repo_id = _scope(ctx, kind, name)
    body = parse_body(ctx.raw_body, NewThresholdBody)
    assert ctx.subject is not None
    shown = ctx.repo.name if ctx.repo is not None else name
    return created(services.describe(services.create(ctx.subject, kind, shown, repo_id, body)))


def _update(ctx: Ctx, kind: str, name: str | None = None) -> dict:
    scope, _ = _scope(ctx, kind, name)
    body = parse_body(ctx.raw_body, ThresholdBody)
    assert ctx.subject_name is not None
    services.update(ctx.subject_name, scope, body)
    return services.describe(services.get(ctx.subject_name, scope))


def _delete(ctx: Ctx, kind: str, name: str | None = None) -> dict:
    scope, _ = _scope(ctx, kind, name)
    assert ctx.subject_name is not None
    services.delete(ctx.subject_name, scope)
    return SUCCESS


# --- an organisation ----------------------------------------------------------------------------


@api.route("/usage_threshold/organization/{org}", ["GET"], Need.ADMIN, response=schemas.THRESHOLD)
def get_org_threshold(ctx: Ctx, org: str) -> dict:
    return _get(ctx, ORGANIZATION)


@api.route(
    "/usage_threshold/organization/{org}",
    ["POST"],
    Need.ADMIN,
    body=NewThresholdBody,
    response={201: schemas.THRESHOLD},
)
def create_org_threshold(ctx: Ctx, org: str) -> Response:
    return _create(ctx, ORGANIZATION)


@api.route(
    "/usage_threshold/organization/{org}",
    ["PATCH"],
    Need.ADMIN,
    body=ThresholdBody,
    response=schemas.THRESHOLD,
)
def update_org_threshold(ctx: Ctx, org: str) -> dict:
    return _update(ctx, ORGANIZATION)


@api.route("/usage_threshold/organization/{org}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_org_threshold(ctx: Ctx, org: str) -> dict:
    return _delete(ctx, ORGANIZATION)


# --- a repository -------------------------------------------------------------------------------


@api.route("/usage_threshold/repo/{org}/{repo}", ["GET"], Need.ADMIN, response=schemas.THRESHOLD)
def get_repo_threshold(ctx: Ctx, org: str, repo: str) -> dict:
    return _get(ctx, REPO)


@api.route(
    "/usage_threshold/repo/{org}/{repo}",
    ["POST"],
    Need.ADMIN,
    body=NewThresholdBody,
    response={201: schemas.THRESHOLD},
)
def create_repo_threshold(ctx: Ctx, org: str, repo: str) -> Response:
    return _create(ctx, REPO)


@api.route(
    "/usage_threshold/repo/{org}/{repo}",
    ["PATCH"],
    Need.ADMIN,
    body=ThresholdBody,
    response=schemas.THRESHOLD,
)
def update_repo_threshold(ctx: Ctx, org: str, repo: str) -> dict:
    return _update(ctx, REPO)


@api.route("/usage_threshold/repo/{org}/{repo}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_repo_threshold(ctx: Ctx, org: str, repo: str) -> dict:
    return _delete(ctx, REPO)


# --- a business unit ----------------------------------------------------------------------------


@api.route(
    "/usage_threshold/business_unit/{org}/{business_unit}",
    ["GET"],
    Need.AUTHENTICATED,
    response=schemas.THRESHOLD,
)
def get_business_unit_threshold(ctx: Ctx, org: str, business_unit: str) -> dict:
    return _get(ctx, BUSINESS_UNIT, business_unit)


@api.route(
    "/usage_threshold/business_unit/{org}/{business_unit}",
    ["POST"],
    Need.AUTHENTICATED,
    body=NewThresholdBody,
    response={201: schemas.THRESHOLD},
)
def create_business_unit_threshold(ctx: Ctx, org: str, business_unit: str) -> Response:
    return _create(ctx, BUSINESS_UNIT, business_unit)


@api.route(
    "/usage_threshold/business_unit/{org}/{business_unit}",
    ["PATCH"],
    Need.AUTHENTICATED,
    body=ThresholdBody,
    response=schemas.THRESHOLD,
)
def update_business_unit_threshold(ctx: Ctx, org: str, business_unit: str) -> dict:
    return _update(ctx, BUSINESS_UNIT, business_unit)


@api.route(
    "/usage_threshold/business_unit/{org}/{business_unit}",
    ["DELETE"],
    Need.AUTHENTICATED,
    response=schemas.MESSAGE,
)
def delete_business_unit_threshold(ctx: Ctx, org: str, business_unit: str) -> dict:
    return _delete(ctx, BUSINESS_UNIT, business_unit)
