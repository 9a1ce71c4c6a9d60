"""Accounts API end to end: security users, API keys, admin bootstrap, authentication errors,
organisations and members, users, followers and user search.

Spec: "Users & Organizations" of the Bintray REST API; the admin endpoints follow the Artifactory
security API (Get Users, Get User Details, Create or Replace User, Create API Key).
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from chalicelib.accounts.bootstrap import bootstrap_from_env
from chalicelib.accounts.models import Subject
from tests.conftest import unique

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

USER_FIELDS = {"name", "full_name", "gravatar_id", "repos", "organizations", "followers_count", "registered"}
ORG_FIELDS = {"name", "repos", "followers_count", "registered", "owner", "full_name", "plan", "members"}
SECURITY_USER_FIELDS = {"name", "email", "admin", "plan", "full_name", "realm", "registered"}
ORG_ADMIN_FIELDS = ORG_FIELDS | {"quota_used_bytes"}
PREMIUM_ORG_ADMIN_FIELDS = ORG_ADMIN_FIELDS | {"teams"}


# --- helpers -----------------------------------------------------------------------------------


def put_user(api, auth, name, /, **body):
    body.setdefault("email", f"{name}@example.com")
    return api.put(f"/api/security/users/{name}", auth, json=body)


def assert_error(response, status, *words):
    """``response`` is ``status`` with a JSON {"message"} that mentions every word."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message"}, body
    assert isinstance(body["message"], str) and body["message"]
    for word in words:
        assert word in body["message"], body["message"]


def key_works(api, name, key) -> bool:
    """Whether ``name:key`` authenticates (GET /users/{name} with it)."""
    response = api.get(f"/users/{name}", auth=(name, key))
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def members(api, org, auth):
    response = api.get(f"/orgs/{org}", auth=auth)
    assert response.status_code == 200, response.text
    return response.json()["members"]


def followers_count(api, name, auth):
    response = api.get(f"/users/{name}", auth=auth)
    assert response.status_code == 200, response.text
    return response.json()["followers_count"]


def basic(raw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


# --- PUT /api/security/users/{name} ------------------------------------------------------------


def test_create_user_returns_key_that_authenticates(api, admin):
    name = unique("u")
    response = put_user(api, admin, name, full_name="Ada L.")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"name", "api_key"}
    assert body["name"] == name
    assert isinstance(body["api_key"], str) and len(body["api_key"]) >= 32
    assert key_works(api, name, body["api_key"])


def test_replace_user_keeps_key_and_returns_no_key(api, admin, world):
    user = world.user()
    response = put_user(api, admin, user.name, email="new@example.com", plan="premium", full_name="New")
    assert response.status_code == 200, response.text
    assert response.json() == {"name": user.name}
    assert key_works(api, user.name, user.key)
    details = api.get(f"/api/security/users/{user.name}", auth=admin).json()
    assert details["email"] == "new@example.com"
    assert details["plan"] == "premium"
    assert details["full_name"] == "New"


def test_put_user_needs_sysadmin(api, world):
    user = world.user()
    assert_error(put_user(api, user.auth, unique("u")), 403)
    assert_error(put_user(api, None, unique("u")), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": 42}, "email"),
        ({"plan": "gold"}, "plan"),
        ({"admin": "yes"}, "admin"),
        ({"full_name": 7}, "full_name"),
        ({"password": 123}, "password"),
    ],
)
def test_put_user_rejects_bad_fields(api, admin, body, field):
    name = unique("u")
    response = put_user(api, admin, name, **body)
    assert_error(response, 400, f"'{field}'")
    assert api.get(f"/api/security/users/{name}", auth=admin).status_code == 404


def test_put_user_requires_email(api, admin):
    response = api.put(f"/api/security/users/{unique('u')}", admin, json={"plan": "oss"})
    assert_error(response, 400, "'email'")


def test_put_user_rejects_malformed_json(api, admin):
    response = api.put(f"/api/security/users/{unique('u')}", admin, data="{not json")
    assert_error(response, 400)


