"""Access keys (issue #5): CRUD for organisations and users, validation, plans, authentication with
``<id>@<subject>`` (password, expiry, CIDRs, existence check) and what a key may reach."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import ADMIN, User, assert_message, unique

SUCCESS = {"message": "success"}


@dataclass
class Scene:
    """A premium organisation with a private repository: package ``pkg`` version ``1.0`` holding the
    published files ``a/one.txt`` and ``b/two.txt``, package ``other`` with ``c/three.txt``; a public
    repository with ``pub.txt``."""

    owner: User
    org: str
    repo: str
    public: str


def upload(api, org: str, repo: str, path: str, auth=ADMIN, data: bytes = b"data"):
    return api.put(f"/content/{org}/{repo}/{path}?publish=1", auth, data=data)


@pytest.fixture
def scene(api, world) -> Scene:
    owner = world.user()
    org = world.org(owner, plan="premium")
    repo = world.repo(org, private=True)
    public = world.repo(org)
    world.package(org, repo, name="pkg")
    world.package(org, repo, name="other")
    for path in ("pkg/1.0/a/one.txt", "pkg/1.0/b/two.txt", "other/2.0/c/three.txt"):
        assert upload(api, org, repo, path).status_code == 201
    world.package(org, public, name="pkg")
    assert upload(api, org, public, "pkg/1.0/pub.txt").status_code == 201
    return Scene(owner, org, repo, public)


def create_key(api, scene: Scene, **body) -> tuple[str, str]:
    response = api.post(f"/orgs/{scene.org}/access_keys", scene.owner.auth, json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return data["username"], data["password"]


def entitle(api, scene: Scene, scope: str, **body) -> dict:
    response = api.post(f"{scope}/entitlements", scene.owner.auth, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def pkg_scope(scene: Scene, package: str = "pkg") -> str:
    return f"/packages/{scene.org}/{scene.repo}/{package}"


# --- CRUD ---------------------------------------------------------------------------------------


def test_create_get_list_update_delete(api, scene):
    base = f"/orgs/{scene.org}/access_keys"
    expiry = int(time.time() * 1000) + 86_400_000
    body = {"id": "key1", "expiry": expiry, "white_cidrs": ["127.0.0.1/22"], "black_cidrs": ["10.0.0.1/8"]}
    response = api.post(base, scene.owner.auth, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"username", "password"}
    assert created["username"] == f"key1@{scene.org}"
    assert len(created["password"]) == 40 and int(created["password"], 16) >= 0

    got = api.get(f"{base}/key1", scene.owner.auth)
    assert got.status_code == 200, got.text
    assert got.json() == {
        "id": "key1",
        "username": f"key1@{scene.org}",
        "expiry": expiry,
        "existence_check": None,
        "white_cidrs": ["127.0.0.0/22"],
        "black_cidrs": ["10.0.0.0/8"],
        "api_only": True,
    }
    assert "password" not in got.text and created["password"] not in got.text
    assert api.get(base, scene.owner.auth).json() == {"access_keys": ["key1"]}

    # PATCH changes only the given fields; no password in the answer unless it changed.
    response = api.patch(f"{base}/key1", scene.owner.auth, json={"black_cidrs": []})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert "password" not in updated
    assert updated["black_cidrs"] == [] and updated["white_cidrs"] == ["127.0.0.0/22"]
    assert updated["expiry"] == expiry and updated["username"] == f"key1@{scene.org}"

    response = api.patch(f"{base}/key1", scene.owner.auth, json={"password": ""})
    assert response.status_code == 200
    regenerated = response.json()["password"]
    assert len(regenerated) == 40 and regenerated != created["password"]

    assert api.delete(f"{base}/key1", scene.owner.auth).json() == SUCCESS
    assert api.get(f"{base}/key1", scene.owner.auth).status_code == 404
    assert api.get(base, scene.owner.auth).json() == {"access_keys": []}


def test_generated_id_given_password_and_misspelt_cidr_fields(api, scene):
    response = api.post(
        f"/orgs/{scene.org}/access_keys",
        scene.owner.auth,
        json={"password": "my own password", "white_cids": ["127.0.0.1/8"], "api_only": False},
    )
    assert response.status_code == 201, response.text
    username, password = response.json()["username"], response.json()["password"]
    assert password == "my own password"
    key_id = username.split("@")[0]
    got = api.get(f"/orgs/{scene.org}/access_keys/{key_id}", scene.owner.auth).json()
    assert got["white_cidrs"] == ["127.0.0.0/8"] and got["api_only"] is False


def test_passwords_are_stored_hashed(api, scene):
    from chalicelib.entitlements.models import AccessKey

    _, generated = create_key(api, scene, id="gen")
    create_key(api, scene, id="chosen", password="chosen-secret")
    stored = AccessKey.get(scene.org, "gen").password_hash
    assert generated not in stored and stored.startswith("sha256$")
    chosen = AccessKey.get(scene.org, "chosen").password_hash
    assert "chosen-secret" not in chosen and chosen.startswith("scrypt$")


def test_user_access_keys(api, world):
    user = world.user(plan="premium")
    response = api.post(f"/users/{user.name}/access_keys", user.auth, json={"id": "mine"})
    assert response.status_code == 201, response.text
    assert response.json()["username"] == f"mine@{user.name}"
    assert api.get(f"/users/{user.name}/access_keys", user.auth).json() == {"access_keys": ["mine"]}
    other = world.user(plan="premium")
    assert api.get(f"/users/{user.name}/access_keys", other.auth).status_code == 403


def test_plan_and_permissions(api, world, scene):
    owner = world.user()
    oss_org = world.org(owner)
    want = {"message": "This resource is only available for subjects with entitlement management enabled"}
    for response in (
        api.post(f"/orgs/{oss_org}/access_keys", owner.auth, json={"id": "k"}),
        api.get(f"/orgs/{oss_org}/access_keys", owner.auth),
    ):
        assert response.status_code == 403 and response.json() == want, response.text
    response = api.get(f"/orgs/{oss_org}/access_keys/k", owner.auth)  # 404 before the plan
    assert response.status_code == 404 and response.json() == {"message": "Access key 'k' was not found"}
    member, stranger = world.user(), world.user()
    world.member(scene.org, member)
    for caller in (member, stranger):
        for response in (
            api.post(f"/orgs/{scene.org}/access_keys", caller.auth, json={}),
            api.get(f"/orgs/{scene.org}/access_keys", caller.auth),
            api.get(f"/orgs/{scene.org}/access_keys/nope", caller.auth),
        ):
            assert response.status_code == 403 and response.json() == {"message": "forbidden"}
    assert api.get(f"/orgs/{scene.org}/access_keys").status_code == 401
    assert api.get(f"/orgs/{unique('o')}/access_keys", ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"expiry": 1000}, ["expiry", "past"]),
        ({"expiry": "soon"}, ["expiry"]),
        ({"expiry": 10**40}, ["expiry"]),
        ({"existence_check": {"url": "https://example.com/x", "cache_for_secs": 10**40}}, ["cache_for_secs"]),
        ({"existence_check": {"url": "https://example.com/x", "cache_for_secs": 59}}, ["cache_for_secs"]),
        ({"existence_check": {"url": "http://127.0.0.1:9/check"}}, ["existence_check.url", "public"]),
        ({"existence_check": {"url": "http://169.254.169.254/latest"}}, ["existence_check.url"]),
        ({"existence_check": {"url": "ftp://example.com/x"}}, ["existence_check.url", "http"]),
        ({"existence_check": {"cache_for_secs": 60}}, ["url"]),
        ({"white_cidrs": ["not-a-cidr"]}, ["white_cidrs", "not-a-cidr"]),
        ({"black_cidrs": ["10.0.0.0/33"]}, ["black_cidrs"]),
        ({"black_cids": ["300.1.1.1/8"]}, ["black_cidrs"]),
        ({"id": "bad/id"}, ["id"]),
        ({"id": "a@b"}, ["id"]),
        ({"api_only": "yes"}, ["api_only"]),
    ],
)
def test_create_validation(api, scene, body, words):
    response = api.post(f"/orgs/{scene.org}/access_keys", scene.owner.auth, json=body)
    assert response.status_code == 400, response.text
    assert_message(response, *words)
    assert api.get(f"/orgs/{scene.org}/access_keys", scene.owner.auth).json() == {"access_keys": []}


def test_update_validation_and_missing_keys(api, scene):
    create_key(api, scene, id="k")
    base = f"/orgs/{scene.org}/access_keys"
    assert api.patch(f"{base}/k", scene.owner.auth, json={"expiry": 5}).status_code == 400
    assert api.patch(f"{base}/k", scene.owner.auth, json={"white_cidrs": ["x"]}).status_code == 400
    bad_check = {"existence_check": {"url": "http://10.0.0.1/"}}
    assert api.patch(f"{base}/k", scene.owner.auth, json=bad_check).status_code == 400
    assert api.get(f"{base}/k", scene.owner.auth).json()["white_cidrs"] == []
    response = api.post(base, scene.owner.auth, json={"id": "k"})
    assert response.status_code == 409
    assert_message(response, "k", "already exists")
    for method in ("GET", "PATCH", "DELETE"):
        response = api.request(method, f"{base}/nope", scene.owner.auth, json={})
        assert response.status_code == 404, (method, response.text)
        assert_message(response, "nope")


# --- authentication ---------------------------------------------------------------------------


@pytest.fixture
def reader(api, scene) -> tuple[str, str]:
    """A key with an 'r' entitlement on package ``pkg`` of the private repository."""
    auth = create_key(api, scene, id="reader")
    entitle(api, scene, pkg_scope(scene), access="r", access_keys=["reader"])
    return auth


def test_good_key_downloads_an_entitled_private_file(api, scene, reader):
    for prefix in ("dl", "content"):
        response = api.get(f"/{prefix}/{scene.org}/{scene.repo}/a/one.txt", reader)
        assert response.status_code == 302, response.text
        assert "one.txt" in response.headers["Location"]
    # Public repositories of anyone stay readable, like for anonymous callers.
    assert api.get(f"/dl/{scene.org}/{scene.public}/pub.txt", reader).status_code == 302


@pytest.mark.parametrize("kind", ["wrong password", "unknown key", "unknown subject", "no key id"])
def test_refused_credentials(api, scene, reader, kind):
    username, password = reader
    auth = {
        "wrong password": (username, password[:-1] + ("0" if password[-1] != "0" else "1")),
        "unknown key": (f"nope@{scene.org}", password),
        "unknown subject": (f"reader@{unique('o')}", password),
        "no key id": (f"@{scene.org}", password),
    }[kind]
    response = api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth)
    assert response.status_code == 401, response.text
    assert set(response.json()) == {"message"}
    assert password not in response.text


def test_expired_key_is_refused(api, scene, reader):
    from chalicelib.entitlements.models import AccessKey

    key = AccessKey.get(scene.org, "reader")
    key.update(actions=[AccessKey.expiry.set(int(time.time() * 1000) - 1)])
    response = api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", reader)
    assert response.status_code == 401
    assert_message(response, "expired")


def test_future_expiry_is_accepted(api, scene):
    auth = create_key(api, scene, id="later", expiry=int(time.time() * 1000) + 60_000)
    entitle(api, scene, pkg_scope(scene), access="r", access_keys=["later"])
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 302


@pytest.mark.parametrize(
    ("cidrs", "forwarded", "status"),
    [
        ({"white_cidrs": ["127.0.0.0/8"]}, None, 302),
        ({"white_cidrs": ["10.0.0.0/8"]}, None, 401),
        ({"white_cidrs": ["10.0.0.0/8"]}, "10.1.2.3", 302),
        ({"black_cidrs": ["127.0.0.1/32"]}, None, 401),
        ({"black_cidrs": ["127.0.0.1/32"]}, "192.0.2.10", 302),
        ({"white_cidrs": ["192.0.2.0/24"], "black_cidrs": ["192.0.2.8/29"]}, "192.0.2.10", 401),
        ({"white_cidrs": ["192.0.2.0/24"], "black_cidrs": ["192.0.2.8/29"]}, "192.0.2.20", 302),
        ({"white_cidrs": ["::1/128"]}, None, 401),
    ],
)
def test_cidrs(api, scene, cidrs, forwarded, status):
    """The local gateway takes the client address from X-Forwarded-For like API Gateway's sourceIp."""
    auth = create_key(api, scene, id="net", **cidrs)
    entitle(api, scene, pkg_scope(scene), access="r", access_keys=["net"])
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth, headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert_message(response, "address")


