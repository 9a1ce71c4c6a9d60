"""What the real Bintray answered (/work/shared/bintray-observed.md), rules that span many routes:
updates answer success (5), one 401 wording for wrong credentials on every route (6), booleans as
strings in every body (7), upper-case syntax names (8)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from chalicelib.content.models import File
from chalicelib.repositories.models import Repository
from chalicelib.web.routing import ROUTES, RouteSpec
from tests.conftest import ADMIN, Api, World, unique

SUCCESS = {"message": "success"}

# --- rule 5: updates answer {"message": "success"} ------------------------------------------------


def _repo_update(world: World) -> tuple[str, tuple[str, str]]:
    owner = world.user()
    return f"/repos/{owner.name}/{world.repo(owner.name)}", owner.auth


def _package_update(world: World) -> tuple[str, tuple[str, str]]:
    owner = world.user()
    repo = world.repo(owner.name)
    return f"/packages/{owner.name}/{repo}/{world.package(owner.name, repo)}", owner.auth


def _version_update(world: World) -> tuple[str, tuple[str, str]]:
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    version = world.version(owner.name, repo, package)
    return f"/packages/{owner.name}/{repo}/{package}/versions/{version}", owner.auth


@pytest.mark.parametrize("make", [_repo_update, _package_update, _version_update], ids=lambda f: f.__name__)
def test_updates_answer_success_and_apply(api, world, make):
    path, auth = make(world)
    response = api.patch(path, auth, json={"desc": "changed"})
    assert (response.status_code, response.json()) == (200, SUCCESS), response.text
    assert api.get(path, auth).json()["desc"] == "changed"
    # A refused update still answers its error, not success.
    response = api.patch(path, auth, json={"desc": 5})
    assert response.status_code == 400 and "'desc'" in response.json()["message"], response.text


# --- rule 6: wrong credentials are 401 "This resource requires authentication" everywhere -------

UNAUTHENTICATED = {"message": "This resource requires authentication"}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def bad_credentials(api) -> dict[str, str]:
    """Authorization headers that must all be refused: an unknown user, a real user's wrong key (and
    a system administrator's), malformed headers, an unknown access key and a real one's wrong password."""
    name = unique("u")
    response = api.put(f"/api/security/users/{name}", ADMIN, json={"email": f"{name}@example.com"})
    assert response.status_code == 201, response.text
    org = unique("o")
    assert api.put(f"/orgs/{org}", ADMIN, json={"owner": name, "plan": "premium"}).status_code == 201
    assert api.post(f"/orgs/{org}/access_keys", ADMIN, json={"id": "key"}).status_code == 201
    return {
        "unknown user": _basic(unique("ghost"), "some-key"),
        "wrong key": _basic(name, "not-the-key"),
        "wrong admin key": _basic(ADMIN[0], ADMIN[1] + "x"),
        "organisation name": _basic(org, "some-key"),
        "no colon": "Basic " + base64.b64encode(name.encode()).decode(),
        "empty key": _basic(name, ""),
        "not base64": "Basic !!!",
        "other scheme": "Bearer abc",
        "unknown access key": _basic(f"nokey@{org}", "some-password"),
        "wrong key password": _basic(f"key@{org}", "wrong-password"),
        "malformed key name": _basic(f"@{org}", "some-password"),
    }


def _dummy_path(spec: RouteSpec) -> str:
    """The route's path with made-up names: credentials are checked before anything is loaded."""
    return re.sub(r"{(\w+)\+?}", lambda m: "f.txt" if m.group(0).endswith("+}") else "zz-missing", spec.path)


#: Bad credentials tried on each route: the central policy refuses them before anything of the route
#: runs, so each route gets a rotating three of the kinds and each kind is tried on a third of the
#: routes (the whole product was 2,189 requests, a minute of the suite).
CASES_PER_ROUTE = 3
ROUTE_METHODS = [(spec, method) for spec in ROUTES for method in spec.methods]