@pytest.mark.parametrize("name", ["a%20b", "-x", "x-", "x" * 100, "a.b", "a_b!"])
def test_put_user_rejects_invalid_names(api, admin, name):
    response = api.put(f"/api/security/users/{name}", admin, json={"email": "x@example.com"})
    assert_error(response, 400, "name")


def test_put_user_name_length_limit(api, admin):
    longest = unique("u").ljust(64, "x")
    assert put_user(api, admin, longest).status_code == 201
    assert_error(put_user(api, admin, unique("u").ljust(65, "x")), 400, "name")


def test_put_user_rejects_trailing_newline_in_name(api, admin):
    name = unique("u")
    assert_error(
        api.put(f"/api/security/users/{name}%0A", admin, json={"email": "x@example.com"}), 400, "name"
    )


def test_admin_flag_grants_and_replace_revokes_sysadmin(api, admin):
    name = unique("u")
    key = put_user(api, admin, name, admin=True).json()["api_key"]
    assert api.get("/api/security/users", auth=(name, key)).status_code == 200
    assert put_user(api, admin, name, admin=False).status_code == 200
    assert_error(api.get("/api/security/users", auth=(name, key)), 403)


def test_put_user_name_taken_by_org(api, admin, world):
    org = world.org(world.user())
    assert_error(put_user(api, admin, org), 409)
    assert api.get(f"/orgs/{org}", auth=admin).status_code == 200


def test_keys_and_passwords_are_stored_hashed(api, admin):
    name = unique("u")
    password = "correct horse battery staple"
    response = put_user(api, admin, name, password=password)
    assert response.status_code == 201, response.text
    key = response.json()["api_key"]
    stored = Subject.get(name)
    assert stored.api_key_hash and key not in stored.api_key_hash
    assert stored.password_hash and password not in stored.password_hash
    assert stored.password_hash != stored.api_key_hash


# --- GET /api/security/users[/{name}] ----------------------------------------------------------


def test_list_users_includes_created_user(api, admin, world):
    user = world.user()
    response = api.get("/api/security/users", auth=admin)
    assert response.status_code == 200, response.text
    entries = {entry["name"]: entry for entry in response.json()}
    assert entries[user.name] == {
        "name": user.name,
        "uri": f"/api/security/users/{user.name}",
        "realm": "internal",
    }


def test_list_users_needs_sysadmin(api, world):
    assert_error(api.get("/api/security/users", auth=world.user().auth), 403)
    assert_error(api.get("/api/security/users"), 401)


