"""The permission matrix: every declared route, walked with every role.

Expected outcomes come from the policy table below (the spec's Security lines), not from the code:
denied calls go over HTTP and must answer exactly 401/403/404 and change nothing; allowed calls are
checked through the central policy (``resolve``) so that destructive routes stay side-effect free,
and allowed reads also go over HTTP and must answer 200 (downloads: 302 to the content).
"""

from __future__ import annotations

import base64
import re

import pytest

from chalicelib.auth.policy import Need, resolve
from chalicelib.errors import ShelfError
from chalicelib.web.routing import ROUTES, RouteSpec
from tests.conftest import ADMIN

ROLES = ("anonymous", "stranger", "member", "org_admin", "owner", "sysadmin")

#: Rights of each role on the organisation's repositories (public ones add "read" for everybody).
RIGHTS = {
    "anonymous": set(),
    "stranger": set(),
    "member": {"read", "publish"},
    "org_admin": {"read", "publish", "admin"},
    "owner": {"read", "publish", "admin"},
    "sysadmin": {"read", "publish", "admin"},
}


def expected(need: Need, role: str, repo_private: bool | None) -> int | str:
    """'ok' or the status the policy table demands."""
    if need is Need.SYSADMIN:
        return "ok" if role == "sysadmin" else (401 if role == "anonymous" else 403)
    if need not in (Need.ANYONE, Need.DOWNLOAD) and role == "anonymous":
        return 401
    rights = set(RIGHTS[role])
    if repo_private is False:
        rights.add("read")
    if repo_private is not None and "read" not in rights:
        return 404
    if need is Need.PUBLISH and "publish" not in rights:
        return 403
    if need is Need.ADMIN and "admin" not in rights:
        return 403
    return "ok"


@pytest.fixture(scope="module")
def scene(api, world):
    owner, org_admin, member, stranger, target = (world.user() for _ in range(5))
    org = world.org(owner, plan="premium")
    world.member(org, org_admin, "admin")
    world.member(org, member, "member")
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
    auth = {
        "anonymous": None,
        "stranger": stranger.auth,
        "member": member.auth,
        "org_admin": org_admin.auth,
        "owner": owner.auth,
        "sysadmin": ADMIN,
    }
    return {"org": org, "repos": repos, "auth": auth, "target": target.name}


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
    }
    if spec.path.startswith("/users/"):
        values["user"] = scene["target"]
    params = {}
    for name in re.findall(r"{(\w+)\+?}", spec.path):
        params[name] = values[name]
    path = re.sub(r"{(\w+)\+?}", lambda m: values[m.group(1)], spec.path)
    return path, params


def basic(auth: tuple[str, str] | None) -> dict[str, str]:
    if auth is None:
        return {}
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return {"authorization": f"Basic {token}"}


@pytest.mark.parametrize(
    ("spec", "method", "role", "private"),
    cases(),
    ids=lambda v: v.handler if isinstance(v, RouteSpec) else str(v),
)
def test_route_permission(api, scene, spec, method, role, private):
    want = expected(spec.need, role, private)
    path, params = fill(spec, scene, private)
    headers = basic(scene["auth"][role])
    if want == "ok":
        resolve(spec.need, params, headers, with_repo=not spec.creates_repo)
        if method == "GET":
            response = api.get(path, scene["auth"][role], params={"name": "zz", "g": "zz"})
            allowed = (200, 302) if spec.need is Need.DOWNLOAD or "{file_path+}" in spec.path else (200,)
            assert response.status_code in allowed, (path, role, response.status_code, response.text)
        return
    with pytest.raises(ShelfError) as raised:
        resolve(spec.need, params, headers, with_repo=not spec.creates_repo)
    assert raised.value.status == want
    response = api.request(method, path, scene["auth"][role], json={})
    assert response.status_code == want, (method, path, role, response.text)
    if method != "HEAD":  # a HEAD answer has no body
        assert set(response.json()) == {"message"}


def test_denied_writes_leave_everything_in_place(api, scene):
    """After the whole matrix ran, the scene's resources are intact."""
    for private, repo in scene["repos"].items():
        response = api.get(f"/packages/{scene['org']}/{repo}/pkg/versions/1.0", ADMIN)
        assert response.status_code == 200, response.text
        assert api.get(f"/repos/{scene['org']}/{repo}", ADMIN).json()["private"] is private
        files = api.get(f"/packages/{scene['org']}/{repo}/pkg/versions/1.0/files", ADMIN).json()
        assert [(f["path"], f["size"]) for f in files] == [("f.txt", 1)]
        assert api.get(f"/dl/{scene['org']}/{repo}/f.txt", ADMIN).status_code == 302