@pytest.mark.parametrize(
    ("index", "spec", "method"),
    [(index, spec, method) for index, (spec, method) in enumerate(ROUTE_METHODS)],
    ids=lambda v: v.handler if isinstance(v, RouteSpec) else str(v),
)
def test_wrong_credentials_are_401_on_every_route(api, bad_credentials, index, spec, method):
    path = _dummy_path(spec)
    kinds = list(bad_credentials.items())
    step = len(kinds) // CASES_PER_ROUTE
    for case, header in (kinds[(index + k * step) % len(kinds)] for k in range(CASES_PER_ROUTE)):
        response = api.request(method, path, headers={"Authorization": header}, json={})
        assert response.status_code == 401, (case, method, path, response.text)
        assert response.headers.get("WWW-Authenticate", "").startswith("Basic"), case
        if method != "HEAD":
            assert response.json() == UNAUTHENTICATED, (case, response.text)


def test_every_kind_of_bad_credentials_is_tried_on_many_routes(bad_credentials):
    """The rotation above covers each kind of bad credentials on about a third of the routes."""
    kinds = len(bad_credentials)
    step = kinds // CASES_PER_ROUTE
    tried = [0] * kinds
    for index in range(len(ROUTE_METHODS)):
        for k in range(CASES_PER_ROUTE):
            tried[(index + k * step) % kinds] += 1
    assert min(tried) >= len(ROUTE_METHODS) * CASES_PER_ROUTE // kinds - 1


def test_wrong_credentials_on_existing_public_resources_are_401(api, world):
    """Public reads and downloads of things that exist: a bad key is not read as anonymous."""
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    assert api.put(f"/content/{owner.name}/{repo}/{package}/1.0/a.txt?publish=1", owner.auth, data=b"a").ok
    for path in (
        f"/repos/{owner.name}/{repo}",
        f"/packages/{owner.name}/{repo}/{package}",
        f"/dl/{owner.name}/{repo}/a.txt",
        f"/content/{owner.name}/{repo}/a.txt",
        "/search/packages?name=x",
    ):
        assert api.get(path).status_code in (200, 302), path
        response = api.get(path, (owner.name, owner.key + "x"))
        assert (response.status_code, response.json()) == (401, UNAUTHENTICATED), path


# --- rule 7: booleans arrive as strings -----------------------------------------------------------

#: ``send(value) -> (response, read)``: one write of the field with ``value``; ``read()`` is the
#: field's value as stored afterwards (for refused writes: unchanged).
Sender = Callable[[Any], tuple[requests.Response, Callable[[], Any]]]


def _repo_create(api: Api, world: World, field: str) -> Sender:
    owner = world.user()

    def send(value):
        path = f"/repos/{owner.name}/{unique('r')}"
        response = api.post(path, owner.auth, json={"type": "generic", field: value})
        return response, lambda: api.get(path, owner.auth).json()[field]

    return send


def _repo_patch(api: Api, world: World, field: str) -> Sender:
    owner = world.user()
    path = f"/repos/{owner.name}/{world.repo(owner.name)}"

    def send(value):
        response = api.patch(path, owner.auth, json={field: value})
        return response, lambda: api.get(path, owner.auth).json()[field]

    return send


def _package_write(create: bool, plan: str = "oss") -> Callable[[Api, World, str], Sender]:
    def make(api: Api, world: World, field: str) -> Sender:
        owner = world.user(plan=plan)
        repo = world.repo(owner.name)
        existing = world.package(owner.name, repo)

        def send(value):
            name = unique("p") if create else existing
            path = f"/packages/{owner.name}/{repo}/{name}"
            if create:
                body = {"name": name, "licenses": ["MIT"], "vcs_url": "https://x.example/x.git", field: value}
                response = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
            else:
                response = api.patch(path, owner.auth, json={field: value})
            return response, lambda: api.get(path, owner.auth).json()[field]

        return send

    return make


