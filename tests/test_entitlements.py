"""Entitlements (issue #5): CRUD on products, repositories, packages and versions; validation and
plans; enforcement for access keys (r/rw, path, package, version, product scopes; update and delete
take effect at once); Entitlement Search by access key and by tag."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ADMIN, assert_message, unique
from tests.test_access_keys import Scene, create_key, entitle, pkg_scope, upload

SUCCESS = {"message": "success"}


@pytest.fixture
def scene(api, world) -> Scene:
    """An enterprise organisation (product scopes need it); otherwise like test_access_keys' scene."""
    owner = world.user()
    org = world.org(owner, plan="enterprise")
    repo = world.repo(org, private=True)
    public = world.repo(org)
    world.package(org, repo, name="pkg")
    world.package(org, repo, name="other")
    for path in ("pkg/1.0/a/one.txt", "pkg/1.0/b/two.txt", "pkg/2.0/a/v2.txt", "other/2.0/c/three.txt"):
        assert upload(api, org, repo, path).status_code == 201
    create_key(api, Scene(owner, org, repo, public), id="k1")
    create_key(api, Scene(owner, org, repo, public), id="k2")
    return Scene(owner, org, repo, public)


def scopes(scene: Scene) -> dict[str, str]:
    return {
        "repo": f"/repos/{scene.org}/{scene.repo}",
        "package": pkg_scope(scene),
        "version": f"{pkg_scope(scene)}/versions/1.0",
    }


