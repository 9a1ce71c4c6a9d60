"""EULAs of products (issue #5, Enterprise): CRUD, which EULA applies, ``file_eula``, acceptance,
the EULA check of access-key downloads, and tracking (``signed_eulas``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from chalicelib.auth.principal import Principal
from chalicelib.errors import Forbidden
from chalicelib.products import eulas
from chalicelib.products.models import EulaAcceptance, ProductMember, acceptance_ref, product_key
from tests.conftest import ADMIN, User, assert_message, unique

DELETED = {"message": "deleted"}


@dataclass
class Setup:
    """An Enterprise user's product ``product`` over package ``package`` of ``repo`` with versions
    1.0 and 2.0 (a published file ``lib/app-<v>.jar`` each) and 3.0 (no file)."""

    owner: User
    repo: str
    package: str
    product: str

    @property
    def path(self) -> str:
        return f"/products/{self.owner.name}/{self.product}"


@pytest.fixture
def setup(api, world) -> Setup:
    owner = world.user(plan="enterprise")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    for version in ("1.0", "2.0"):
        response = api.put(
            f"/content/{owner.name}/{repo}/{package}/{version}/lib/app-{version}.jar?publish=1",
            ADMIN,
            data=b"jar " + version.encode(),
        )
        assert response.status_code == 201, response.text
    world.version(owner.name, repo, package, "3.0")
    product = unique("prod")
    body = {"name": product, "packages": [f"{repo}/{package}"]}
    assert api.post(f"/products/{owner.name}", owner.auth, json=body).status_code == 201
    return Setup(owner, repo, package, product)


def add_eula(api, setup: Setup, **fields) -> dict:
    body = {"name": unique("eula"), "content": "Be nice.", **fields}
    response = api.post(f"{setup.path}/eulas", setup.owner.auth, json=body)
    assert response.status_code == 201, response.text
    return response.json()


# --- CRUD ----------------------------------------------------------------------------------------


def test_create_get_list(api, setup):
    made = add_eula(api, setup, versions=["1.0"], syntax="asciidoc")
    assert set(made) == {"name", "created", "versions", "syntax", "content", "default"}
    assert made["versions"] == ["1.0"] and made["syntax"] == "ASCIIDOC" and made["default"] is False
    assert made["content"] == "Be nice." and made["created"].endswith("Z")
    got = api.get(f"{setup.path}/eulas/{made['name']}", setup.owner.auth)
    assert got.status_code == 200 and got.json() == made
    plain = add_eula(api, setup, name="a-first")
    assert plain["syntax"] == "MARKDOWN" and plain["versions"] == []
    listed = api.get(f"{setup.path}/eulas", setup.owner.auth)
    assert listed.status_code == 200
    summary = {"name", "created", "versions"}
    assert listed.json() == [{k: plain[k] for k in summary}, {k: made[k] for k in summary}]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 400, ["name"]),
        ({"name": "bad name"}, 400, ["EULA name"]),
        ({"name": "e", "syntax": "html"}, 400, ["syntax"]),
        ({"name": "e", "versions": ["9.9"]}, 400, ["9.9", "not a version"]),
        ({"name": "e", "versions": "1.0"}, 400, ["versions"]),
        ({"name": "e", "default": "yes"}, 400, ["default"]),
        ({"name": "e", "content": 5}, 400, ["content"]),
    ],
)
def test_create_invalid(api, setup, body, status, words):
    response = api.post(f"{setup.path}/eulas", setup.owner.auth, json=body)
    assert response.status_code == status, response.text
    assert_message(response, *words)


def test_conflicts(api, setup):
    made = add_eula(api, setup, versions=["1.0"])
    again = api.post(f"{setup.path}/eulas", setup.owner.auth, json={"name": made["name"]})
    assert again.status_code == 409
    overlap = api.post(
        f"{setup.path}/eulas", setup.owner.auth, json={"name": "x", "versions": ["2.0", "1.0"]}
    )
    assert overlap.status_code == 409
    assert_message(overlap, "1.0", made["name"])


def test_one_default_per_product(api, setup):
    first = add_eula(api, setup, default=True)
    second = add_eula(api, setup, default=True)
    get = lambda e: api.get(f"{setup.path}/eulas/{e['name']}", setup.owner.auth).json()  # noqa: E731
    assert get(first)["default"] is False and get(second)["default"] is True
    response = api.patch(f"{setup.path}/eulas/{first['name']}", setup.owner.auth, json={"default": True})
    assert response.status_code == 200 and response.json()["default"] is True
    assert get(second)["default"] is False


def test_update_and_delete(api, setup):
    made = add_eula(api, setup)
    path = f"{setup.path}/eulas/{made['name']}"
    response = api.patch(path, setup.owner.auth, json={})
    assert response.status_code == 400
    assert_message(response, "At least one")
    assert api.patch(path, setup.owner.auth, json={"syntax": "rtf"}).status_code == 400
    assert api.patch(path, setup.owner.auth, json={"versions": ["nope"]}).status_code == 400
    body = {"syntax": "plain_text", "content": "New terms", "versions": ["2.0", "3.0"]}
    response = api.patch(path, setup.owner.auth, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == made | body | {"syntax": "PLAIN_TEXT"}
    assert api.get(path, setup.owner.auth).json() == made | body | {"syntax": "PLAIN_TEXT"}

    response = api.delete(path, setup.owner.auth)
    assert response.status_code == 200 and response.json() == DELETED
    for response in (
        api.get(path, setup.owner.auth),
        api.patch(path, setup.owner.auth, json={"content": "x"}),
        api.delete(path, setup.owner.auth),
    ):
        assert response.status_code == 404
    assert api.get(f"{setup.path}/eulas", setup.owner.auth).json() == []


def test_unknown_product(api, setup):
    base = f"/products/{setup.owner.name}/nope/eulas"
    assert api.get(base, setup.owner.auth).status_code == 404
    assert api.post(base, setup.owner.auth, json={"name": "e"}).status_code == 404
    assert api.get(f"{base}/e", setup.owner.auth).status_code == 404


@pytest.mark.parametrize("plan", ["oss", "premium"])
def test_eulas_need_enterprise(api, setup, plan):
    """A subject below Enterprise (here: downgraded) is refused every EULA route, as observed for
    Enterprise-only resources; what does not exist is a 404 first (tests/test_plans.py)."""
    made = add_eula(api, setup, default=True)
    owner = setup.owner
    body = {"email": f"{owner.name}@example.com", "plan": plan}
    assert api.put(f"/api/security/users/{owner.name}", ADMIN, json=body).status_code == 200
    base = setup.path
    for response in (
        api.get(f"{base}/eulas", owner.auth),
        api.post(f"{base}/eulas", owner.auth, json={"name": "e"}),
        api.get(f"{base}/eulas/{made['name']}", owner.auth),
        api.patch(f"{base}/eulas/{made['name']}", owner.auth, json={"content": "x"}),
        api.delete(f"{base}/eulas/{made['name']}", owner.auth),
        api.get(f"/file_eula/{owner.name}/{setup.repo}/lib/app-1.0.jar", owner.auth),
        api.get(f"{base}/versions/1.0/accept_eula", owner.auth),
        api.post(f"{base}/versions/1.0/accept_eula", owner.auth),
        api.get(f"{base}/signed_eulas", owner.auth),
        api.get(f"/products/{owner.name}/_all/signed_eulas", owner.auth),
    ):
        assert response.status_code == 403, response.text
        assert response.json() == {"message": "This resource is only available for Enterprise users"}


def test_rights(api, world, setup):
    made = add_eula(api, setup)
    stranger = world.user()
    # Observed rule 4: any authenticated caller lists the EULAs; the rest is admin-only ("forbidden").
    summary = [{k: made[k] for k in ("name", "created", "versions")}]
    assert api.get(f"{setup.path}/eulas", stranger.auth).json() == summary
    for response in (
        api.get(f"{setup.path}/eulas/{made['name']}", stranger.auth),
        api.get(f"{setup.path}/eulas/nope", stranger.auth),
        api.post(f"{setup.path}/eulas", stranger.auth, json={"name": "x"}),
        api.delete(f"{setup.path}/eulas/{made['name']}", stranger.auth),
        api.get(f"{setup.path}/signed_eulas", stranger.auth),
        api.get(f"/products/{setup.owner.name}/_all/signed_eulas", stranger.auth),
        api.get(f"/file_eula/{setup.owner.name}/{setup.repo}/lib/app-1.0.jar", stranger.auth),
    ):
        assert response.status_code == 403 and response.json() == {"message": "forbidden"}, response.text
    assert api.get(f"{setup.path}/eulas").status_code == 401


def test_eulas_are_listed_for_any_access_key(api, world, setup):
    """A customer's key reads the EULAs before accepting, of a product whose packages are private too."""
    made = add_eula(api, setup)
    other = world.user(plan="premium")
    key = api.post(f"/users/{other.name}/access_keys", other.auth, json={"id": "k"}).json()
    response = api.get(f"{setup.path}/eulas", (key["username"], key["password"]))
    assert response.status_code == 200, response.text
    assert [e["name"] for e in response.json()] == [made["name"]]