# --- existence check --------------------------------------------------------------------------


@dataclass
class CheckServer:
    """A local HTTP server answering ``status`` to every GET, remembering the paths asked for."""

    url: str
    status: int = 200
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def allow_loopback(monkeypatch):
    """Tests only: let existence checks call a server on 127.0.0.1 (refused in production)."""
    from chalicelib import netsafety

    monkeypatch.setattr(netsafety, "_address_refused", lambda address: False)


@pytest.fixture
def check_server(allow_loopback):
    state = CheckServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            state.paths.append(self.path)
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()


def _checked_key(api, scene, server: CheckServer, key_id: str = "checked") -> tuple[str, str]:
    check = {"url": server.url + "/exists?user=:username&pw=:password", "cache_for_secs": 60}
    auth = create_key(api, scene, id=key_id, existence_check=check)
    entitle(api, scene, pkg_scope(scene), access="r", access_keys=[key_id])
    return auth


def test_existence_check_200_keeps_the_key_and_is_cached(api, scene, check_server):
    from chalicelib.entitlements.models import AccessKey

    username, password = auth = _checked_key(api, scene, check_server)
    got = api.get(f"/orgs/{scene.org}/access_keys/checked", scene.owner.auth).json()
    assert got["existence_check"]["cache_for_secs"] == 60
    for _ in range(3):
        assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 302
    assert len(check_server.paths) == 1  # cached for cache_for_secs
    assert check_server.paths[0] == f"/exists?user={username.replace('@', '%40')}&pw={password}"
    # Once the cached result is older than cache_for_secs, the URL is asked again.
    past = int(time.time()) - 1
    AccessKey.get(scene.org, "checked").update(actions=[AccessKey.check_valid_until.set(past)])
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 302
    assert len(check_server.paths) == 2


