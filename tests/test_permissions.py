"""The permission matrix: every declared route, walked with every role.

Expected outcomes come from the policy table below (the spec's Security lines), not from the code:
denied calls are checked through the policy and, for half of the roles of each route (alternating), also over
HTTP, where they must answer exactly 401/403/404 and change nothing; allowed calls are
checked through the central policy (``resolve``) so that destructive routes stay side-effect free,
and allowed reads also go over HTTP and must answer 200 (downloads: 302 to the content).
"""

from __future__ import annotations

import base64
import re

import pytest

from chalicelib.auth.policy import Need, Right, require, resolve
from chalicelib.errors import ShelfError
from chalicelib.web.routing import ROUTES, RouteSpec
from tests.conftest import ADMIN

ROLES = ("anonymous", "stranger", "member", "team_publisher", "org_admin", "owner", "sysadmin", "access_key")

#: Rights of each role on the organisation's repositories (public ones add "read" for everybody).
RIGHTS = {
    "anonymous": set(),
    "stranger": set(),
    "member": {"read"},
    # An org member in the scene's team, which has publish on the private repository only (see expected).
    "team_publisher": {"read"},
    "org_admin": {"read", "publish", "admin"},
    "owner": {"read", "publish", "admin"},
    "sysadmin": {"read", "publish", "admin"},
    # A key of the organisation with an 'r' entitlement on the private repository's "pkg" (see
    # expected_for_key).
    "access_key": set(),
}


def expected(need: Need, role: str, repo_private: bool | None) -> int | str:
    """'ok' or the status the policy table demands."""
    if need is Need.SYSADMIN:
        return "ok" if role == "sysadmin" else (401 if role == "anonymous" else 403)
    if need not in (Need.ANYONE, Need.DOWNLOAD) and role == "anonymous":
        return 401
    rights = set(RIGHTS[role])
    if role == "team_publisher" and repo_private:
        rights.add("publish")
    if repo_private is False:
        rights.add("read")
    if repo_private is not None and "read" not in rights:
        # Downloads challenge anonymous callers (clients send credentials only after a 401).
        return 401 if need is Need.DOWNLOAD and role == "anonymous" else 404
    if need is Need.PUBLISH and "publish" not in rights:
        return 403
    if need in (Need.ADMIN, Need.MANAGE_REPOS) and "admin" not in rights:
        return 403
    return "ok"


#: Routes that resolve as ``AUTHENTICATED`` and enforce 'admin' on the path's subject first thing in the
#: handler (``policy.require``), with the observed wording of their refusal (rule 3: the event stream
#: of another subject is 403 ``Forbidden``).
ADMIN_IN_HANDLER = {"read_stream": "Forbidden"}
# The business-unit routes of usage thresholds: the business unit's existence first (404, observed),
# then 'admin' on the organisation (403 ``forbidden``).
ADMIN_IN_HANDLER.update(
    {f"{verb}_business_unit_threshold": "forbidden" for verb in ("get", "create", "update", "delete")}
)


def need_of(spec: RouteSpec) -> Need:
    """The need the policy table applies to the route."""
    return Need.ADMIN if spec.handler in ADMIN_IN_HANDLER else spec.need


def check_policy(spec: RouteSpec, params: dict[str, str], headers: dict[str, str]) -> None:
    """What the central policy decides before the handler works (``resolve``, and the handler's
    ``require`` of the routes that enforce admin themselves)."""
    ctx = resolve(spec.need, params, headers, with_repo=not spec.creates_repo, key_files=spec.key_files)
    if spec.handler in ADMIN_IN_HANDLER:
        require(ctx, Right.ADMIN, ADMIN_IN_HANDLER[spec.handler])


def expected_message(spec: RouteSpec, role: str, path_repo: str | None) -> str | None:
    """The message of a 403 the policy table demands (observed rule 3: another subject's admin
    resources, and anything of a subject without a repository, are ``forbidden``; publishing to a
    repository names the right), or None where the table words nothing (access keys)."""
    if role == "access_key":
        return None
    if spec.handler in ADMIN_IN_HANDLER:
        return ADMIN_IN_HANDLER[spec.handler]
    if spec.need is Need.SYSADMIN:
        return "This resource requires system administrator rights"
    if spec.need is Need.PUBLISH and path_repo is not None:
        return f"You do not have 'publish' permission on repository '{path_repo}'"
    return "forbidden"