# --- which EULA applies: file_eula ---------------------------------------------------------------


def test_file_eula(api, setup):
    base = f"/file_eula/{setup.owner.name}/{setup.repo}/lib"
    auth = setup.owner.auth
    assert_message(api.get(f"{base}/app-1.0.jar", auth), "no EULA")
    special = add_eula(api, setup, versions=["1.0"])
    response = api.get(f"{base}/app-1.0.jar", auth)
    assert response.status_code == 200, response.text
    assert response.json() == special | {"product": setup.product}
    assert api.get(f"{base}/app-2.0.jar", auth).status_code == 404
    default = add_eula(api, setup, default=True)
    assert api.get(f"{base}/app-2.0.jar", auth).json()["name"] == default["name"]
    assert api.get(f"{base}/app-1.0.jar", auth).json()["name"] == special["name"]
    assert api.get(f"{base}/missing.jar", auth).status_code == 404


# --- acceptance ----------------------------------------------------------------------------------


def test_accept_as_user(api, world, setup):
    made = add_eula(api, setup, default=True, content="Terms")
    user = world.user()
    path = f"{setup.path}/versions/2.0/accept_eula"
    shown = api.get(path, user.auth)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "product": setup.product,
        "product_version_name": "2.0",
        "eula_name": made["name"],
        "syntax": "MARKDOWN",
        "content": "Terms",
        "username": user.name,
        "accepted": False,
    }
    accepted = api.post(f"{path}?username={user.name}", user.auth)
    assert accepted.status_code == 200, accepted.text
    row = accepted.json()
    assert row["username"] == user.name and row["eula_name"] == made["name"]
    assert row["product_version_name"] == "2.0" and row["product"] == setup.product
    assert api.get(path, user.auth).json()["accepted"] is True
    # Accepting again keeps the first date.
    assert api.post(path, user.auth).json()["date_signed"] == row["date_signed"]
    signed = api.get(f"{setup.path}/signed_eulas", setup.owner.auth).json()
    assert signed == {setup.product: [{k: row[k] for k in row if k != "product"}]}