def test_get_security_user_shape_hides_secrets(api, admin):
    name = unique("u")
    assert (
        put_user(api, admin, name, password="s3cret-pass", plan="enterprise", admin=True).status_code == 201
    )
    response = api.get(f"/api/security/users/{name}", auth=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == SECURITY_USER_FIELDS
    assert not {"api_key", "apiKey", "password", "password_hash", "api_key_hash"} & set(body)
    assert "s3cret-pass" not in response.text and "sha256$" not in response.text
    assert body["name"] == name
    assert body["email"] == f"{name}@example.com"
    assert body["admin"] is True
    assert body["plan"] == "enterprise"
    assert body["realm"] == "internal"
    assert ISO.match(body["registered"])


def test_get_security_user_unknown_and_org_are_404(api, admin, world):
    assert_error(api.get(f"/api/security/users/{unique('u')}", auth=admin), 404)
    org = world.org(world.user())
    assert_error(api.get(f"/api/security/users/{org}", auth=admin), 404)


def test_get_security_user_needs_sysadmin(api, world):
    user = world.user()
    assert_error(api.get(f"/api/security/users/{user.name}", auth=user.auth), 403)


# --- DELETE /api/security/users/{name} ---------------------------------------------------------


def test_delete_user_revokes_key(api, admin, world):
    user = world.user()
    response = api.delete(f"/api/security/users/{user.name}", auth=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "success"}
    assert_error(api.get(f"/users/{user.name}", auth=user.auth), 401)
    assert_error(api.get(f"/users/{user.name}", auth=admin), 404)
    assert_error(api.get(f"/api/security/users/{user.name}", auth=admin), 404)
    names = {entry["name"] for entry in api.get("/api/security/users", auth=admin).json()}
    assert user.name not in names


def test_delete_user_who_owns_org_conflicts(api, admin, world):
    owner = world.user()
    org = world.org(owner)
    assert_error(api.delete(f"/api/security/users/{owner.name}", auth=admin), 409, org)
    assert key_works(api, owner.name, owner.key)


def test_delete_user_removes_repositories(api, admin, world):
    user = world.user()
    repo = world.repo(user.name)
    assert api.get(f"/repos/{user.name}/{repo}").status_code == 200
    assert api.delete(f"/api/security/users/{user.name}", auth=admin).status_code == 200
    assert put_user(api, admin, user.name).status_code == 201
    assert_error(api.get(f"/repos/{user.name}/{repo}", auth=admin), 404)


def test_delete_user_removes_memberships_and_follows(api, admin, world):
    owner, leaver, fan = world.user(), world.user(), world.user()
    org = world.org(owner)
    world.member(org, leaver)
    assert api.post(f"/users/{owner.name}/follow", auth=leaver.auth).status_code == 200
    assert api.post(f"/users/{leaver.name}/follow", auth=fan.auth).status_code == 200
    assert api.delete(f"/api/security/users/{leaver.name}", auth=admin).status_code == 200
    assert leaver.name not in [m["name"] for m in members(api, org, owner.auth)]
    assert followers_count(api, owner.name, owner.auth) == 0
    assert api.get(f"/users/{owner.name}/followers", auth=owner.auth).json() == []


def test_delete_user_errors(api, admin, world):
    user = world.user()
    assert_error(api.delete(f"/api/security/users/{unique('u')}", auth=admin), 404)
    assert_error(api.delete(f"/api/security/users/{user.name}", auth=user.auth), 403)
    assert_error(api.delete(f"/api/security/users/{user.name}"), 401)
    assert key_works(api, user.name, user.key)


# --- POST /api/security/apiKey -----------------------------------------------------------------


def test_regenerate_api_key(api, world):
    user = world.user()
    response = api.post("/api/security/apiKey", auth=user.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"apiKey"}
    assert isinstance(body["apiKey"], str) and body["apiKey"] != user.key
    assert key_works(api, user.name, body["apiKey"])
    assert not key_works(api, user.name, user.key)
    assert body["apiKey"] not in Subject.get(user.name).api_key_hash


def test_regenerate_api_key_needs_authentication(api):
    assert_error(api.post("/api/security/apiKey"), 401)


# --- system administrator bootstrap ------------------------------------------------------------


def test_bootstrap_creates_and_rekeys_admin(api, monkeypatch):
    name = unique("boot")
    monkeypatch.setenv("SHELF_ADMIN_USER", name)
    monkeypatch.setenv("SHELF_ADMIN_API_KEY", "first-bootstrap-key-0123456789")
    assert bootstrap_from_env() == (name, None)
    first = (name, "first-bootstrap-key-0123456789")
    assert api.get("/api/security/users", auth=first).status_code == 200
    assert api.get(f"/api/security/users/{name}", auth=first).json()["admin"] is True

    monkeypatch.setenv("SHELF_ADMIN_API_KEY", "second-bootstrap-key-0123456789")
    assert bootstrap_from_env() == (name, None)
    assert not key_works(api, name, first[1])
    assert api.get("/api/security/users", auth=(name, "second-bootstrap-key-0123456789")).status_code == 200


def test_bootstrap_generates_key_when_unset(api, monkeypatch):
    name = unique("boot")
    monkeypatch.setenv("SHELF_ADMIN_USER", name)
    monkeypatch.delenv("SHELF_ADMIN_API_KEY", raising=False)
    returned, key = bootstrap_from_env()
    assert returned == name
    assert isinstance(key, str) and len(key) >= 32
    assert api.get("/api/security/users", auth=(name, key)).status_code == 200
    assert key not in Subject.get(name).api_key_hash


def test_bootstrap_promotes_existing_user(api, world, monkeypatch):
    user = world.user()
    monkeypatch.setenv("SHELF_ADMIN_USER", user.name)
    monkeypatch.setenv("SHELF_ADMIN_API_KEY", "promoted-key-0123456789abcdef")
    bootstrap_from_env()
    assert (
        api.get("/api/security/users", auth=(user.name, "promoted-key-0123456789abcdef")).status_code == 200
    )
    assert not key_works(api, user.name, user.key)


# --- authentication errors ---------------------------------------------------------------------


def test_missing_credentials_on_authenticated_route(api, world):
    user = world.user()
    response = api.get(f"/users/{user.name}")
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer x"}, id="bearer"),
        pytest.param({"Authorization": "Basic !!!not-base64!!!"}, id="bad-base64"),
        pytest.param({"Authorization": "Basic "}, id="empty-basic"),
        pytest.param(basic("no-colon-here"), id="no-colon"),
        pytest.param(basic(":only-key"), id="no-user"),
    ],
)
def test_malformed_credentials_are_401(api, world, headers):
    user = world.user()
    response = api.get(f"/users/{user.name}", headers=headers)
    assert_error(response, 401)
    assert "WWW-Authenticate" in response.headers