def test_existence_check_404_revokes_the_key(api, scene, check_server):
    auth = _checked_key(api, scene, check_server)
    check_server.status = 404
    response = api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth)
    assert response.status_code == 401
    assert_message(response, "revoked")
    assert api.get(f"/orgs/{scene.org}/access_keys/checked", scene.owner.auth).status_code == 404
    # Gone for good, even if the callback changes its mind; and no more calls.
    check_server.status = 200
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 401
    assert len(check_server.paths) == 1


@pytest.mark.parametrize("status", [500, 403, 302])
def test_other_existence_check_answers_do_not_revoke(api, scene, check_server, status):
    auth = _checked_key(api, scene, check_server)
    check_server.status = status
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 302
    assert api.get(f"/orgs/{scene.org}/access_keys/checked", scene.owner.auth).status_code == 200


def test_unreachable_existence_check_does_not_revoke(api, scene, allow_loopback):
    check = {"url": "http://127.0.0.1:9/gone", "cache_for_secs": 60}  # nothing listens on port 9
    auth = create_key(api, scene, id="unreachable", existence_check=check)
    entitle(api, scene, pkg_scope(scene), access="r", access_keys=["unreachable"])
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 302


def test_existence_check_is_ssrf_checked_again_when_called(api, scene, check_server, monkeypatch):
    """A URL that became unsafe after registration (DNS changed) is not called and does not revoke."""
    from chalicelib import netsafety

    auth = _checked_key(api, scene, check_server)
    check_server.status = 404
    monkeypatch.setattr(netsafety, "_address_refused", lambda address: True)  # DNS changed
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 302
    assert check_server.paths == []