def _version_write(create: bool) -> Callable[[Api, World, str], Sender]:
    def make(api: Api, world: World, field: str) -> Sender:
        owner = world.user()
        repo = world.repo(owner.name)
        package = world.package(owner.name, repo)
        base = f"/packages/{owner.name}/{repo}/{package}/versions"
        existing = world.version(owner.name, repo, package)

        def send(value):
            name = unique("v") if create else existing
            if create:
                response = api.post(base, owner.auth, json={"name": name, field: value})
            else:
                response = api.patch(f"{base}/{name}", owner.auth, json={field: value})
            return response, lambda: api.get(f"{base}/{name}", owner.auth).json().get(field)

        return send

    return make


def _publish_discard(api: Api, world: World, field: str) -> Sender:
    """``discard: true`` removes the version's unpublished files, ``false`` publishes them."""
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)

    def send(value):
        version = unique("v")
        upload = f"/content/{owner.name}/{repo}/{package}/{version}/{version}.txt"
        assert api.put(upload, owner.auth, data=b"x").status_code == 201
        publish = f"/content/{owner.name}/{repo}/{package}/{version}/publish"
        response = api.post(publish, owner.auth, json={field: value})
        # Discarded: the file is gone (404), published: anyone downloads it (302).
        return response, lambda: api.get(f"/dl/{owner.name}/{repo}/{version}.txt").status_code == 404

    return send


def _file_metadata(api: Api, world: World, field: str) -> Sender:
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    response = api.put(f"/content/{owner.name}/{repo}/{package}/1.0/m.txt", owner.auth, data=b"m")
    assert response.status_code == 201, response.text
    repo_id = Repository.get(owner.name, repo).id

    def send(value):
        response = api.put(f"/file_metadata/{owner.name}/{repo}/m.txt", owner.auth, json={field: value})
        return response, lambda: File.get(repo_id, "m.txt").list_in_downloads

    return send


def _premium_org(api: Api, world: World, plan: str = "premium") -> tuple[Any, str]:
    owner = world.user()
    return owner, world.org(owner, plan=plan)


def _access_key(api: Api, world: World, field: str) -> Sender:
    owner, org = _premium_org(api, world)

    def send(value):
        key = unique("k")
        response = api.post(f"/orgs/{org}/access_keys", owner.auth, json={"id": key, field: value})
        return response, lambda: api.get(f"/orgs/{org}/access_keys/{key}", owner.auth).json()[field]

    return send


def _team(api: Api, world: World, field: str) -> Sender:
    owner, org = _premium_org(api, world)

    def send(value):
        team = unique("t")
        response = api.post(f"/orgs/{org}/teams", owner.auth, json={"name": team, field: value})
        return response, lambda: api.get(f"/orgs/{org}/teams/{team}", owner.auth).json()[field]

    return send


def _eula(api: Api, world: World, field: str) -> Sender:
    owner = world.user(plan="enterprise")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    product = unique("prod")
    body = {"name": product, "packages": [f"{repo}/{package}"]}
    assert api.post(f"/products/{owner.name}", owner.auth, json=body).status_code == 201

    def send(value):
        eula = unique("eula")
        path = f"/products/{owner.name}/{product}/eulas"
        response = api.post(path, owner.auth, json={"name": eula, "content": "c", field: value})
        return response, lambda: api.get(f"{path}/{eula}", owner.auth).json()[field]

    return send


def _use_release(api: Api, world: World, field: str) -> Sender:
    """Version release notes from GitHub: ``use_release`` true, or false beside a notes file."""
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo, github_repo="gh-user/gh-repo")
    version = world.version(owner.name, repo, package, vcs_tag="v1")
    url = f"/packages/{owner.name}/{repo}/{package}/versions/{version}"

    def send(value):
        truthy = value is True or (isinstance(value, str) and value.lower() == "true")
        github = {field: value} if truthy else {field: value, "github_release_notes_file": "N.md"}
        response = api.post(f"{url}/release_notes", owner.auth, json={"github": github})
        return response, lambda: api.get(f"{url}/release_notes").json()["github"].get(field) == "true"

    return send