def test_accept_refusals(api, world, setup):
    user = world.user()
    path = f"{setup.path}/versions/2.0/accept_eula"
    assert api.post(path).status_code == 401
    assert_message(api.get(path, user.auth), "no EULA")
    add_eula(api, setup, versions=["2.0"])
    assert api.post(f"{setup.path}/versions/9.9/accept_eula", user.auth).status_code == 404
    assert api.post(f"{setup.path}/versions/1.0/accept_eula", user.auth).status_code == 404  # no EULA
    response = api.post(f"{path}?username=someone-else", user.auth)
    assert response.status_code == 403
    assert_message(response, "someone-else")
    assert (
        api.post(f"/products/{setup.owner.name}/nope/versions/2.0/accept_eula", user.auth).status_code == 404
    )


def _private_product(api, world, setup: Setup) -> tuple[str, str]:
    """A product of the setup's owner over a package of a private repository (version 1.0 with a
    published file ``p.jar``), with a default EULA: (product path, private repository)."""
    owner = setup.owner.name
    repo = world.repo(owner, private=True)
    world.package(owner, repo, name="pkg")
    response = api.put(f"/content/{owner}/{repo}/pkg/1.0/p.jar?publish=1", ADMIN, data=b"p")
    assert response.status_code == 201, response.text
    name = unique("prod")
    body = {"name": name, "packages": [f"{repo}/pkg"]}
    assert api.post(f"/products/{owner}", setup.owner.auth, json=body).status_code == 201
    eula = {"name": "e", "default": True}
    response = api.post(f"/products/{owner}/{name}/eulas", setup.owner.auth, json=eula)
    assert response.status_code == 201, response.text
    return f"/products/{owner}/{name}", repo