def expected_for_key(spec: RouteSpec, private: bool | None) -> int | str:
    """The scene's access key: never the admin API (403, publishing included: its entitlement is
    'r'); public repositories like anyone; the private repository only on the single-file routes
    (``key_files``: downloads of the entitled "pkg"'s f.txt), elsewhere it does not exist (404)."""
    if need_of(spec) not in (Need.ANYONE, Need.DOWNLOAD, Need.KEY_HOLDER):
        return 403
    return 404 if private and not spec.key_files else "ok"


def expected_for(spec: RouteSpec, role: str, private: bool | None) -> int | str:
    """``expected`` for the route: on ``/users/{user}/...`` (the scene's target user, no repository)
    only system administrators have rights among the roles; the others are strangers there."""
    if role == "access_key":
        return expected_for_key(spec, private)
    if spec.path.startswith("/users/{user}") and role not in ("anonymous", "sysadmin"):
        role = "stranger"
    return expected(need_of(spec), role, private)


@pytest.fixture(scope="module")
def scene(api, world):
    owner, org_admin, member, stranger, team_publisher = (world.user() for _ in range(5))
    target = world.user(plan="premium")  # Premium: the team routes of /users/{user} need it
    # Enterprise: products and EULAs need it (and it includes every Premium feature).
    org = world.org(owner, plan="enterprise")
    world.member(org, org_admin, "admin")
    world.member(org, member, "member")
    world.member(org, team_publisher, "member")
    repos = {}
    for private in (False, True):
        repo = world.repo(org, private=private)
        world.package(org, repo, name="pkg")
        world.version(org, repo, "pkg", "1.0")
        # One published file per repository, for the content routes ({file_path+} = "f.txt").
        response = api.put(f"/content/{org}/{repo}/pkg/1.0/f.txt", ADMIN, data=b"x")
        assert response.status_code == 201, response.text
        response = api.post(f"/content/{org}/{repo}/pkg/1.0/publish", ADMIN, json={})
        assert response.status_code == 200 and response.json() == {"files": 1}, response.text
        # A readme and release notes, for their GET routes (none would answer 404).
        for path in ("readme", "release_notes", "versions/1.0/release_notes"):
            response = api.post(
                f"/packages/{org}/{repo}/pkg/{path}", ADMIN, json={"bintray": {"content": "x"}}
            )
            assert response.status_code == 200, response.text
        repos[private] = repo
    # A product over both repositories' package with a default EULA (product and EULA routes).
    members = [f"{repos[False]}/pkg", f"{repos[True]}/pkg"]
    response = api.post(f"/products/{org}", ADMIN, json={"name": "prod", "packages": members})
    assert response.status_code == 201, response.text
    response = api.post(f"/products/{org}/prod/eulas", ADMIN, json={"name": "eula", "default": True})
    assert response.status_code == 201, response.text
    # The team "team": team_publisher in it, publish on the private repository, read on the public
    # one (team permission routes); the target user has a team of that name too (team routes).
    for path, members in ((f"/orgs/{org}", [team_publisher.name]), (f"/users/{target.name}", [])):
        response = api.post(f"{path}/teams", ADMIN, json={"name": "team", "members": members})
        assert response.status_code == 201, response.text
    for private, permission in ((True, "publish"), (False, "read")):
        body = {"team": "team", "permission": permission}
        response = api.put(f"/repos/{org}/{repos[private]}/permissions", ADMIN, json=body)
        assert response.status_code == 200, response.text
    # Access keys and entitlements: a key "key" of the org (with an 'r' entitlement on the private
    # "pkg", and the product's EULA accepted) and of the target user; one entitlement per scope.
    response = api.post(f"/orgs/{org}/access_keys", ADMIN, json={"id": "key"})
    assert response.status_code == 201, response.text
    key_auth = (response.json()["username"], response.json()["password"])
    response = api.post(f"/users/{target.name}/access_keys", ADMIN, json={"id": "key"})
    assert response.status_code == 201, response.text
    for private in (False, True, None):
        for kind, scope in (
            ("repo", f"/repos/{org}/{repos[bool(private)]}"),
            ("package", f"/packages/{org}/{repos[bool(private)]}/pkg"),
            ("version", f"/packages/{org}/{repos[bool(private)]}/pkg/versions/1.0"),
            ("product", f"/products/{org}/prod"),
        ):
            if (kind == "product") != (private is None):
                continue
            body = {"id": f"ent-{kind}-{private}", "access": "r", "tags": ["t"]}
            if kind == "package" and private:
                body["access_keys"] = ["key"]
            response = api.post(f"{scope}/entitlements", ADMIN, json=body)
            assert response.status_code == 201, response.text
    response = api.post(f"/products/{org}/prod/versions/1.0/accept_eula", key_auth, json={})
    assert response.status_code in (200, 201), response.text
    # GPG key pairs of the org and the target user (their public.key routes).
    for path in (f"/orgs/{org}", f"/users/{target.name}"):
        response = api.post(f"{path}/keys/gpg", ADMIN, json={})
        assert response.status_code == 201, response.text
    # Usage thresholds of the organisation, of both repositories and of the business unit "bu" (named
    # by a team of the organisation), for their GET routes.
    response = api.post(
        f"/orgs/{org}/teams",
        ADMIN,
        json={"name": "bu-team", "allow_repo_creation": True, "business_unit": "bu"},
    )
    assert response.status_code == 201, response.text
    for path in (
        f"organization/{org}",
        f"business_unit/{org}/bu",
        *(f"repo/{org}/{r}" for r in repos.values()),
    ):
        response = api.post(f"/usage_threshold/{path}", ADMIN, json={"daily_download_bytes": 1})
        assert response.status_code == 201, response.text
    # Download logs of "pkg" in both repositories: a download each (recorded in the request), then
    # the job that writes them.
    from chalicelib import events
    from chalicelib.download_logs import services as download_logs

    sender, events.sender = events.sender, None
    try:
        for repo in repos.values():
            assert api.get(f"/dl/{org}/{repo}/f.txt", ADMIN).status_code == 302
    finally:
        events.sender = sender
    assert download_logs.run().files == 2
    auth = {
        "access_key": key_auth,
        "anonymous": None,
        "stranger": stranger.auth,
        "member": member.auth,
        "team_publisher": team_publisher.auth,
        "org_admin": org_admin.auth,
        "owner": owner.auth,
        "sysadmin": ADMIN,
    }
    log_name = download_logs.log_name(download_logs.now().date())
    return {"org": org, "repos": repos, "auth": auth, "target": target.name, "log_name": log_name}