def _user_admin(api: Api, world: World, field: str) -> Sender:
    def send(value):
        name = unique("u")
        body = {"email": f"{name}@example.com", field: value}
        response = api.put(f"/api/security/users/{name}", ADMIN, json=body)
        return response, lambda: api.get(f"/api/security/users/{name}", ADMIN).json()[field]

    return send


def _threshold(api: Api, world: World, field: str) -> Sender:
    """A repository's usage threshold (an Enterprise organisation; one threshold per repository)."""
    owner, org = _premium_org(api, world, plan="enterprise")

    def send(value):
        path = f"/usage_threshold/repo/{org}/{world.repo(org)}"
        response = api.post(path, owner.auth, json={"daily_download_bytes": 1, field: value})
        return response, lambda: api.get(path, owner.auth).json()[field]

    return send


#: Every boolean of a request body: (route, field, the body's field path in 400 messages, sender).
BOOLEAN_FIELDS: list[tuple[str, str, str, Callable[[Api, World, str], Sender]]] = [
    ("POST /repos/:s/:r", "private", "private", _repo_create),
    ("POST /repos/:s/:r", "gpg_sign_files", "gpg_sign_files", _repo_create),
    ("PATCH /repos/:s/:r", "gpg_sign_metadata", "gpg_sign_metadata", _repo_patch),
    ("POST /packages/:s/:r", "public_download_numbers", "public_download_numbers", _package_write(True)),
    ("PATCH /packages/:s/:r/:p", "public_download_numbers", "public_download_numbers", _package_write(False)),
    ("PATCH /packages/:s/:r/:p", "public_stats", "public_stats", _package_write(False, plan="premium")),
    ("POST versions", "github_use_tag_release_notes", "github_use_tag_release_notes", _version_write(True)),
    ("PATCH version", "github_use_tag_release_notes", "github_use_tag_release_notes", _version_write(False)),
    ("POST /content/.../publish", "discard", "discard", _publish_discard),
    ("PUT /file_metadata", "list_in_downloads", "list_in_downloads", _file_metadata),
    ("POST /orgs/:o/access_keys", "api_only", "api_only", _access_key),
    ("POST /orgs/:o/teams", "allow_repo_creation", "allow_repo_creation", _team),
    ("POST /products/:s/:p/eulas", "default", "default", _eula),
    ("POST version release_notes", "use_release", "github.use_release", _use_release),
    ("PUT /api/security/users/:u", "admin", "admin", _user_admin),
    ("POST /usage_threshold/repo/:o/:r", "alert_to_admins", "alert_to_admins", _threshold),
]


@pytest.mark.parametrize(
    ("route", "field", "where", "make"), BOOLEAN_FIELDS, ids=[f"{r} {f}" for r, f, _, _ in BOOLEAN_FIELDS]
)
def test_boolean_fields_take_strings(api, world, route, field, where, make):
    send = make(api, world, field)
    for value, meant in (("true", True), ("false", False), ("TRUE", True), (True, True), (False, False)):
        response, read = send(value)
        assert response.status_code in (200, 201), (value, response.text)
        assert read() is meant, value
    for value in ("yes", 1, 0, "", "1", "t", ["true"]):
        response, read = send(value)
        assert response.status_code == 400, (value, response.text)
        message = response.json()["message"]
        assert f"'{where}'" in message and "true or false" in message, (value, message)


