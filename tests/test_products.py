"""Products (issue #5, Enterprise): list, get, create, update, delete, product readme; shapes, plans,
validation, visibility, cascades and deleted packages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import ADMIN, User, assert_message, unique

DELETED = {"message": "deleted"}


@dataclass
class Shop:
    """An Enterprise user with a public repository (package ``a``: 1.0, 1.1) and a private one
    (package ``b``: 2.0), versions created in that order."""

    owner: User
    public: str
    private: str
    a: str
    b: str

    @property
    def members(self) -> list[str]:
        return [f"{self.public}/{self.a}", f"{self.private}/{self.b}"]


def make_shop(world, plan: str = "enterprise") -> Shop:
    owner = world.user(plan=plan)
    public = world.repo(owner.name)
    private = world.repo(owner.name, private=True)
    a = world.package(owner.name, public)
    b = world.package(owner.name, private)
    world.version(owner.name, public, a, "1.0")
    world.version(owner.name, public, a, "1.1")
    world.version(owner.name, private, b, "2.0")
    return Shop(owner, public, private, a, b)


@pytest.fixture
def shop(world) -> Shop:
    return make_shop(world)


def create(api, shop: Shop, **fields) -> dict:
    body = {"name": unique("prod"), "packages": shop.members, **fields}
    response = api.post(f"/products/{shop.owner.name}", shop.owner.auth, json=body)
    assert response.status_code == 201, response.text
    return response.json()


# --- shapes --------------------------------------------------------------------------------------


def test_create_get_and_list(api, shop):
    body = {
        "name": unique("prod"),
        "display_name": "Great Product",
        "desc": "description",
        "website_url": "http://great-prod.io",
        "vcs_url": "",
        "packages": shop.members,
        "sign_url_expiry": 10,
    }
    response = api.post(f"/products/{shop.owner.name}", shop.owner.auth, json=body)
    assert response.status_code == 201, response.text
    made = response.json()
    assert set(made) == {
        "name",
        "display_name",
        "created",
        "desc",
        "website_url",
        "vcs_url",
        "packages",
        "versions",
        "sign_url_expiry",
    }
    assert made["name"] == body["name"] and made["display_name"] == "Great Product"
    assert made["desc"] == "description" and made["website_url"] == "http://great-prod.io"
    assert made["vcs_url"] == "" and made["sign_url_expiry"] == 10
    assert made["packages"] == shop.members
    assert made["versions"] == ["2.0", "1.1", "1.0"]  # union, newest first
    assert made["created"].endswith("Z") and len(made["created"]) == 24

    got = api.get(f"/products/{shop.owner.name}/{body['name']}", shop.owner.auth)
    assert got.status_code == 200 and got.json() == made

    other = create(api, shop, packages=[])
    assert other["packages"] == [] and other["versions"] == [] and other["display_name"] == other["name"]
    listed = api.get(f"/products/{shop.owner.name}", shop.owner.auth)
    assert listed.status_code == 200
    assert listed.json() == sorted([{"name": body["name"]}, {"name": other["name"]}], key=lambda p: p["name"])


def test_versions_shared_by_packages_appear_once(api, world, shop):
    world.version(shop.owner.name, shop.private, shop.b, "1.0")
    made = create(api, shop)
    assert made["versions"] == ["1.0", "2.0", "1.1"]  # 1.0 counts at its newest creation


# --- plans ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("plan", ["oss", "premium"])
def test_products_need_enterprise(api, world, plan):
    owner = world.user(plan=plan)
    for response in (
        api.get(f"/products/{owner.name}", owner.auth),
        api.post(f"/products/{owner.name}", owner.auth, json={"name": "p"}),
    ):
        assert response.status_code == 403, response.text
        assert response.json() == {"message": "This resource is only available for Enterprise users"}
    # A product that does not exist is a 404 first (observed rule 2).
    for response in (
        api.get(f"/products/{owner.name}/p", owner.auth),
        api.patch(f"/products/{owner.name}/p", owner.auth, json={"desc": "x"}),
        api.delete(f"/products/{owner.name}/p", owner.auth),
        api.post(f"/products/{owner.name}/p/readme", owner.auth, json={"bintray": {"content": "x"}}),
    ):
        assert response.status_code == 404, response.text
        assert response.json() == {"message": "Product 'p' was not found"}


def test_products_of_packages_outside_premium_repositories_are_refused(api, world):
    """Observed: a product over a package of a non-premium repository is a 400 naming the package."""
    shop = make_shop(world, plan="oss")
    body = {"name": "p", "packages": shop.members}
    response = api.post(f"/products/{shop.owner.name}", shop.owner.auth, json=body)
    assert response.status_code == 400, response.text
    want = f"Package {shop.public}/{shop.a} should be under premium repository to be part of a product"
    assert response.json() == {"message": want}


def test_org_products(api, world):
    boss = world.user()
    org = world.org(boss, plan="enterprise")
    repo = world.repo(org)
    package = world.package(org, repo)
    response = api.post(
        f"/products/{org}", boss.auth, json={"name": "suite", "packages": [f"{repo}/{package}"]}
    )
    assert response.status_code == 201, response.text
    member = world.user()
    world.member(org, member)
    assert api.get(f"/products/{org}/suite", member.auth).status_code == 200
    assert api.patch(f"/products/{org}/suite", member.auth, json={"desc": "x"}).status_code == 403


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["name"]),
        ({"name": "bad name"}, ["product name"]),
        ({"name": "_all"}, ["reserved"]),
        ({"name": "p", "packages": ["no-slash"]}, ["repo/package"]),
        ({"name": "p", "packages": "r/p"}, ["packages"]),
        ({"name": "p", "packages": ["r/p"]}, ["'r/p'", "not found"]),
        ({"name": "p", "sign_url_expiry": -1}, ["sign_url_expiry"]),
        ({"name": "p", "sign_url_expiry": "10"}, ["sign_url_expiry"]),
        ({"name": "p", "desc": 5}, ["desc"]),
    ],
)
def test_create_invalid(api, shop, body, words):
    response = api.post(f"/products/{shop.owner.name}", shop.owner.auth, json=body)
    assert response.status_code == 400, response.text
    assert_message(response, *words)


def test_create_names_the_missing_package(api, world, shop):
    body = {"name": "p", "packages": [shop.members[0], f"{shop.public}/ghost"]}
    response = api.post(f"/products/{shop.owner.name}", shop.owner.auth, json=body)
    assert response.status_code == 400
    assert_message(response, f"{shop.public}/ghost")
    # Another subject's package is not a package of this subject.
    other = make_shop(world)
    body = {"name": "p", "packages": [other.members[0]]}
    response = api.post(f"/products/{shop.owner.name}", shop.owner.auth, json=body)
    assert response.status_code == 400


def test_duplicate_is_409(api, shop):
    made = create(api, shop)
    response = api.post(f"/products/{shop.owner.name}", shop.owner.auth, json={"name": made["name"]})
    assert response.status_code == 409
    assert_message(response, made["name"])


def test_unknown_product_and_subject(api, shop):
    assert api.get(f"/products/{shop.owner.name}/nope", shop.owner.auth).status_code == 404
    assert (
        api.patch(f"/products/{shop.owner.name}/nope", shop.owner.auth, json={"desc": "x"}).status_code == 404
    )
    assert api.delete(f"/products/{shop.owner.name}/nope", shop.owner.auth).status_code == 404
    assert api.get(f"/products/{unique('ghost')}", ADMIN).status_code == 404


# --- update --------------------------------------------------------------------------------------


def test_update(api, shop):
    made = create(api, shop, desc="old", website_url="http://old.io")
    path = f"/products/{shop.owner.name}/{made['name']}"
    response = api.patch(path, shop.owner.auth, json={})
    assert response.status_code == 400
    assert_message(response, "At least one")
    assert api.patch(path, shop.owner.auth, json={"packages": ["x/y"]}).status_code == 400
    assert api.patch(path, shop.owner.auth, json={"sign_url_expiry": -5}).status_code == 400

    response = api.patch(
        path, shop.owner.auth, json={"display_name": "New", "desc": "", "packages": [shop.members[1]]}
    )
    assert response.status_code == 200, response.text
    got = api.get(path, shop.owner.auth).json()
    assert got == response.json()
    assert got["display_name"] == "New" and got["desc"] == "" and got["website_url"] == "http://old.io"
    assert got["packages"] == [shop.members[1]] and got["versions"] == ["2.0"]
    assert got["created"] == made["created"]


# --- delete and cascades -------------------------------------------------------------------------


def test_delete_removes_eulas(api, shop):
    made = create(api, shop)
    path = f"/products/{shop.owner.name}/{made['name']}"
    eula = {"name": "terms", "content": "be nice", "default": True}
    assert api.post(f"{path}/eulas", shop.owner.auth, json=eula).status_code == 201
    response = api.delete(path, shop.owner.auth)
    assert response.status_code == 200 and response.json() == DELETED
    assert api.get(path, shop.owner.auth).status_code == 404
    assert api.get(f"{path}/eulas", shop.owner.auth).status_code == 404
    # A product re-created under the same name starts without EULAs.
    create(api, shop, name=made["name"])
    assert api.get(f"{path}/eulas", shop.owner.auth).json() == []
    assert api.get(f"{path}/eulas/terms", shop.owner.auth).status_code == 404


def test_deleted_package_is_left_out(api, world, shop):
    made = create(api, shop)
    path = f"/products/{shop.owner.name}/{made['name']}"
    gone = api.delete(f"/packages/{shop.owner.name}/{shop.private}/{shop.b}", ADMIN)
    assert gone.status_code == 200, gone.text
    got = api.get(path, shop.owner.auth).json()
    assert got["packages"] == [shop.members[0]] and got["versions"] == ["1.1", "1.0"]
    # The product keeps working: updates, and a re-created package of that name joins again.
    assert api.patch(path, shop.owner.auth, json={"desc": "still here"}).status_code == 200
    world.package(shop.owner.name, shop.private, name=shop.b)
    assert api.get(path, shop.owner.auth).json()["packages"] == shop.members


# --- visibility ----------------------------------------------------------------------------------


def test_read_rights(api, world, shop):
    mixed = create(api, shop)
    private_only = create(api, shop, packages=[shop.members[1]])
    stranger = world.user()
    base = f"/products/{shop.owner.name}"
    assert api.get(base).status_code == 401
    assert api.get(f"{base}/{mixed['name']}").status_code == 401
    assert api.get(f"{base}/{mixed['name']}", stranger.auth).status_code == 200
    hidden = api.get(f"{base}/{private_only['name']}", stranger.auth)
    assert hidden.status_code == 404
    assert hidden.json() == {"message": f"Product '{private_only['name']}' was not found"}
    # Observed rule 4: any authenticated user lists a product's EULAs (none here).
    assert api.get(f"{base}/{private_only['name']}/eulas", stranger.auth).json() == []
    assert api.get(base, stranger.auth).json() == [{"name": mixed["name"]}]
    assert {p["name"] for p in api.get(base, ADMIN).json()} == {mixed["name"], private_only["name"]}
    # Writes need admin rights on the subject: another subject's products are 403 "forbidden".
    for response in (
        api.post(base, stranger.auth, json={"name": "x"}),
        api.patch(f"{base}/{mixed['name']}", stranger.auth, json={"desc": "x"}),
        api.delete(f"{base}/{mixed['name']}", stranger.auth),
        api.patch(f"{base}/{private_only['name']}", stranger.auth, json={"desc": "x"}),
        api.post(f"{base}/{mixed['name']}/readme", stranger.auth, json={"bintray": {"content": "x"}}),
    ):
        assert response.status_code == 403 and response.json() == {"message": "forbidden"}, response.text
    assert api.post(base, json={"name": "x"}).status_code == 401


def test_get_product_shows_only_the_packages_the_caller_reads(api, world, shop):
    """Security: the private package (and its versions) of a product stay hidden from callers who
    cannot read its repository; a team permission on it shows it."""
    mixed = create(api, shop)
    path = f"/products/{shop.owner.name}/{mixed['name']}"
    stranger = world.user()
    got = api.get(path, stranger.auth).json()
    assert got["packages"] == [shop.members[0]] and got["versions"] == ["1.1", "1.0"]
    assert api.get(path, shop.owner.auth).json()["packages"] == shop.members
    world.team(shop.owner.name, [stranger], {shop.private: "read"})
    got = api.get(path, stranger.auth).json()
    assert got["packages"] == shop.members and got["versions"] == ["2.0", "1.1", "1.0"]


# --- product readme ------------------------------------------------------------------------------


def test_product_readme_set_and_delete(api, world, shop):
    made = create(api, shop)
    path = f"/products/{shop.owner.name}/{made['name']}/readme"
    readmes = [f"/packages/{shop.owner.name}/{member}/readme" for member in shop.members]
    body = {"bintray": {"syntax": "asciidoc", "content": "= Product"}}
    response = api.post(path, shop.owner.auth, json=body)
    assert response.status_code == 200, response.text
    assert [r["package"] for r in response.json()] == [shop.a, shop.b]
    for readme in readmes:
        got = api.get(readme, shop.owner.auth)
        assert got.status_code == 200
        assert got.json()["bintray"] == {"syntax": "ASCIIDOC", "content": "= Product"}

    response = api.delete(path, shop.owner.auth)
    assert response.status_code == 200 and response.json() == {"message": "success"}
    for readme in readmes:
        assert api.get(readme, shop.owner.auth).status_code == 404
    # Deleting again is fine: there is nothing left to delete.
    assert api.delete(path, shop.owner.auth).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"bintray": {"content": "a"}, "github": {"github_repo": "a/b"}},
        {"bintray": {"syntax": "html", "content": "a"}},
    ],
)
def test_product_readme_invalid(api, shop, body):
    made = create(api, shop)
    response = api.post(f"/products/{shop.owner.name}/{made['name']}/readme", shop.owner.auth, json=body)
    assert response.status_code == 400, response.text
    readme = f"/packages/{shop.owner.name}/{shop.members[0]}/readme"
    assert api.get(readme, shop.owner.auth).status_code == 404


def test_product_readme_rights(api, world, shop):
    made = create(api, shop)
    path = f"/products/{shop.owner.name}/{made['name']}/readme"
    stranger = world.user()
    body = {"bintray": {"content": "x"}}
    assert api.post(path, stranger.auth, json=body).status_code == 403
    assert api.delete(path, stranger.auth).status_code == 403
    assert api.post(path, json=body).status_code == 401
    assert api.post(f"/products/{shop.owner.name}/nope/readme", shop.owner.auth, json=body).status_code == 404


# --- races ---------------------------------------------------------------------------------------


def test_writes_retry_transaction_conflicts(api, shop, conflicts):
    conflicts(2)
    made = create(api, shop)
    path = f"/products/{shop.owner.name}/{made['name']}"
    conflicts(2)
    assert api.patch(path, shop.owner.auth, json={"packages": [shop.members[0]]}).status_code == 200
    conflicts(2)
    assert api.post(f"{path}/eulas", shop.owner.auth, json={"name": "e", "default": True}).status_code == 201
    conflicts(2)
    assert api.patch(f"{path}/eulas/e", shop.owner.auth, json={"content": "x"}).status_code == 200


def test_update_of_a_product_deleted_meanwhile_is_404(api, shop):
    from chalicelib.accounts.models import Subject
    from chalicelib.errors import NotFound
    from chalicelib.products import services
    from chalicelib.products.services import UpdateProductBody

    made = create(api, shop)
    stale = services.get_product(shop.owner.name, made["name"])
    assert api.delete(f"/products/{shop.owner.name}/{made['name']}", shop.owner.auth).status_code == 200
    with pytest.raises(NotFound):
        body = UpdateProductBody(packages=[shop.members[1]])
        services.update_product(Subject.get(shop.owner.name), stale, body)
    assert api.get(f"/products/{shop.owner.name}/{made['name']}", shop.owner.auth).status_code == 404