def test_accepting_needs_to_read_the_product(api, world, setup):
    """Security: callers who may not read any package of the product get the 404 of a product that
    does not exist, whether the version exists or not; readers (a team, an entitled key) accept."""
    path, repo = _private_product(api, world, setup)
    name = path.rsplit("/", 1)[1]
    owner = setup.owner.name
    stranger = world.user()
    outsider_key = _access_key(api, setup, "no-grant")  # a key of the owner without an entitlement
    other = world.user(plan="premium")
    foreign = api.post(f"/users/{other.name}/access_keys", other.auth, json={"id": "k"}).json()
    for auth in (stranger.auth, outsider_key, (foreign["username"], foreign["password"])):
        for version in ("1.0", "9.9"):
            for method in ("GET", "POST"):
                response = api.request(method, f"{path}/versions/{version}/accept_eula", auth)
                assert response.status_code == 404, (auth[0], version, method, response.text)
                assert response.json() == {"message": f"Product '{name}' was not found"}
    assert api.get(path, stranger.auth).status_code == 404
    # A team with read on the repository, and a key entitled to the package, may read and accept.
    world.team(owner, [stranger], {repo: "read"})
    assert api.post(f"{path}/versions/1.0/accept_eula", stranger.auth).status_code == 200
    entitled = _access_key(api, setup, "entitled")
    body = {"access": "r", "access_keys": ["entitled"]}
    response = api.post(f"/packages/{owner}/{repo}/pkg/entitlements", setup.owner.auth, json=body)
    assert response.status_code == 201, response.text
    assert api.get(f"/dl/{owner}/{repo}/p.jar", entitled).status_code == 403  # not accepted yet
    response = api.post(f"{path}/versions/1.0/accept_eula", entitled)
    assert response.status_code == 200, response.text
    assert api.get(f"/dl/{owner}/{repo}/p.jar", entitled).status_code == 302
    # A reader learns which versions exist.
    response = api.get(f"{path}/versions/9.9/accept_eula", entitled)
    assert response.status_code == 404
    assert response.json() == {"message": f"Version '9.9' of product '{name}' was not found"}


# --- the EULA check of downloads -------------------------------------------------------------------


def _record(setup: Setup, version: str) -> SimpleNamespace:
    path = f"lib/app-{version}.jar"
    return SimpleNamespace(
        owner=setup.owner.name, repo=setup.repo, package=setup.package, version=version, path=path
    )


def _key(setup: Setup) -> Principal:
    return Principal(name=f"k1@{setup.owner.name}", key_id="k1", key_owner=setup.owner.name)


def test_check_download_for_keys(api, setup):
    made = add_eula(api, setup, versions=["1.0"])
    key = _key(setup)
    base = lambda: "https://shelf.example"  # noqa: E731
    with pytest.raises(Forbidden) as refused:
        eulas.check_download(key, _record(setup, "1.0"), base)
    url = (
        f"https://shelf.example/products/{setup.owner.name}/{setup.product}/versions/1.0/accept_eula"
        f"?username=k1@{setup.owner.name}"
    )
    assert (
        refused.value.message
        == f"To download the resource lib/app-1.0.jar you need to accept its EULA at: {url}"
    )
    eulas.check_download(key, _record(setup, "2.0"), base)  # no EULA applies to 2.0
    # After the key accepts (as it would through the acceptance endpoint), it may download.
    product = SimpleNamespace(name=setup.product, packages=[f"{setup.repo}/{setup.package}"])
    eula = eulas.get_eula(setup.owner.name, setup.product, made["name"])
    row = eulas.accept(setup.owner.name, product, "1.0", eula, key, {"username": key.name})
    assert row["eula_name"] == made["name"] and row["username"] == key.name
    eulas.check_download(key, _record(setup, "1.0"), base)
    # Another key has not accepted.
    other = Principal(name=f"k2@{setup.owner.name}", key_id="k2", key_owner=setup.owner.name)
    with pytest.raises(Forbidden):
        eulas.check_download(other, _record(setup, "1.0"), base)


