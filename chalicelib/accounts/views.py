"""Routes of users, organisations, memberships, followers and API keys."""

from __future__ import annotations

from chalice import Response

from chalicelib.accounts import services
from chalicelib.accounts.services import MemberBody, OrgBody, UserBody
from chalicelib.auth.policy import Need
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.paging import PAGE_SIZE, paged_response, start_pos
from chalicelib.web.routing import Api, json_response

api = Api(__name__)
SUCCESS = {"message": "success"}


# --- system administration (after the Artifactory security API) --------------------------------


@api.route("/api/security/users", ["GET"], Need.SYSADMIN, response=schemas.SECURITY_USERS)
def list_users(ctx: Ctx) -> list[dict]:
    base = "/api/security/users/"
    return [{"name": u.name, "uri": base + u.name, "realm": "internal"} for u in services.list_users()]


@api.route("/api/security/users/{name}", ["PUT"], Need.SYSADMIN, body=UserBody, response=schemas.PUT_USER)
def put_user(ctx: Ctx, name: str) -> Response:
    user, key = services.put_user(name, parse_body(ctx.raw_body, UserBody))
    if key is None:
        return json_response({"name": user.name})
    return json_response({"name": user.name, "api_key": key}, 201)


@api.route("/api/security/users/{name}", ["GET"], Need.SYSADMIN, response=schemas.SECURITY_USER)
def get_security_user(ctx: Ctx, name: str) -> dict:
    return services.describe_security_user(services.get_user(name))


@api.route("/api/security/users/{name}", ["DELETE"], Need.SYSADMIN, response=schemas.MESSAGE)
def delete_user(ctx: Ctx, name: str) -> dict:
    services.delete_user(name)
    return SUCCESS


@api.route("/api/security/apiKey", ["POST"], Need.AUTHENTICATED, response=schemas.API_KEY)
def regenerate_api_key(ctx: Ctx) -> dict:
    return {"apiKey": services.regenerate_api_key(ctx.principal)}


@api.route("/orgs/{org}", ["PUT"], Need.SYSADMIN, body=OrgBody, response={200: schemas.ORG, 201: schemas.ORG})
def put_org(ctx: Ctx, org: str) -> Response:
    subject, created = services.put_org(org, parse_body(ctx.raw_body, OrgBody))
    return json_response(services.describe_org(ctx, subject), 201 if created else 200)


@api.route("/orgs/{org}", ["DELETE"], Need.SYSADMIN, response=schemas.MESSAGE)
def delete_org(ctx: Ctx, org: str) -> dict:
    services.delete_org(org)
    return SUCCESS


# --- organisations ------------------------------------------------------------------------------


@api.route("/orgs/{org}", ["GET"], Need.AUTHENTICATED, response=schemas.ORG)
def get_org(ctx: Ctx, org: str) -> dict:
    return services.describe_org(ctx, services.get_org(org))


@api.route("/orgs/{org}/members/{user}", ["PUT"], Need.ADMIN, body=MemberBody, response=schemas.MEMBER)
def put_member(ctx: Ctx, org: str, user: str) -> dict:
    return services.set_member(services.get_org(org), user, parse_body(ctx.raw_body, MemberBody))


@api.route("/orgs/{org}/members/{user}", ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_member(ctx: Ctx, org: str, user: str) -> dict:
    services.remove_member(services.get_org(org), user)
    return SUCCESS


# --- users ------------------------------------------------------------------------------------


@api.route("/users/{user}", ["GET"], Need.AUTHENTICATED, response=schemas.USER)
def get_user(ctx: Ctx, user: str) -> dict:
    return services.describe_user(ctx, services.get_user(user))


@api.route(
    "/users/{user}/followers",
    ["GET"],
    Need.AUTHENTICATED,
    query=schemas.Paging,
    response=schemas.paged(schemas.FOLLOWER),
)
def get_followers(ctx: Ctx, user: str) -> Response:
    start = start_pos(ctx.query)
    assert ctx.subject is not None
    items, total = services.followers(ctx.subject, start, PAGE_SIZE)
    return paged_response(items, start, total)


@api.route("/users/{user}/follow", ["POST"], Need.AUTHENTICATED, response=schemas.MESSAGE)
def follow(ctx: Ctx, user: str) -> dict:
    assert ctx.subject is not None
    services.follow(ctx.principal, ctx.subject)
    return SUCCESS


@api.route("/users/{user}/follow", ["DELETE"], Need.AUTHENTICATED, response=schemas.MESSAGE)
def unfollow(ctx: Ctx, user: str) -> dict:
    services.unfollow(ctx.principal.name, user)
    return SUCCESS


@api.route(
    "/search/users",
    ["GET"],
    Need.AUTHENTICATED,
    query=schemas.UserSearch,
    response=schemas.array(schemas.USER),
)
def search_users(ctx: Ctx) -> list[dict]:
    return services.search_users(ctx, ctx.query.get("name", ""), start_pos(ctx.query), PAGE_SIZE)