def test_wrong_key_and_unknown_user_are_401(api, world):
    user = world.user()
    assert_error(api.get(f"/users/{user.name}", auth=(user.name, user.key + "x")), 401)
    assert_error(api.get(f"/users/{user.name}", auth=(unique("ghost"), user.key)), 401)


def test_org_name_cannot_authenticate(api, world):
    owner = world.user()
    org = world.org(owner)
    assert_error(api.get(f"/users/{owner.name}", auth=(org, owner.key)), 401)


def test_wrong_key_on_anonymous_route_is_401(api, world):
    user = world.user()
    world.repo(user.name)
    assert api.get(f"/repos/{user.name}").status_code == 200
    assert_error(api.get(f"/repos/{user.name}", auth=(user.name, "wrong-key")), 401)


# --- PUT /orgs/{org} ---------------------------------------------------------------------------


def test_create_org_returns_org_shape(api, admin, world):
    owner = world.user()
    name = unique("o")
    response = api.put(
        f"/orgs/{name}", admin, json={"owner": owner.name, "plan": "premium", "full_name": "Acme Inc."}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PREMIUM_ORG_ADMIN_FIELDS
    assert body["name"] == name
    assert body["owner"] == owner.name
    assert body["full_name"] == "Acme Inc."
    assert body["repos"] == []
    assert body["followers_count"] == 0
    assert ISO.match(body["registered"])
    assert body["members"] == [{"name": owner.name, "type": "owner"}]
    assert body["plan"] == "premium"
    assert api.get(f"/orgs/{name}", auth=owner.auth).json()["plan"] == "premium"


def test_update_org_plan_alone_keeps_owner_and_full_name(api, admin, world):
    owner, stranger = world.user(), world.user()
    org = unique("o")
    body = {"owner": owner.name, "full_name": "Acme Inc."}
    assert api.put(f"/orgs/{org}", admin, json=body).status_code == 201
    assert api.get(f"/orgs/{org}", auth=stranger.auth).json()["plan"] == "oss"

    response = api.put(f"/orgs/{org}", admin, json={"plan": "enterprise"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["plan"], body["owner"], body["full_name"]) == ("enterprise", owner.name, "Acme Inc.")
    assert body["members"] == [{"name": owner.name, "type": "owner"}]
    seen = api.get(f"/orgs/{org}", auth=stranger.auth).json()
    assert (seen["plan"], seen["owner"], seen["full_name"]) == ("enterprise", owner.name, "Acme Inc.")
    # The new plan is in force: Enterprise features open up for the owner.
    assert api.post(f"/products/{org}", owner.auth, json={"name": "suite", "packages": []}).status_code == 201
    # An owner alone changes the owner and keeps the plan; an empty body changes nothing.
    assert api.put(f"/orgs/{org}", admin, json={"owner": stranger.name}).json()["plan"] == "enterprise"
    response = api.put(f"/orgs/{org}", admin, json={})
    assert response.status_code == 200, response.text
    assert (response.json()["plan"], response.json()["owner"]) == ("enterprise", stranger.name)


def test_update_org_plan_and_owner(api, admin, world):
    first, second = world.user(), world.user()
    org = world.org(first)
    response = api.put(f"/orgs/{org}", admin, json={"owner": second.name, "plan": "enterprise"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["owner"] == second.name
    roles = {m["name"]: m["type"] for m in body["members"]}
    assert roles == {first.name: "admin", second.name: "owner"}
    assert "teams" in body  # now a premium-grade org, seen by a sysadmin
    # The old owner may now be deleted (no longer owns the org); the new one may not.
    assert_error(api.delete(f"/api/security/users/{second.name}", auth=admin), 409)
    assert api.delete(f"/api/security/users/{first.name}", auth=admin).status_code == 200


def test_put_org_errors(api, admin, world):
    owner = world.user()
    assert_error(api.put(f"/orgs/{unique('o')}", admin, json={"owner": unique("ghost")}), 400, "'owner'")
    assert_error(api.put(f"/orgs/{unique('o')}", admin, json={"plan": "oss"}), 400, "'owner'")
    assert_error(
        api.put(f"/orgs/{unique('o')}", admin, json={"owner": owner.name, "plan": "gold"}), 400, "'plan'"
    )
    assert_error(api.put(f"/orgs/{owner.name}", admin, json={"owner": owner.name}), 409)
    assert_error(api.put("/orgs/-bad", admin, json={"owner": owner.name}), 400, "name")
    assert_error(api.put(f"/orgs/{unique('o')}", owner.auth, json={"owner": owner.name}), 403)
    assert_error(api.put(f"/orgs/{unique('o')}", None, json={"owner": owner.name}), 401)


def test_existing_org_owner_cannot_reconfigure_org(api, world):
    owner = world.user()
    org = world.org(owner)
    assert_error(api.put(f"/orgs/{org}", owner.auth, json={"owner": owner.name, "plan": "premium"}), 403)


# --- GET /orgs/{org} ---------------------------------------------------------------------------


@pytest.fixture
def acme(world):
    """A premium org with an owner, an org admin, a plain member, a stranger, and two repos."""
    owner, org_admin, member, stranger = world.user(), world.user(), world.user(), world.user()
    org = world.org(owner, plan="premium")
    world.member(org, org_admin, "admin")
    world.member(org, member, "member")
    public = world.repo(org)
    private = world.repo(org, private=True)
    return {
        "org": org,
        "owner": owner,
        "admin": org_admin,
        "member": member,
        "stranger": stranger,
        "public": public,
        "private": private,
    }


def test_get_org_for_org_admins(api, acme):
    for who in ("owner", "admin"):
        response = api.get(f"/orgs/{acme['org']}", auth=acme[who].auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == PREMIUM_ORG_ADMIN_FIELDS
        assert {m["name"]: m["type"] for m in body["members"]} == {
            acme["owner"].name: "owner",
            acme["admin"].name: "admin",
            acme["member"].name: "member",
        }
        assert body["teams"] == []
        assert isinstance(body["quota_used_bytes"], int)
        assert sorted(body["repos"]) == sorted([acme["public"], acme["private"]])


def test_get_org_for_plain_member(api, acme):
    body = api.get(f"/orgs/{acme['org']}", auth=acme["member"].auth).json()
    assert set(body) == ORG_FIELDS
    assert sorted(m["name"] for m in body["members"]) == sorted(
        acme[who].name for who in ("owner", "admin", "member")
    )
    assert all(set(m) == {"name"} for m in body["members"]), body["members"]
    assert sorted(body["repos"]) == sorted([acme["public"], acme["private"]])


def test_get_org_for_stranger(api, acme):
    body = api.get(f"/orgs/{acme['org']}", auth=acme["stranger"].auth).json()
    assert body["name"] == acme["org"] and body["owner"] == acme["owner"].name
    assert set(body) == ORG_FIELDS
    assert all(set(m) == {"name"} for m in body["members"]), body["members"]
    assert body["repos"] == [acme["public"]]


def test_oss_org_has_no_teams_even_for_owner(api, world):
    owner = world.user()
    org = world.org(owner, plan="oss")
    body = api.get(f"/orgs/{org}", auth=owner.auth).json()
    assert set(body) == ORG_ADMIN_FIELDS
    assert body["quota_used_bytes"] == 0


def test_get_org_errors(api, world):
    user = world.user()
    org = world.org(user)
    assert_error(api.get(f"/orgs/{org}"), 401)
    assert_error(api.get(f"/orgs/{user.name}", auth=user.auth), 404)
    assert_error(api.get(f"/orgs/{unique('o')}", auth=user.auth), 404)
    assert_error(api.get(f"/users/{org}", auth=user.auth), 404)


# --- PUT/DELETE /orgs/{org}/members/{user} -----------------------------------------------------


def test_owner_and_org_admin_manage_members(api, acme, world):
    newcomer = world.user()
    org = acme["org"]
    response = api.put(f"/orgs/{org}/members/{newcomer.name}", acme["owner"].auth, json={"type": "member"})
    assert response.status_code == 200, response.text
    response = api.put(f"/orgs/{org}/members/{newcomer.name}", acme["admin"].auth, json={"type": "admin"})
    assert response.status_code == 200, response.text
    roles = {m["name"]: m["type"] for m in members(api, org, acme["owner"].auth)}
    assert roles[newcomer.name] == "admin"
    assert org in api.get(f"/users/{newcomer.name}", auth=newcomer.auth).json()["organizations"]


def test_members_cannot_be_managed_by_others(api, acme, world):
    newcomer = world.user()
    org = acme["org"]
    for who in ("member", "stranger"):
        response = api.put(f"/orgs/{org}/members/{newcomer.name}", acme[who].auth, json={"type": "member"})
        assert_error(response, 403)
        assert_error(api.delete(f"/orgs/{org}/members/{acme['member'].name}", auth=acme[who].auth), 403)
    assert_error(api.put(f"/orgs/{org}/members/{newcomer.name}", json={"type": "member"}), 401)
    names = [m["name"] for m in members(api, org, acme["owner"].auth)]
    assert newcomer.name not in names and acme["member"].name in names


def test_put_member_errors(api, acme):
    org, owner = acme["org"], acme["owner"]
    member_path = f"/orgs/{org}/members/{acme['member'].name}"
    assert_error(api.put(member_path, owner.auth, json={"type": "owner"}), 400, "'type'")
    assert_error(api.put(member_path, owner.auth, json={"type": 1}), 400, "'type'")
    assert_error(api.put(f"/orgs/{org}/members/{unique('ghost')}", owner.auth, json={"type": "member"}), 404)
    owner_path = f"/orgs/{org}/members/{owner.name}"
    assert_error(api.put(owner_path, acme["admin"].auth, json={"type": "member"}), 409)
    assert_error(
        api.put(f"/orgs/{unique('o')}/members/{owner.name}", owner.auth, json={"type": "member"}), 404
    )
    roles = {m["name"]: m["type"] for m in members(api, org, owner.auth)}
    assert roles[owner.name] == "owner" and roles[acme["member"].name] == "member"


def test_delete_member(api, acme):
    org, owner = acme["org"], acme["owner"]
    response = api.delete(f"/orgs/{org}/members/{acme['member'].name}", auth=acme["admin"].auth)
    assert response.status_code == 200, response.text
    assert acme["member"].name not in [m["name"] for m in members(api, org, owner.auth)]
    # No longer a member: the private repo is hidden again.
    assert api.get(f"/orgs/{org}", auth=acme["member"].auth).json()["repos"] == [acme["public"]]


def test_delete_member_errors(api, acme):
    org, owner = acme["org"], acme["owner"]
    assert_error(api.delete(f"/orgs/{org}/members/{owner.name}", auth=acme["admin"].auth), 409)
    assert_error(api.delete(f"/orgs/{org}/members/{acme['stranger'].name}", auth=owner.auth), 404)
    assert owner.name in [m["name"] for m in members(api, org, owner.auth)]


# --- GET /users/{user} -------------------------------------------------------------------------


def test_get_user_shape(api, admin, world):
    name = unique("u")
    email = f"{name.upper()}@Example.com"
    assert put_user(api, admin, name, email=email, full_name="Grace H.").status_code == 201
    viewer = world.user()
    response = api.get(f"/users/{name}", auth=viewer.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["name"] == name
    assert body["full_name"] == "Grace H."
    assert body["gravatar_id"] == hashlib.md5(email.lower().encode()).hexdigest()
    assert body["repos"] == [] and body["organizations"] == []
    assert body["followers_count"] == 0
    assert ISO.match(body["registered"])


def test_get_user_quota_only_for_self_and_sysadmin(api, admin, world):
    user, other = world.user(), world.user()
    assert isinstance(api.get(f"/users/{user.name}", auth=user.auth).json()["quota_used_bytes"], int)
    assert isinstance(api.get(f"/users/{user.name}", auth=admin).json()["quota_used_bytes"], int)
    assert "quota_used_bytes" not in api.get(f"/users/{user.name}", auth=other.auth).json()


def test_get_user_repos_hide_private_from_others(api, world):
    user, other = world.user(), world.user()
    public = world.repo(user.name)
    private = world.repo(user.name, private=True)
    assert sorted(api.get(f"/users/{user.name}", auth=user.auth).json()["repos"]) == sorted([public, private])
    assert api.get(f"/users/{user.name}", auth=other.auth).json()["repos"] == [public]


def test_get_user_lists_organizations(api, world):
    owner, member = world.user(), world.user()
    org = world.org(owner)
    world.member(org, member)
    assert api.get(f"/users/{owner.name}", auth=member.auth).json()["organizations"] == [org]
    assert api.get(f"/users/{member.name}", auth=owner.auth).json()["organizations"] == [org]


def test_get_user_unknown_is_404(api, world):
    assert_error(api.get(f"/users/{unique('ghost')}", auth=world.user().auth), 404)


# --- followers ---------------------------------------------------------------------------------


def test_follow_and_unfollow(api, world):
    star, fan = world.user(), world.user()
    path = f"/users/{star.name}/follow"
    for _ in range(2):  # idempotent
        response = api.post(path, auth=fan.auth)
        assert response.status_code == 200, response.text
    assert followers_count(api, star.name, fan.auth) == 1
    response = api.get(f"/users/{star.name}/followers", auth=star.auth)
    assert response.status_code == 200, response.text
    assert response.json() == [{"name": fan.name}]
    assert response.headers["X-RangeLimit-Total"] == "1"
    assert response.headers["X-RangeLimit-StartPos"] == "0"
    assert response.headers["X-RangeLimit-EndPos"] == "0"

    assert api.delete(path, auth=fan.auth).status_code == 200
    assert followers_count(api, star.name, fan.auth) == 0
    response = api.get(f"/users/{star.name}/followers", auth=star.auth)
    assert response.json() == [] and response.headers["X-RangeLimit-Total"] == "0"


def test_followers_paging(api, world):
    star = world.user()
    fans = [world.user() for _ in range(3)]
    for fan in fans:
        assert api.post(f"/users/{star.name}/follow", auth=fan.auth).status_code == 200
    everyone = api.get(f"/users/{star.name}/followers", auth=star.auth).json()
    assert sorted(f["name"] for f in everyone) == sorted(f.name for f in fans)
    response = api.get(f"/users/{star.name}/followers", auth=star.auth, params={"start_pos": 1})
    assert response.json() == everyone[1:]
    assert response.headers["X-RangeLimit-Total"] == "3"
    assert response.headers["X-RangeLimit-StartPos"] == "1"
    assert response.headers["X-RangeLimit-EndPos"] == "2"
    bad = api.get(f"/users/{star.name}/followers", auth=star.auth, params={"start_pos": "x"})
    assert_error(bad, 400, "start_pos")


def test_follow_errors(api, world):
    user = world.user()
    assert_error(api.post(f"/users/{user.name}/follow", auth=user.auth), 400)
    assert followers_count(api, user.name, user.auth) == 0
    assert_error(api.post(f"/users/{unique('ghost')}/follow", auth=user.auth), 404)
    assert_error(api.delete(f"/users/{world.user().name}/follow", auth=user.auth), 404)
    assert_error(api.post(f"/users/{user.name}/follow"), 401)
    assert_error(api.get(f"/users/{user.name}/followers"), 401)


# --- GET /search/users -------------------------------------------------------------------------


def test_search_users_case_insensitive_prefix(api, admin, world):
    stem = unique("Srch").replace("-", "")
    first, second = f"{stem}A", f"{stem.lower()}-b"
    for name in (first, second):
        assert put_user(api, admin, name).status_code == 201
    outsider = f"x{stem}"
    assert put_user(api, admin, outsider).status_code == 201
    viewer = world.user()

    response = api.get("/search/users", auth=viewer.auth, params={"name": stem.upper()})
    assert response.status_code == 200, response.text
    results = response.json()
    assert sorted(r["name"] for r in results) == sorted([first, second])
    assert all(set(r) == USER_FIELDS for r in results), results

    narrower = api.get("/search/users", auth=viewer.auth, params={"name": first.lower()}).json()
    assert [r["name"] for r in narrower] == [first]


def test_search_users_shows_the_quota_used_to_those_with_admin_rights_only(api, world):
    """``kind_index`` does not hold the quota (every upload changes it): a search reads it from the
    user's item for the user themselves (and system admins), and shows it to no one else."""
    from chalicelib.accounts.models import Subject

    user = world.user()
    repo = world.repo(user.name)
    world.package(user.name, repo, name="pkg")
    response = api.put(f"/content/{user.name}/{repo}/pkg/1.0/a.bin", user.auth, data=b"x" * 1234)
    assert response.status_code == 201, response.text
    entry = next(Subject.kind_index.query("user", Subject.name_lower == user.name.lower()))
    assert entry.password_hash is None and entry.api_key_hash is None  # not copied into the index
    [own] = api.get("/search/users", auth=user.auth, params={"name": user.name}).json()
    assert own["quota_used_bytes"] == 1234 == int(Subject.get(user.name).quota_used_bytes)
    [seen] = api.get("/search/users", auth=world.user().auth, params={"name": user.name}).json()
    assert "quota_used_bytes" not in seen
    assert {k: v for k, v in own.items() if k != "quota_used_bytes"} == seen


def test_search_users_errors(api, world):
    user = world.user()
    assert_error(api.get("/search/users", auth=user.auth), 400, "name")
    assert_error(api.get("/search/users", auth=user.auth, params={"name": ""}), 400, "name")
    assert_error(api.get("/search/users", params={"name": "u"}), 401)


def test_search_users_excludes_orgs(api, world):
    org = world.org(world.user())
    results = api.get("/search/users", auth=world.user().auth, params={"name": org}).json()
    assert results == []