# --- CRUD ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["repo", "package", "version"])
def test_crud_shapes(api, scene, kind):
    scope = scopes(scene)[kind]
    auth = scene.owner.auth
    assert api.get(f"{scope}/entitlements", auth).json() == []
    body = {"access": "rw", "access_keys": ["k1", "k2"], "tags": ["t1", "t2"]}
    if kind == "repo":
        body["path"] = "a"
    response = api.post(f"{scope}/entitlements", auth, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert re.fullmatch(r"[0-9a-f]{40}", created["id"])
    assert created == {
        "id": created["id"],
        "path": "a" if kind == "repo" else None,
        "access": "rw",
        "access_keys": ["k1", "k2"],
        "tags": ["t1", "t2"],
    }
    assert api.get(f"{scope}/entitlements", auth).json() == [{"id": created["id"]}]
    one = f"{scope}/entitlements/{created['id']}"
    assert api.get(one, auth).json() == created

    update = {"access": "r", "access_keys_remove": ["k1"], "tags_add": ["t3"], "tags_remove": ["t1"]}
    response = api.patch(one, auth, json=update)
    assert response.status_code == 200, response.text
    assert response.json() == {**created, "access": "r", "access_keys": ["k2"], "tags": ["t2", "t3"]}
    response = api.patch(one, auth, json={"access_keys": ["k1"], "access_keys_add": ["k2"], "tags": []})
    assert response.json()["access_keys"] == ["k1", "k2"] and response.json()["tags"] == []
    assert api.get(one, auth).json()["access_keys"] == ["k1", "k2"]

    assert api.delete(one, auth).json() == SUCCESS
    assert api.get(one, auth).status_code == 404
    assert api.get(f"{scope}/entitlements", auth).json() == []


def test_given_id_duplicates_and_scopes_are_separate(api, scene):
    s = scopes(scene)
    entitle(api, scene, s["repo"], id="ent-1", access="r")
    response = api.post(f"{s['repo']}/entitlements", scene.owner.auth, json={"id": "ent-1", "access": "r"})
    assert response.status_code == 409
    assert_message(response, "ent-1")
    # Ids are unique per subject: the same id on another scope is a conflict too, and the entitlement
    # is not visible through another scope.
    again = api.post(f"{s['package']}/entitlements", scene.owner.auth, json={"id": "ent-1", "access": "r"})
    assert again.status_code == 409
    assert api.get(f"{s['package']}/entitlements/ent-1", scene.owner.auth).status_code == 404
    assert api.get(f"{s['repo']}/entitlements/ent-1", scene.owner.auth).status_code == 200


@pytest.mark.parametrize(
    ("kind", "body", "words"),
    [
        ("repo", {"access": "x"}, ["access", "'r' or 'rw'"]),
        ("repo", {}, ["access"]),
        ("repo", {"access": "r", "access_keys": ["missing"]}, ["access_keys", "missing"]),
        ("repo", {"access": "r", "path": "/abs/path"}, ["path", "relative"]),
        ("repo", {"access": "r", "path": "a/../b"}, ["path"]),
        ("repo", {"access": "r", "access_keys": "k1"}, ["access_keys"]),
        ("repo", {"access": "r", "tags": [1]}, ["tags"]),
        ("repo", {"access": "r", "access_keys": [f"k{i}" for i in range(30)]}, ["access_keys"]),
        ("package", {"access": "r", "path": "a"}, ["path", "repository"]),
        ("version", {"access": "r", "path": "a"}, ["path"]),
    ],
)
def test_create_validation(api, scene, kind, body, words):
    scope = scopes(scene)[kind]
    response = api.post(f"{scope}/entitlements", scene.owner.auth, json=body)
    assert response.status_code == 400, response.text
    assert_message(response, *words)
    assert api.get(f"{scope}/entitlements", scene.owner.auth).json() == []


def test_update_validation_and_missing(api, scene):
    scope = scopes(scene)["repo"]
    item = entitle(api, scene, scope, access="r", access_keys=["k1"])
    one = f"{scope}/entitlements/{item['id']}"
    for body in ({"access": "w"}, {"access_keys_add": ["missing"]}, {"tags_add": "x"}):
        assert api.patch(one, scene.owner.auth, json=body).status_code == 400, body
    assert api.get(one, scene.owner.auth).json() == item
    for method in ("GET", "PATCH", "DELETE"):
        assert api.request(method, f"{scope}/entitlements/nope", scene.owner.auth, json={}).status_code == 404
    missing = f"/packages/{scene.org}/{scene.repo}/nope/entitlements"
    assert api.get(missing, scene.owner.auth).status_code == 404
    assert api.get(f"{pkg_scope(scene)}/versions/9.9/entitlements", scene.owner.auth).status_code == 404


def test_plans_and_permissions(api, world):
    owner = world.user()
    org = world.org(owner)  # oss
    repo = world.repo(org)
    response = api.post(f"/repos/{org}/{repo}/entitlements", owner.auth, json={"access": "r"})
    assert response.status_code == 403
    want = "This resource is only available for subjects with entitlement management enabled"
    assert response.json() == {"message": want}
    premium = world.org(owner, plan="premium")
    world.package(premium, world.repo(premium), name="pkg")
    # A product that does not exist is a 404 before the plan (observed rule 2).
    response = api.post(f"/products/{premium}/prod/entitlements", owner.auth, json={"access": "r"})
    assert response.status_code == 404
    assert response.json() == {"message": "Product 'prod' was not found"}
    member = world.user()
    world.member(premium, member)
    repo = world.repo(premium)
    # Another organisation's entitlements (a plain member is not its admin): 403 "forbidden".
    for auth in (member.auth, world.user().auth):
        response = api.get(f"/repos/{premium}/{repo}/entitlements", auth)
        assert response.status_code == 403 and response.json() == {"message": "forbidden"}
        response = api.get(f"/search/entitlements?tag=t&scope={premium}", auth)
        assert response.status_code == 403 and response.json() == {"message": "Forbidden"}
    assert api.get(f"/repos/{premium}/{repo}/entitlements").status_code == 401


# --- enforcement --------------------------------------------------------------------------------


def dl(api, scene: Scene, path: str, auth) -> int:
    return api.get(f"/dl/{scene.org}/{scene.repo}/{path}", auth).status_code


def test_rw_repository_path_scope(api, scene):
    auth = create_key(api, scene, id="writer")
    entitle(api, scene, scopes(scene)["repo"], access="rw", access_keys=["writer"], path="a")
    base = f"/content/{scene.org}/{scene.repo}"
    assert dl(api, scene, "a/one.txt", auth) == 302
    assert dl(api, scene, "b/two.txt", auth) == 403
    assert upload(api, scene.org, scene.repo, "pkg/1.0/a/new.txt", auth).status_code == 201
    assert dl(api, scene, "a/new.txt", auth) == 302
    assert api.delete(f"{base}/a/new.txt", auth).json() == SUCCESS
    response = upload(api, scene.org, scene.repo, "pkg/1.0/b/new.txt", auth)
    assert response.status_code == 403
    assert_message(response, "not entitled", "b/new.txt")
    assert upload(api, scene.org, scene.repo, "pkg/1.0/ab.txt", auth).status_code == 403  # not a/...
    assert api.delete(f"{base}/b/two.txt", auth).status_code == 403
    assert dl(api, scene, "b/two.txt", ADMIN) == 302


def test_rw_package_scope(api, scene):
    auth = create_key(api, scene, id="pw")
    entitle(api, scene, pkg_scope(scene), access="rw", access_keys=["pw"])
    assert upload(api, scene.org, scene.repo, "pkg/3.0/x/p.txt", auth).status_code == 201
    assert api.delete(f"/content/{scene.org}/{scene.repo}/x/p.txt", auth).status_code == 200
    assert upload(api, scene.org, scene.repo, "other/2.0/x/o.txt", auth).status_code == 403
    assert api.delete(f"/content/{scene.org}/{scene.repo}/c/three.txt", auth).status_code == 403
    assert dl(api, scene, "c/three.txt", auth) == 403


def test_version_scope(api, scene):
    auth = create_key(api, scene, id="vr")
    entitle(api, scene, scopes(scene)["version"], access="r", access_keys=["vr"])
    assert dl(api, scene, "a/one.txt", auth) == 302
    assert dl(api, scene, "a/v2.txt", auth) == 403  # version 2.0
    assert upload(api, scene.org, scene.repo, "pkg/1.0/a/w.txt", auth).status_code == 403


def test_whole_repository_scope_reads_the_repository(api, scene):
    auth = create_key(api, scene, id="rr")
    entitle(api, scene, scopes(scene)["repo"], access="r", access_keys=["rr"])
    for path in ("a/one.txt", "b/two.txt", "c/three.txt"):
        assert dl(api, scene, path, auth) == 302
    assert api.get(f"/repos/{scene.org}/{scene.repo}", auth).status_code == 200
    assert api.get(f"{pkg_scope(scene)}/files", auth).status_code == 200
    assert upload(api, scene.org, scene.repo, "pkg/1.0/z.txt", auth).status_code == 403


def test_update_and_delete_take_effect_at_once(api, scene):
    auth = create_key(api, scene, id="live")
    item = entitle(api, scene, pkg_scope(scene), access="r", access_keys=["live"])
    one = f"{pkg_scope(scene)}/entitlements/{item['id']}"
    assert upload(api, scene.org, scene.repo, "pkg/1.0/u.txt", auth).status_code == 403
    assert api.patch(one, scene.owner.auth, json={"access": "rw"}).status_code == 200
    assert upload(api, scene.org, scene.repo, "pkg/1.0/u.txt", auth).status_code == 201
    assert api.patch(one, scene.owner.auth, json={"access_keys_remove": ["live"]}).status_code == 200
    assert dl(api, scene, "a/one.txt", auth) == 404
    assert api.patch(one, scene.owner.auth, json={"access_keys_add": ["live"]}).status_code == 200
    assert dl(api, scene, "a/one.txt", auth) == 302
    assert api.delete(one, scene.owner.auth).json() == SUCCESS
    assert dl(api, scene, "a/one.txt", auth) == 404


def make_product(api, scene: Scene, packages: list[str]) -> str:
    name = unique("prod")
    response = api.post(f"/products/{scene.org}", scene.owner.auth, json={"name": name, "packages": packages})
    assert response.status_code == 201, response.text
    return name


def test_product_scope(api, scene):
    product = make_product(api, scene, [f"{scene.repo}/pkg"])
    scope = f"/products/{scene.org}/{product}"
    response = api.post(f"{scope}/entitlements", scene.owner.auth, json={"access": "rw"})
    assert response.status_code == 400
    assert_message(response, "product")
    item = entitle(api, scene, scope, access="r", access_keys=["k1"], tags=["p"])
    assert api.get(f"{scope}/entitlements", scene.owner.auth).json() == [{"id": item["id"]}]
    assert api.get(f"{scope}/entitlements/{item['id']}", scene.owner.auth).json() == item
    auth = (f"k1@{scene.org}", _password(api, scene, "k1"))
    assert dl(api, scene, "a/one.txt", auth) == 302
    assert dl(api, scene, "c/three.txt", auth) == 403
    assert upload(api, scene.org, scene.repo, "pkg/1.0/p.txt", auth).status_code == 403
    assert api.get(f"/products/{scene.org}/nope/entitlements", scene.owner.auth).status_code == 404


def test_product_entitlements_are_per_owner_and_go_with_the_product(api, world, scene):
    product = make_product(api, scene, [f"{scene.repo}/pkg"])
    item = entitle(api, scene, f"/products/{scene.org}/{product}", access="r", access_keys=["k1"])
    # Another owner's product of the same name has entitlements of its own.
    other_owner = world.user()
    other = world.org(other_owner, plan="enterprise")
    other_repo = world.repo(other)
    world.package(other, other_repo, name="pkg")
    body = {"name": product, "packages": [f"{other_repo}/pkg"]}
    assert api.post(f"/products/{other}", other_owner.auth, json=body).status_code == 201
    assert api.get(f"/products/{other}/{product}/entitlements", other_owner.auth).json() == []
    theirs = f"/products/{other}/{product}/entitlements/{item['id']}"
    assert api.get(theirs, other_owner.auth).status_code == 404
    # Deleting the product deletes its entitlements: a product re-created under the name grants nothing.
    auth = (f"k1@{scene.org}", _password(api, scene, "k1"))
    assert dl(api, scene, "a/one.txt", auth) == 302
    assert api.delete(f"/products/{scene.org}/{product}", scene.owner.auth).status_code == 200
    make = {"name": product, "packages": [f"{scene.repo}/pkg"]}
    assert api.post(f"/products/{scene.org}", scene.owner.auth, json=make).status_code == 201
    assert api.get(f"/products/{scene.org}/{product}/entitlements", scene.owner.auth).json() == []
    assert dl(api, scene, "a/one.txt", auth) == 404
    found = api.get("/search/entitlements", scene.owner.auth, params={"access_key": "k1", "scope": scene.org})
    assert found.status_code == 200 and found.json() == []


def test_a_deleted_subject_takes_its_keys_entitlements_and_products_along(api, world, scene):
    product = make_product(api, scene, [f"{scene.repo}/pkg"])
    entitle(api, scene, f"/products/{scene.org}/{product}", access="r", access_keys=["k1"])
    entitle(api, scene, pkg_scope(scene), access="rw", access_keys=["k2"])
    auth = (f"k1@{scene.org}", _password(api, scene, "k1"))
    assert api.delete(f"/orgs/{scene.org}", ADMIN).status_code == 200
    # Re-created under the same name by someone else: nothing of the old organisation is there.
    newcomer = world.user()
    response = api.put(f"/orgs/{scene.org}", ADMIN, json={"owner": newcomer.name, "plan": "enterprise"})
    assert response.status_code == 201, response.text
    assert api.get(f"/orgs/{scene.org}/access_keys", newcomer.auth).json() == {"access_keys": []}
    assert api.get(f"/products/{scene.org}", newcomer.auth).json() == []
    assert api.get(f"/repos/{scene.org}", auth).status_code == 401
    for key_id in ("k1", "k2"):
        response = api.post(f"/orgs/{scene.org}/access_keys", newcomer.auth, json={"id": key_id})
        assert response.status_code == 201, response.text
        query = {"access_key": key_id, "scope": scene.org}
        assert api.get("/search/entitlements", newcomer.auth, params=query).json() == []


def _password(api, scene: Scene, key_id: str) -> str:
    response = api.patch(f"/orgs/{scene.org}/access_keys/{key_id}", scene.owner.auth, json={"password": ""})
    assert response.status_code == 200, response.text
    return response.json()["password"]


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
def searchable(api, scene):
    s = scopes(scene)
    product = make_product(api, scene, [f"{scene.repo}/pkg"])
    ids = {
        "repo": entitle(api, scene, s["repo"], access="r", access_keys=["k1"], path="a", tags=["t"])["id"],
        "package": entitle(api, scene, s["package"], access="rw", access_keys=["k1", "k2"], tags=["t"])["id"],
        "version": entitle(api, scene, s["version"], access="r", access_keys=["k2"], tags=["u"])["id"],
        "product": entitle(api, scene, f"/products/{scene.org}/{product}", access="r", access_keys=["k1"],
                           tags=["t"])["id"],
    }
    return ids, product


def search(api, scene, **query) -> list[dict]:
    response = api.get("/search/entitlements", scene.owner.auth, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def test_search_by_access_key(api, scene, searchable):
    ids, product = searchable
    found = search(api, scene, access_key="k1", scope=f"{scene.org}/{scene.repo}")
    assert found == [
        {
            "id": ids["repo"],
            "repo": f"/{scene.org}/{scene.repo}",
            "path": "a",
            "access": "r",
            "access_keys": ["k1"],
            "tags": ["t"],
        }
    ]
    deep = search(api, scene, access_key="k1", scope=f"{scene.org}/{scene.repo}", deep="true")
    assert {e["id"] for e in deep} == {ids["repo"], ids["package"]}
    package = next(e for e in deep if e["id"] == ids["package"])
    assert package["package"] == "pkg" and package["access_keys"] == ["k1", "k2"]
    deep_k2 = search(api, scene, access_key="k2", scope=f"{scene.org}/{scene.repo}/pkg", deep="true")
    assert {e["id"] for e in deep_k2} == {ids["package"], ids["version"]}
    version = search(api, scene, access_key="k2", scope=f"{scene.org}/{scene.repo}/pkg/1.0")
    assert [e["version"] for e in version] == ["1.0"]
    whole = search(api, scene, access_key="k1", scope=scene.org, deep="true")
    assert {e["id"] for e in whole} == {ids["repo"], ids["package"], ids["product"]}
    prod = search(api, scene, access_key="k1", scope=scene.org, product=product)
    assert prod == [
        {"id": ids["product"], "product": product, "path": None, "access": "r", "access_keys": ["k1"],
         "tags": ["t"]}
    ]
    assert search(api, scene, access_key="nope", scope=scene.org, deep="true") == []


def test_search_by_tag(api, scene, searchable):
    ids, product = searchable
    found = search(api, scene, tag="t", scope=f"{scene.org}/{scene.repo}", deep="1")
    assert {e["id"] for e in found} == {ids["repo"], ids["package"]}
    assert all("t" in e["tags"] for e in found)
    assert [e["id"] for e in search(api, scene, tag="u", scope=scene.org, deep="true")] == [ids["version"]]
    by_product = search(api, scene, tag="t", scope=scene.org, product=product)
    assert [e["id"] for e in by_product] == [ids["product"]]
    assert search(api, scene, tag="none", scope=scene.org, deep="true") == []


def test_search_validation_and_permissions(api, world, scene, searchable):
    for query in ({"scope": scene.org}, {"tag": "t"}, {"tag": "t", "access_key": "k1", "scope": scene.org},
                  {"tag": "t", "scope": "a/b/c/d/e"}):
        response = api.get("/search/entitlements", scene.owner.auth, params=query)
        assert response.status_code == 400, (query, response.text)
    stranger = world.user()
    response = api.get("/search/entitlements", stranger.auth, params={"tag": "t", "scope": scene.org})
    assert response.status_code == 403
    assert api.get("/search/entitlements", params={"tag": "t", "scope": scene.org}).status_code == 401
    response = api.get("/search/entitlements", ADMIN, params={"tag": "t", "scope": unique("o")})
    assert response.status_code == 404


def test_entitlements_of_a_deleted_repository_are_gone(api, world, scene):
    repo = world.repo(scene.org, private=True)
    entitle(api, scene, f"/repos/{scene.org}/{repo}", access="r", access_keys=["k1"], tags=["gone"])
    assert len(search(api, scene, tag="gone", scope=scene.org, deep="true")) == 1
    assert api.delete(f"/repos/{scene.org}/{repo}", ADMIN).status_code == 200
    assert search(api, scene, tag="gone", scope=scene.org, deep="true") == []
    # A re-created repository of the same name starts without entitlements.
    assert api.post(f"/repos/{scene.org}/{repo}", ADMIN, json={"private": True}).status_code == 201
    assert api.get(f"/repos/{scene.org}/{repo}/entitlements", scene.owner.auth).json() == []


def test_maven_upload_and_explode_follow_the_grants(api, scene):
    import io
    import zipfile

    writer = create_key(api, scene, id="mvn")
    entitle(api, scene, pkg_scope(scene), access="rw", access_keys=["mvn"])
    jar = f"/maven/{scene.org}/{scene.repo}/pkg/com/acme/pkg/1.0/pkg-1.0.jar"
    assert api.put(jar, writer, data=b"jar").status_code == 201
    other_jar = f"/maven/{scene.org}/{scene.repo}/other/com/acme/other/1.0/other-1.0.jar"
    assert api.put(other_jar, writer, data=b"jar").status_code == 403

    path_key = create_key(api, scene, id="zip")
    entitle(api, scene, scopes(scene)["repo"], access="rw", access_keys=["zip"], path="a")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inside.txt", "x")
    headers = {"X-Bintray-Explode": "1"}
    inside = f"/content/{scene.org}/{scene.repo}/pkg/1.0/a/archive.zip"
    assert api.put(inside, path_key, data=buffer.getvalue(), headers=headers).status_code == 201
    assert dl(api, scene, "a/inside.txt", path_key) == 302  # unpublished: visible to an rw key
    at_root = f"/content/{scene.org}/{scene.repo}/pkg/1.0/root.zip"
    response = api.put(at_root, path_key, data=buffer.getvalue(), headers=headers)
    assert response.status_code == 403, response.text


def test_product_entitlement_update_keeps_read_only(api, scene):
    product = make_product(api, scene, [f"{scene.repo}/pkg"])
    scope = f"/products/{scene.org}/{product}"
    item = entitle(api, scene, scope, access="r")
    response = api.patch(f"{scope}/entitlements/{item['id']}", scene.owner.auth, json={"access": "rw"})
    assert response.status_code == 400
    response = api.patch(f"{scope}/entitlements/{item['id']}", scene.owner.auth, json={"tags": ["x"]})
    assert response.json()["tags"] == ["x"] and response.json()["access"] == "r"