@pytest.fixture(scope="module")
def world(api):
    from tests.conftest import World

    return World(api)


def cases() -> list[tuple[RouteSpec, str, str, bool | None]]:
    out = []
    for spec in ROUTES:
        variants: list[bool | None] = (
            [False, True] if "{repo}" in spec.path and not spec.creates_repo else [None]
        )
        for method in spec.methods:
            for private in variants:
                for role in ROLES:
                    out.append((spec, method, role, private))
    return out


# Greedy paths of handlers that expect more than the scene's file (file attributes: "<path>/attributes").
FILE_PATHS = {
    "publish_content": "pkg/1.0/publish",
    "get_file_attributes": "f.txt/attributes",
    "set_or_search_file_attributes": "f.txt/attributes",
    "update_file_attributes": "f.txt/attributes",
    "delete_file_attributes": "f.txt/attributes",
}


def fill(spec: RouteSpec, scene: dict, private: bool | None) -> tuple[str, dict[str, str]]:
    repo = scene["repos"][bool(private)] if private is not None else "brand-new-repo"
    values = {
        "subject": scene["org"],
        "org": scene["org"],
        "repo": repo,
        "package": "pkg",
        "version": "1.0",
        "user": scene["target"],
        "name": scene["target"],
        # The greedy file path: the scene's file, or what the publish route expects.
        "file_path": FILE_PATHS.get(spec.handler, "f.txt"),
        # Link Package: the source package (another owner's, for the allowed calls of resolve only).
        "source_subject": scene["target"],
        "source_repo": scene["repos"][False],
        "source_package": "pkg",
        # Teams and team permissions: the scene's team (of the org, and of the target user).
        "team": "team",
        # Proprietary licenses: allowed PATCH/DELETE only go through resolve (nothing needs to exist).
        "custom_license_name": "lic",
        # Products and EULAs (the scene's product over "pkg" and its default EULA).
        "product": "prod",
        "eula": "eula",
        # Access keys and entitlements: the scene's key and the scope's entitlement.
        "access_key_id": "key",
        "entitlement_id": f"ent-{_scope_kind(spec.path)}-{private}",
        # Usage by business unit (allowed calls only go through resolve), usage thresholds of a
        # business unit: the scene's "bu"; the scene's download log.
        "business_unit": "bu",
        "log_name": scene["log_name"],
    }
    if spec.path.startswith("/users/"):
        values["user"] = scene["target"]
    params = {}
    for name in re.findall(r"{(\w+)\+?}", spec.path):
        params[name] = values[name]
    path = re.sub(r"{(\w+)\+?}", lambda m: values[m.group(1)], spec.path)
    return path, params


