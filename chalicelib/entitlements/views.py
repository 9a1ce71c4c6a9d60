"""Routes of access keys (organisations and users) and entitlements (products, repositories, packages,
versions), and Entitlement Search. All need 'admin' on the subject; access keys never reach them."""

from __future__ import annotations

from chalice import Response

from chalicelib import plans
from chalicelib.auth.policy import Need, Right, enforce_on_subject
from chalicelib.entitlements import access_keys, search, services
from chalicelib.entitlements.access_keys import AccessKeyBody
from chalicelib.entitlements.services import EntitlementBody, EntitlementUpdate, Scope
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api, created

api = Api(__name__)
SUCCESS = {"message": "success"}


# --- access keys ------------------------------------------------------------------------------


def _key_owner(ctx: Ctx, key_id: str | None = None) -> str:
    """The subject, after the plan check (a named key that does not exist is a 404 first)."""
    assert ctx.subject is not None
    owner = ctx.subject.name
    exists = (lambda: access_keys.get_key(owner, key_id)) if key_id else None
    plans.require(ctx.subject, "access_keys", exists=exists)
    return owner


for _kind, _param in (("orgs", "org"), ("users", "user")):
    _keys = f"/{_kind}/{{{_param}}}/access_keys"
    _key = _keys + "/{access_key_id}"

    @api.route(_keys, ["GET"], Need.ADMIN, response=schemas.ACCESS_KEYS)
    def get_access_keys(ctx: Ctx, **_: str) -> dict:
        return {"access_keys": access_keys.list_keys(_key_owner(ctx))}

    @api.route(_keys, ["POST"], Need.ADMIN, body=AccessKeyBody, response={201: schemas.ACCESS_KEY_CREATED})
    def create_access_key(ctx: Ctx, **_: str) -> Response:
        owner = _key_owner(ctx)
        return created(access_keys.create_key(owner, parse_body(ctx.raw_body, AccessKeyBody)))

    @api.route(_key, ["GET"], Need.ADMIN, response=schemas.ACCESS_KEY)
    def get_access_key(ctx: Ctx, access_key_id: str, **_: str) -> dict:
        return access_keys.describe(access_keys.get_key(_key_owner(ctx, access_key_id), access_key_id))

    @api.route(_key, ["PATCH"], Need.ADMIN, body=AccessKeyBody, response=schemas.OBJECT)
    def update_access_key(ctx: Ctx, access_key_id: str, **_: str) -> dict:
        owner = _key_owner(ctx, access_key_id)
        return access_keys.update_key(owner, access_key_id, parse_body(ctx.raw_body, AccessKeyBody))

    @api.route(_key, ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
    def delete_access_key(ctx: Ctx, access_key_id: str, **_: str) -> dict:
        access_keys.delete_key(_key_owner(ctx, access_key_id), access_key_id)
        return SUCCESS


# --- entitlements -----------------------------------------------------------------------------

SCOPES = {
    "product": "/products/{subject}/{product}/entitlements",
    "repo": "/repos/{subject}/{repo}/entitlements",
    "package": "/packages/{subject}/{repo}/{package}/entitlements",
    "version": "/packages/{subject}/{repo}/{package}/versions/{version}/entitlements",
}


def _scope(ctx: Ctx, params: dict[str, str], entitlement_id: str | None = None) -> Scope:
    """The route's scope (404s), then the plan checks (``entitlement_id``: its 404 first)."""
    assert ctx.subject is not None
    scope = services.scope_of(
        ctx.subject, ctx.repo, params.get("package"), params.get("version"), params.get("product")
    )
    services.require_plan(ctx.subject, scope, entitlement_id)
    return scope


for _path in SCOPES.values():

    @api.route(_path, ["GET"], Need.ADMIN, response=schemas.ENTITLEMENT_IDS)
    def get_entitlements(ctx: Ctx, **params: str) -> list[dict]:
        return services.list_ids(_scope(ctx, params))

    @api.route(_path, ["POST"], Need.ADMIN, body=EntitlementBody, response={201: schemas.ENTITLEMENT})
    def create_entitlement(ctx: Ctx, **params: str) -> Response:
        scope = _scope(ctx, params)
        return created(services.describe(services.create(scope, parse_body(ctx.raw_body, EntitlementBody))))

    @api.route(_path + "/{entitlement_id}", ["GET"], Need.ADMIN, response=schemas.ENTITLEMENT)
    def get_entitlement(ctx: Ctx, entitlement_id: str, **params: str) -> dict:
        return services.describe(services.get(_scope(ctx, params, entitlement_id), entitlement_id))

    @api.route(
        _path + "/{entitlement_id}",
        ["PATCH"],
        Need.ADMIN,
        body=EntitlementUpdate,
        response=schemas.ENTITLEMENT,
    )
    def update_entitlement(ctx: Ctx, entitlement_id: str, **params: str) -> dict:
        scope = _scope(ctx, params, entitlement_id)
        body = parse_body(ctx.raw_body, EntitlementUpdate)
        return services.describe(services.update(scope, entitlement_id, body))

    @api.route(_path + "/{entitlement_id}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
    def delete_entitlement(ctx: Ctx, entitlement_id: str, **params: str) -> dict:
        services.delete(_scope(ctx, params, entitlement_id), entitlement_id)
        return SUCCESS


@api.route(
    "/search/entitlements",
    ["GET"],
    Need.AUTHENTICATED,
    query=schemas.EntitlementSearch,
    response=schemas.array(schemas.OBJECT),
)
def search_entitlements(ctx: Ctx) -> list[dict]:
    """The scope's subject comes from the query: 'admin' on it is enforced like a path subject's."""
    parts = search.parse_scope(ctx.query)
    enforce_on_subject(ctx, parts[0], Right.ADMIN)
    assert ctx.subject is not None
    services.require_plan(ctx.subject)
    return search.search(parts[0], parts, ctx.query)