def test_check_download_costs_users_nothing(monkeypatch, setup):
    def boom(*args, **kwargs):
        raise AssertionError("a user's download must not read EULA data")

    monkeypatch.setattr(ProductMember, "query", boom)
    user = Principal(name=setup.owner.name)
    eulas.check_download(user, _record(setup, "1.0"), lambda: "x")


def test_users_download_without_accepting(api, setup):
    add_eula(api, setup, default=True)
    response = api.get(f"/dl/{setup.owner.name}/{setup.repo}/lib/app-1.0.jar")
    assert response.status_code == 302
    response = api.get(f"/content/{setup.owner.name}/{setup.repo}/lib/app-1.0.jar", setup.owner.auth)
    assert response.status_code == 302


def _access_key(api, setup: Setup, key_id: str) -> tuple[str, str]:
    response = api.post(f"/users/{setup.owner.name}/access_keys", setup.owner.auth, json={"id": key_id})
    assert response.status_code == 201, response.text
    return response.json()["username"], response.json()["password"]


def test_access_key_download_needs_the_accepted_eula(api, setup):
    """The spec's flow over HTTP: refused with the acceptance URL, accept with the key, then 302."""
    made = add_eula(api, setup, versions=["1.0"], content="Terms of use")
    key = _access_key(api, setup, "buyer")
    username = f"buyer@{setup.owner.name}"
    assert key[0] == username
    dl = f"/dl/{setup.owner.name}/{setup.repo}/lib/app-1.0.jar"
    content = f"/content/{setup.owner.name}/{setup.repo}/lib/app-1.0.jar"
    accept = f"{setup.path}/versions/1.0/accept_eula"
    for path in (dl, content):
        response = api.get(path, key)
        assert response.status_code == 403, response.text
        assert response.json() == {
            "message": "To download the resource lib/app-1.0.jar you need to accept its EULA at: "
            f"{api.base_url}{accept}?username={username}"
        }
    # Version 2.0 has no EULA; users are never asked.
    assert api.get(f"/dl/{setup.owner.name}/{setup.repo}/lib/app-2.0.jar", key).status_code == 302
    assert api.get(dl, setup.owner.auth).status_code == 302

    shown = api.get(f"{accept}?username={username}", key)
    assert shown.status_code == 200, shown.text
    assert shown.json()["eula_name"] == made["name"] and shown.json()["content"] == "Terms of use"
    assert shown.json()["accepted"] is False
    accepted = api.post(f"{accept}?username={username}", key)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["username"] == username
    for path in (dl, content):
        assert api.get(path, key).status_code == 302
    # Another key of the same owner has not accepted.
    other = _access_key(api, setup, "other")
    assert api.get(dl, other).status_code == 403
    signed = api.get(f"{setup.path}/signed_eulas", setup.owner.auth).json()[setup.product]
    assert [(r["username"], r["eula_name"], r["product_version_name"]) for r in signed] == [
        (username, made["name"], "1.0")
    ]
    # Keys cannot manage products or EULAs.
    assert api.get(f"{setup.path}/eulas/{made['name']}", key).status_code == 403
    assert api.post(f"{setup.path}/eulas", key, json={"name": "x"}).status_code == 403


# --- tracking ------------------------------------------------------------------------------------