# --- what a key reaches -----------------------------------------------------------------------


def test_read_key_downloads_but_never_uploads_or_deletes(api, scene, reader):
    base = f"/content/{scene.org}/{scene.repo}"
    assert api.get(f"/dl/{scene.org}/{scene.repo}/b/two.txt", reader).status_code == 302
    response = api.put(f"{base}/pkg/1.0/a/new.txt", reader, data=b"x")
    assert response.status_code == 403, response.text
    assert api.delete(f"{base}/a/one.txt", reader).status_code == 403
    # Another package of the same repository: not entitled.
    response = api.get(f"/dl/{scene.org}/{scene.repo}/c/three.txt", reader)
    assert response.status_code == 403
    assert_message(response, "not entitled")
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", ADMIN).status_code == 302


def test_key_never_reaches_the_admin_api(api, world, scene, reader):
    org, repo = scene.org, scene.repo
    calls = [
        ("POST", f"/repos/{org}/{unique('r')}", {"type": "generic"}),
        ("PATCH", f"/repos/{org}/{repo}", {"desc": "x"}),
        ("DELETE", f"/repos/{org}/{repo}", None),
        ("GET", f"/orgs/{org}/access_keys", None),
        ("POST", f"/orgs/{org}/access_keys", {"id": "x"}),
        ("GET", f"{pkg_scope(scene)}/entitlements", None),
        ("GET", "/search/entitlements", None),
        ("POST", f"/packages/{org}/{repo}", {"name": "new"}),
        ("POST", f"/content/{org}/{repo}/pkg/1.0/publish", {}),
        ("GET", "/api/security/users", None),
    ]
    for method, path, body in calls:
        response = api.request(method, path, reader, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert_message(response, "Access keys cannot")
    # Routes outside the key's grants see the private repository as missing.
    assert api.get(f"/repos/{org}/{repo}", reader).status_code == 404
    assert api.get(f"{pkg_scope(scene)}/files", reader).status_code == 404
    other = world.repo(org, private=True)
    assert api.get(f"/dl/{org}/{other}/a/one.txt", reader).status_code == 404


def test_keys_of_a_user_reach_only_that_users_repositories(api, world, scene):
    user = world.user(plan="premium")
    repo = world.repo(user.name, private=True)
    world.package(user.name, repo, name="pkg")
    assert upload(api, user.name, repo, "pkg/1.0/mine.txt").status_code == 201
    response = api.post(f"/users/{user.name}/access_keys", user.auth, json={"id": "u"})
    auth = (response.json()["username"], response.json()["password"])
    body = {"access": "r", "access_keys": ["u"]}
    response = api.post(f"/repos/{user.name}/{repo}/entitlements", user.auth, json=body)
    assert response.status_code == 201, response.text
    assert api.get(f"/dl/{user.name}/{repo}/mine.txt", auth).status_code == 302
    # A repository-wide grant makes the repository readable through the read API too.
    assert api.get(f"/repos/{user.name}/{repo}", auth).status_code == 200
    # Nothing of the organisation's private repository.
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", auth).status_code == 404


def test_deleted_key_stops_working_at_once(api, scene, reader):
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", reader).status_code == 302
    assert api.delete(f"/orgs/{scene.org}/access_keys/reader", scene.owner.auth).json() == SUCCESS
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", reader).status_code == 401
    # The key left the entitlement; a new key of the same id inherits nothing.
    listed = api.get(f"{pkg_scope(scene)}/entitlements", scene.owner.auth).json()
    got = api.get(f"{pkg_scope(scene)}/entitlements/{listed[0]['id']}", scene.owner.auth).json()
    assert got["access_keys"] == []
    again = create_key(api, scene, id="reader")
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", again).status_code == 404


def test_stale_grant_rows_of_an_earlier_key_are_ignored(api, scene, reader):
    """Even if a cascade was interrupted, a re-created key of the same id inherits nothing."""
    from chalicelib.entitlements.models import AccessKey

    AccessKey.get(scene.org, "reader").delete()  # no cascade: the grant rows stay
    again = create_key(api, scene, id="reader")
    assert api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", again).status_code == 404


def test_key_download_costs_a_few_reads_and_no_scan(api, scene, reader, queued_events):
    """Authentication loads the key (GetItem) and all its grants (ONE Query): no per-entitlement reads."""
    from infra.local.opcount import count_operations

    for extra in range(3):  # more entitlements do not cost more reads
        entitle(api, scene, f"/repos/{scene.org}/{scene.repo}", access="r", access_keys=["reader"],
                path=f"x{extra}")
    with count_operations() as ops:
        response = api.get(f"/dl/{scene.org}/{scene.repo}/a/one.txt", reader)
    assert response.status_code == 302, response.text
    assert ops["Scan"] == 0
    assert ops["Query"] + ops["GetItem"] + ops["BatchGetItem"] <= 6, dict(ops)
    assert sum(ops.values()) == ops["Query"] + ops["GetItem"] + ops["BatchGetItem"], dict(ops)


def test_chosen_passwords_verify_once_per_container(monkeypatch):
    """scrypt runs once per (stored hash, password) in a container; wrong passwords always fail."""
    from chalicelib.auth import secrets

    stored = secrets.hash_password("chosen-secret")
    assert secrets.verify_password("chosen-secret", stored)
    assert not secrets.verify_password("chosen-secreT", stored)

    def no_scrypt(password: str, salt: bytes) -> str:
        raise AssertionError("scrypt ran again")

    monkeypatch.setattr(secrets, "_scrypt", no_scrypt)
    assert secrets.verify_password("chosen-secret", stored)
    with pytest.raises(AssertionError):
        secrets.verify_password("wrong", stored)
    other = "scrypt$" + "00" * 16 + "$" + "ab" * 64  # another key's hash: not recognised from the memo
    with pytest.raises(AssertionError):
        secrets.verify_password("chosen-secret", other)