def _scope_kind(path: str) -> str:
    """The entitlement scope of an entitlement route's path."""
    if path.startswith("/products/"):
        return "product"
    if "/versions/" in path:
        return "version"
    return "package" if path.startswith("/packages/") else "repo"


#: Other routes answering a redirect to their content (a download log: a signed S3 URL).
REDIRECTS = {"download_package_log"}


#: Routes naming their subject in the query (Entitlement Search's ``scope``): 'admin' on it is
#: enforced by the handler (403 for the others).
SUBJECT_IN_QUERY = {"search_entitlements"}


def basic(auth: tuple[str, str] | None) -> dict[str, str]:
    if auth is None:
        return {}
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def over_http(spec: RouteSpec, role: str) -> bool:
    """Whether a refusal is also checked over HTTP (status, body, wording): for half of the roles of
    each route, alternating from route to route. The other half are checked through the policy only,
    which decides every refusal before the handler runs; the HTTP half proves each route's wiring."""
    return (ROUTES.index(spec) + ROLES.index(role)) % 2 == 0


#: (what was asked, the answer's headers and body) of every HTTP call of the matrix, for
#: ``test_no_answer_carries_a_credential``.
ANSWERS: list[tuple[str, str]] = []


def answer_text(response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{headers}\n\n{response.content.decode('latin-1')}"


@pytest.mark.parametrize(
    ("spec", "method", "role", "private"),
    cases(),
    ids=lambda v: v.handler if isinstance(v, RouteSpec) else str(v),
)
def test_route_permission(api, scene, spec, method, role, private):
    want = expected_for(spec, role, private)
    path, params = fill(spec, scene, private)
    headers = basic(scene["auth"][role])
    if want == "ok":
        check_policy(spec, params, headers)
        if method == "GET":
            query = {"name": "zz", "g": "zz"}
            redirects = spec.need is Need.DOWNLOAD or "{file_path+}" in spec.path or spec.handler in REDIRECTS
            allowed = (200, 302) if redirects else (200,)
            if spec.handler in SUBJECT_IN_QUERY:
                query.update(tag="zz", scope=scene["org"])
                allowed = (200,) if "admin" in RIGHTS[role] else (403,)
            response = api.get(path, scene["auth"][role], params=query)
            ANSWERS.append((f"GET {path} as {role}", answer_text(response)))
            assert response.status_code in allowed, (path, role, response.status_code, response.text)
        return
    with pytest.raises(ShelfError) as raised:
        check_policy(spec, params, headers)
    assert raised.value.status == want
    if not over_http(spec, role):
        return
    response = api.request(method, path, scene["auth"][role], json={})
    ANSWERS.append((f"{method} {path} as {role}", answer_text(response)))
    assert response.status_code == want, (method, path, role, response.text)
    if method != "HEAD":  # a HEAD answer has no body
        assert set(response.json()) == {"message"}
        path_repo = params.get("repo") if not spec.creates_repo else None
        message = expected_message(spec, role, path_repo)
        if want == 403 and message is not None:
            assert response.json() == {"message": message}, (method, path, role)
        if want == 404:
            assert response.json() == {"message": f"Repo '{path_repo}' was not found"}, (method, path, role)


def test_denied_writes_leave_everything_in_place(api, scene):
    """After the whole matrix ran, the scene's resources are intact."""
    for private, repo in scene["repos"].items():
        response = api.get(f"/packages/{scene['org']}/{repo}/pkg/versions/1.0", ADMIN)
        assert response.status_code == 200, response.text
        assert api.get(f"/repos/{scene['org']}/{repo}", ADMIN).json()["private"] is private
        files = api.get(f"/packages/{scene['org']}/{repo}/pkg/versions/1.0/files", ADMIN).json()
        assert [(f["path"], f["size"]) for f in files] == [("f.txt", 1)]
        assert api.get(f"/dl/{scene['org']}/{repo}/f.txt", ADMIN).status_code == 302
        permission = "publish" if private else "read"
        team_permissions = api.get(f"/repos/{scene['org']}/{repo}/permissions", ADMIN).json()
        assert team_permissions == [{"team": "team", "permission": permission}]
    team = api.get(f"/orgs/{scene['org']}/teams/team", ADMIN).json()
    assert len(team["members"]) == 1 and len(team["permitted_repos"]) == 2


#: Views of ``app.routes`` without a permission question, hence without cases: the fallbacks of
#: ``chalicelib/web/middleware.install_fallbacks``, declared through Chalice directly for every method a
#: resource lacks (``method_not_allowed``: 405) and for paths nobody declared (``not_found`` on
#: ``/{proxy+}``, ``root`` on ``/``: 404). They read nothing and answer every caller alike, before any
#: authentication (``test_fallbacks_answer_every_caller_alike``). Every other view must come from
#: ``Api.route`` (so the central policy runs first) and have a case for every role.
NO_PERMISSION_QUESTION = {"method_not_allowed", "not_found", "root"}


def test_every_route_of_the_app_has_cases_for_every_role():
    """The coverage guard: each (path, method) of Chalice's route table has a case per role in the
    matrix, from the same handler, unless its view is a fallback above; the matrix names no route the
    app lacks."""
    from app import app

    matrix: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for spec, method, role, _ in cases():
        matrix.setdefault((spec.path, method), (spec.handler, set()))[1].add(role)
    uncovered = []
    for path, entries in app.routes.items():
        for method, entry in entries.items():
            if entry.view_name in NO_PERMISSION_QUESTION:
                assert (path, method) not in matrix, (path, method, "a declared route shadowed by a fallback")
                continue
            handler, roles = matrix.get((path, method), (None, set()))
            if handler != entry.view_name or roles != set(ROLES):
                uncovered.append((method, path, entry.view_name, sorted(set(ROLES) - roles)))
    assert not uncovered, "routes without a full permission matrix (declare them with Api.route)"
    declared = {(path, method) for path, entries in app.routes.items() for method in entries}
    assert not set(matrix) - declared


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("DELETE", "/licenses/oss_licenses", 405), ("GET", "/no/such/route", 404), ("POST", "/", 404)],
)
def test_fallbacks_answer_every_caller_alike(api, method, path, status):
    """The exempt views: anonymous, a wrong key and the system administrator get the same answer."""
    answers = [api.request(method, path, auth) for auth in (None, ("nobody", "wrong-key"), ADMIN)]
    assert {(r.status_code, r.text) for r in answers} == {(status, answers[0].text)}
    assert set(answers[0].json()) == {"message"}


def test_no_answer_carries_a_credential(scene):
    """No answer of the matrix (every route, allowed reads and refusals) carries a credential of the
    scene: the roles' API keys, the access key's password, the administrator's key, as sent or as the
    Basic value. None of these answers may: none creates a key. Needs the matrix's cases in this
    process (``--dist loadfile``, as ``make test`` runs it)."""
    if len(ANSWERS) < 1000:
        pytest.skip("the matrix's cases did not run in this process")
    credentials = {}
    for role, auth in scene["auth"].items():
        if auth is not None:
            credentials[f"{role}'s key"] = auth[1]
            credentials[f"{role}'s Basic value"] = basic(auth)["authorization"].split(" ", 1)[1]
    found = [(asked, name) for asked, text in ANSWERS for name, value in credentials.items() if value in text]
    assert not found