def _sign(setup: Setup, product: str, username: str, eula: str, version: str, at: datetime) -> None:
    EulaAcceptance(
        product_key(setup.owner.name, product),
        acceptance_ref(version, eula, username),
        username=username,
        eula_name=eula,
        product_version_name=version,
        date_signed=at,
    ).save()


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_signed_eulas_filters(api, setup):
    auth = setup.owner.auth
    _sign(setup, setup.product, "ann", "e1", "1.0", T0)
    _sign(setup, setup.product, "bob", "e1", "1.0", T0 + timedelta(days=1))
    _sign(setup, setup.product, "bob", "e2", "2.0", T0 + timedelta(days=2))
    path = f"{setup.path}/signed_eulas"
    response = api.get(path, auth)
    assert response.status_code == 200
    rows = response.json()[setup.product]
    assert [(r["username"], r["eula_name"]) for r in rows] == [("bob", "e2"), ("bob", "e1"), ("ann", "e1")]
    assert rows[0] == {
        "date_signed": "2026-01-03T00:00:00.000Z",
        "username": "bob",
        "product_version_name": "2.0",
        "eula_name": "e2",
    }
    names = lambda query: [  # noqa: E731
        (r["username"], r["eula_name"]) for r in api.get(f"{path}?{query}", auth).json()[setup.product]
    ]
    assert names("username=ann") == [("ann", "e1")]
    assert names("eula_name=e1") == [("bob", "e1"), ("ann", "e1")]
    assert names("from=2026-01-02T00:00:00.000Z") == [("bob", "e2"), ("bob", "e1")]
    assert names("to=2026-01-02T00:00:00.000Z") == [("bob", "e1"), ("ann", "e1")]
    assert names("from=2026-01-02T00:00:00.000Z&to=2026-01-02T12:00:00Z&username=bob") == [("bob", "e1")]
    assert names("username=nobody") == []
    for bad in ("from=yesterday", "to=2026-13-01", "start_pos=-1"):
        assert api.get(f"{path}?{bad}", auth).status_code == 400, bad
    assert api.get(f"/products/{setup.owner.name}/nope/signed_eulas", auth).status_code == 404


def test_signed_eulas_all_products_and_pagination(api, setup):
    auth = setup.owner.auth
    second = unique("prod")
    assert api.post(f"/products/{setup.owner.name}", auth, json={"name": second}).status_code == 201
    for i in range(52):
        _sign(setup, setup.product, f"user{i:02d}", "e1", "1.0", T0 + timedelta(minutes=i))
    _sign(setup, second, "zed", "e9", "1.0", T0)
    path = f"/products/{setup.owner.name}/_all/signed_eulas"
    first = api.get(path, auth)
    assert first.status_code == 200
    assert first.headers["X-RangeLimit-Total"] == "53"
    assert first.headers["X-RangeLimit-StartPos"] == "0" and first.headers["X-RangeLimit-EndPos"] == "49"
    ordered = sorted([setup.product, second])
    everything = [
        (p, f"user{i:02d}") for p in ordered for i in (range(51, -1, -1) if p == setup.product else [])
    ]
    everything = []
    for product in ordered:
        if product == setup.product:
            everything += [(product, f"user{i:02d}") for i in range(51, -1, -1)]
        else:
            everything.append((product, "zed"))

    def flat(body: dict) -> list[tuple[str, str]]:
        return [(p, r["username"]) for p in sorted(body) for r in body[p]]

    rest = api.get(f"{path}?start_pos=50", auth)
    assert rest.headers["X-RangeLimit-StartPos"] == "50" and rest.headers["X-RangeLimit-EndPos"] == "52"
    assert flat(first.json()) + flat(rest.json()) == everything
    assert api.get(f"{path}?username=zed", auth).json() == {
        second: [
            {
                "date_signed": "2026-01-01T00:00:00.000Z",
                "username": "zed",
                "product_version_name": "1.0",
                "eula_name": "e9",
            }
        ]
    }
    # A product's own listing is paged the same way.
    one = api.get(f"{setup.path}/signed_eulas?start_pos=50", auth)
    assert [r["username"] for r in one.json()[setup.product]] == ["user01", "user00"]
    assert one.headers["X-RangeLimit-Total"] == "52"


def test_dynamic_download_by_key_is_checked_too(api, setup):
    add_eula(api, setup, default=True)
    key = _access_key(api, setup, "dyn")
    path = f"/content/{setup.owner.name}/{setup.repo}/lib/app-$latest.jar?bt_package={setup.package}"
    response = api.get(path, key)
    assert response.status_code == 403
    assert_message(response, "lib/app-2.0.jar", "/versions/2.0/accept_eula?username=dyn@")
    assert api.post(f"{setup.path}/versions/2.0/accept_eula", key).status_code == 200
    assert api.get(path, key).status_code == 302