def test_every_boolean_body_field_is_in_the_table():
    """A new boolean in a request body must be added to BOOLEAN_FIELDS (and be a ``Flag``)."""
    import app  # noqa: F401  (imports every route module)
    from chalicelib.validation import Body

    def models(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from models(sub)

    found = set()
    for model in models(Body):
        for name, info in model.model_fields.items():
            annotation = str(info.annotation)
            if "bool" in annotation:
                found.add(name)
                assert any(getattr(m, "__name__", "") == "_flag" for m in _validators(info)), (model, name)
    assert found == {field for _, field, _, _ in BOOLEAN_FIELDS} | {"gpg_use_owner_key"}


def test_gpg_use_owner_key_takes_strings(api, world):
    """``gpg_use_owner_key``: true needs the owner's GPG key pair (Shelf keeps none), so "true" is read
    as true when refused for that reason; "false" is accepted."""
    send = _repo_patch(api, world, "gpg_use_owner_key")
    for value in ("true", "True", True):
        response, _ = send(value)
        assert response.status_code == 400 and "GPG key pair" in response.json()["message"], response.text
    for value in ("false", False):
        response, read = send(value)
        assert response.status_code == 200 and read() is False, response.text
    response, _ = send("yes")
    assert response.status_code == 400 and "'gpg_use_owner_key'" in response.json()["message"]


def _validators(info) -> list:
    from typing import get_args

    out = [getattr(meta, "func", None) for meta in info.metadata]
    for arg in get_args(info.annotation):
        out += [getattr(meta, "func", None) for meta in getattr(arg, "__metadata__", ())]
    return out


# --- rule 8: syntax names are upper case in answers ------------------------------------------------


def _docs(kind: str) -> Callable[[Api, World], tuple[Callable[[str], requests.Response], Callable[[], Any]]]:
    def make(api: Api, world: World):
        owner = world.user()
        repo = world.repo(owner.name)
        package = world.package(owner.name, repo)
        world.version(owner.name, repo, package, "1.0")
        url = f"/packages/{owner.name}/{repo}/{package}/{kind}"

        def send(syntax):
            response = api.post(url, owner.auth, json={"bintray": {"syntax": syntax, "content": "x"}})
            return response, (response.json().get("bintray", {}).get("syntax") if response.ok else None)

        return send, lambda: api.get(url).json()["bintray"]["syntax"]

    return make


def _eula_syntax(api: Api, world: World):
    owner = world.user(plan="enterprise")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    product = unique("prod")
    body = {"name": product, "packages": [f"{repo}/{package}"]}
    assert api.post(f"/products/{owner.name}", owner.auth, json=body).status_code == 201
    path = f"/products/{owner.name}/{product}/eulas/e"
    response = api.post(f"/products/{owner.name}/{product}/eulas", owner.auth, json={"name": "e"})
    assert response.status_code == 201, response.text

    def send(syntax):
        response = api.patch(path, owner.auth, json={"syntax": syntax})
        return response, (response.json().get("syntax") if response.ok else None)

    return send, lambda: api.get(path, owner.auth).json()["syntax"]


def _product_readme(api: Api, world: World):
    owner = world.user(plan="enterprise")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    product = unique("prod")
    body = {"name": product, "packages": [f"{repo}/{package}"]}
    assert api.post(f"/products/{owner.name}", owner.auth, json=body).status_code == 201

    def send(syntax):
        content = {"bintray": {"syntax": syntax, "content": "x"}}
        response = api.post(f"/products/{owner.name}/{product}/readme", owner.auth, json=content)
        return response, (response.json()[0]["bintray"]["syntax"] if response.ok else None)

    readme = f"/packages/{owner.name}/{repo}/{package}/readme"
    return send, lambda: api.get(readme).json()["bintray"]["syntax"]


SYNTAX_ROUTES = {
    "readme": _docs("readme"),
    "package release notes": _docs("release_notes"),
    "version release notes": _docs("versions/1.0/release_notes"),
    "eula": _eula_syntax,
    "product readme": _product_readme,
}


@pytest.mark.parametrize("make", SYNTAX_ROUTES.values(), ids=SYNTAX_ROUTES.keys())
def test_syntax_names_are_upper_case_in_answers(api, world, make):
    send, read = make(api, world)
    for sent, answered in (
        ("markdown", "MARKDOWN"),
        ("ASCIIDOC", "ASCIIDOC"),
        ("Plain_Text", "PLAIN_TEXT"),
        ("MarkDown", "MARKDOWN"),
    ):
        response, shown = send(sent)
        assert response.status_code in (200, 201), response.text
        assert shown == answered and read() == answered, sent
    response, _ = send("html")
    assert response.status_code == 400 and "syntax" in response.json()["message"], response.text
    assert read() == "MARKDOWN"
