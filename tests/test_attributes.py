"""Package and version attributes (issue #4): get/set/update/delete, types, hidden names, search with
ranges, cascades, and search cost independent of the number of non-matching packages."""

from __future__ import annotations

import pytest

from chalicelib.accounts.models import Subject
from chalicelib.attributes import services as attr_services
from chalicelib.attributes.models import Attribute, AttributeIndex
from chalicelib.packages import services as packages
from chalicelib.packages.services import CreatePackageBody
from chalicelib.repositories.models import Repository
from infra.local.opcount import count_operations
from tests.conftest import ADMIN, unique

DATE = "2011-07-14T19:43:37+0100"


@pytest.fixture(scope="module")
def mworld(api):
    from tests.conftest import World

    return World(api)


@pytest.fixture(scope="module")
def scene(api, mworld):
    world = mworld
    owner = world.user(plan="premium")
    repo = world.repo(owner.name)
    pkg = world.package(owner.name, repo)
    version = world.version(owner.name, repo, pkg, "1.0")
    return {"owner": owner, "subject": owner.name, "repo": repo, "pkg": pkg, "version": version}


def base(scene, version: bool = False) -> str:
    path = f"/packages/{scene['subject']}/{scene['repo']}/{scene['pkg']}"
    return path + (f"/versions/{scene['version']}/attributes" if version else "/attributes")


def fresh(api, world, scene) -> tuple[str, str]:
    """A new package in the scene's repository and its attributes path."""
    name = world.package(scene["subject"], scene["repo"])
    return name, f"/packages/{scene['subject']}/{scene['repo']}/{name}/attributes"


def by_name(body: list[dict]) -> dict[str, dict]:
    return {a["name"]: a for a in body}


# --- get / set / update / delete ---------------------------------------------------------------


@pytest.mark.parametrize("version", [False, True], ids=["package", "version"])
def test_set_infers_types_and_get_returns_them(api, scene, version):
    auth = scene["owner"].auth
    body = [
        {"name": "att1", "values": ["val1"], "type": "string"},
        {"name": "att2", "values": [1, 2.2, 4]},
        {"name": "att3", "values": [DATE, "1994-07-14T19:43:37+0100"]},
        {"name": "att4", "values": [True]},
        {"name": "att5", "values": ["1.2.3"], "type": "version"},
        {"name": "att6", "values": ["plain"]},
    ]
    response = api.post(base(scene, version), auth, json=body)
    assert response.status_code == 200, response.text
    got = api.get(base(scene, version))
    assert got.status_code == 200
    attrs = by_name(got.json())
    assert attrs["att1"] == {"name": "att1", "values": ["val1"], "type": "string"}
    assert attrs["att2"] == {"name": "att2", "values": [1, 2.2, 4], "type": "number"}
    assert attrs["att3"]["type"] == "date" and attrs["att3"]["values"][0] == DATE
    assert attrs["att4"]["type"] == "boolean"
    assert attrs["att5"]["type"] == "version"
    assert attrs["att6"]["type"] == "string"
    only = api.get(base(scene, version), params={"names": "att1,att4"}).json()
    assert [a["name"] for a in only] == ["att1", "att4"]


def test_set_replaces_all_update_merges_null_removes(api, world, scene):
    auth = scene["owner"].auth
    name, path = fresh(api, world, scene)
    assert api.post(path, auth, json=[{"name": "a", "values": [1]}, {"name": "b", "values": ["x"]}]).ok
    assert api.post(path, auth, json=[{"name": "c", "values": ["y"]}]).ok
    assert [a["name"] for a in api.get(path).json()] == ["c"]
    response = api.patch(path, auth, json=[{"name": "d", "values": [2]}, {"name": "c", "values": None}])
    assert response.status_code == 200, response.text
    assert api.get(path).json() == [{"name": "d", "values": [2], "type": "number"}]
    assert api.patch(path, auth, json=[{"name": "e", "values": ["z"]}]).ok
    assert [a["name"] for a in api.get(path).json()] == ["d", "e"]
    pkg_path = path.rsplit("/", 1)[0]
    assert api.get(pkg_path).json()["attribute_names"] == ["d", "e"]
    full = api.get(pkg_path, params={"attribute_values": 1}).json()
    assert full["attributes"] == {"d": [2], "e": ["z"]} and "attribute_names" not in full


def test_delete_by_names_and_all(api, world, scene):
    auth = scene["owner"].auth
    name, path = fresh(api, world, scene)
    body = [{"name": n, "values": [n]} for n in ("a", "b", "c")]
    assert api.post(path, auth, json=body).ok
    response = api.delete(path, auth, params={"names": "a,b"})
    assert response.status_code == 200 and response.json() == {"message": "success"}
    assert [a["name"] for a in api.get(path).json()] == ["c"]
    assert api.delete(path, auth).json() == {"message": "success"}
    assert api.get(path).json() == []
    assert api.get(path.rsplit("/", 1)[0]).json()["attribute_names"] == []


def test_version_attribute_values_and_names(api, scene):
    auth = scene["owner"].auth
    assert api.post(base(scene, True), auth, json=[{"name": "arch", "values": ["x86"]}]).ok
    vpath = base(scene, True).rsplit("/", 1)[0]
    assert api.get(vpath).json()["attribute_names"] == ["arch"]
    assert api.get(vpath, params={"attribute_values": "1"}).json()["attributes"] == {"arch": ["x86"]}


@pytest.mark.parametrize(
    "body",
    [
        [{"name": "att4", "values": [1.1, "elephant", 3.1]}],
        [{"name": "n", "values": [True, 1]}],
        [{"name": "n", "values": ["x"], "type": "number"}],
        [{"name": "n", "values": ["not a date"], "type": "date"}],
        [{"name": "n", "values": [1], "type": "colour"}],
        [{"name": "", "values": [1]}],
        [{"name": "a,b", "values": [1]}],
        [{"values": [1]}],
        [{"name": "n"}],
        [{"name": "n", "values": [[1]]}],
        [{"name": "n", "values": [None]}],
        [{"name": "n", "values": ["é" * 401]}],
        [{"name": "n", "values": [1]}, {"name": "n", "values": [2]}],
        {"name": "n", "values": [1]},
        ["n"],
    ],
)
def test_bad_attribute_bodies_are_400(api, scene, body):
    response = api.post(base(scene), scene["owner"].auth, json=body)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"message"}


def test_set_rejects_null_values_but_update_accepts(api, world, scene):
    _, path = fresh(api, world, scene)
    assert api.post(path, scene["owner"].auth, json=[{"name": "x", "values": None}]).status_code == 400
    assert api.patch(path, scene["owner"].auth, json=[{"name": "x", "values": None}]).status_code == 200


# --- permissions ----------------------------------------------------------------------------------


def test_writes_need_publish_and_reads_follow_read(api, world, scene):
    stranger = world.user()
    path = base(scene)
    for method in ("post", "patch"):
        response = getattr(api, method)(path, stranger.auth, json=[{"name": "x", "values": [1]}])
        assert response.status_code == 403, response.text
        assert getattr(api, method)(path, None, json=[]).status_code == 401
    assert api.delete(path, stranger.auth).status_code == 403
    assert api.get(path, stranger.auth).status_code == 200
    private = world.repo(scene["subject"], private=True)
    world.package(scene["subject"], private, name="p")
    ppath = f"/packages/{scene['subject']}/{private}/p/attributes"
    assert api.get(ppath, stranger.auth).status_code == 404
    assert api.get(ppath).status_code == 404
    assert api.post(ppath, stranger.auth, json=[]).status_code == 404
    assert api.get(ppath, scene["owner"].auth).status_code == 200
    search = api.post(f"/search/attributes/{scene['subject']}/{private}", stranger.auth, json=[{"a": 1}])
    assert search.status_code == 404
    missing = f"/packages/{scene['subject']}/{scene['repo']}/nope/attributes"
    assert api.get(missing).status_code == 404


def test_underscore_names_only_for_publishers(api, world, scene):
    owner = scene["owner"].auth
    name, path = fresh(api, world, scene)
    assert api.post(
        path, owner, json=[{"name": "_secret", "values": ["s"]}, {"name": "open", "values": ["o"]}]
    ).ok
    assert [a["name"] for a in api.get(path).json()] == ["open"]
    assert [a["name"] for a in api.get(path, owner).json()] == ["_secret", "open"]
    pkg_path = path.rsplit("/", 1)[0]
    assert api.get(pkg_path).json()["attribute_names"] == ["open"]
    assert api.get(pkg_path, params={"attribute_values": 1}).json()["attributes"] == {"open": ["o"]}
    assert api.get(pkg_path, owner, params={"attribute_values": 1}).json()["attributes"] == {
        "_secret": ["s"],
        "open": ["o"],
    }
    search = f"/search/attributes/{scene['subject']}/{scene['repo']}"
    assert api.post(search, json=[{"_secret": "s"}]).json() == []
    assert [p["name"] for p in api.post(search, owner, json=[{"_secret": "s"}]).json()] == [name]


# --- search -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searchable(api, mworld):
    world = mworld
    owner = world.user(plan="premium")
    repo = world.repo(owner.name)
    data = {
        "p1": [
            {"name": "n", "values": [1]},
            {"name": "d", "values": ["2011-07-14T18:43:37Z"]},
            {"name": "tags", "values": ["a", "b", "c"]},
            {"name": "s", "values": ["x"]},
        ],
        "p2": [
            {"name": "n", "values": [2.5]},
            {"name": "d", "values": [DATE]},
            {"name": "tags", "values": ["a"]},
            {"name": "s", "values": ["y"]},
            {"name": "flag", "values": [True]},
        ],
        "p3": [
            {"name": "n", "values": [3]},
            {"name": "d", "values": ["2011-07-14T19:43:38+0100"]},
            {"name": "tags", "values": ["b", "c"]},
            {"name": "s", "values": ["x"]},
        ],
        "p4": [
            {"name": "n", "values": [-7]},
            {"name": "d", "values": ["1994-01-01T00:00:00+0100"]},
            {"name": "flag", "values": [False]},
        ],
    }
    for name, attrs in data.items():
        world.package(owner.name, repo, name=name)
        response = api.post(f"/packages/{owner.name}/{repo}/{name}/attributes", owner.auth, json=attrs)
        assert response.status_code == 200, response.text
    return f"/search/attributes/{owner.name}/{repo}", owner


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        ([{"s": "x"}], ["p1", "p3"]),
        ([{"s": ["x", "y"]}], ["p1", "p2", "p3"]),
        ([{"s": "x"}, {"n": "[2,3]"}], ["p3"]),
        ([{"n": "[1,3]"}], ["p1", "p2", "p3"]),
        ([{"n": "]1,3["}], ["p2"]),
        ([{"n": "[1,3["}], ["p1", "p2"]),
        ([{"n": "]1,3]"}], ["p2", "p3"]),
        ([{"n": "[,3]"}], ["p1", "p2", "p3", "p4"]),
        ([{"n": "[,3["}], ["p1", "p2", "p4"]),
        ([{"n": "[,-7["}], []),
        ([{"n": "[-7,-7]"}], ["p4"]),
        ([{"n": "[2.5,]"}], ["p2", "p3"]),
        ([{"n": "]2.5,]"}], ["p3"]),
        ([{"n": 2.5}], ["p2"]),
        ([{"n": [1, 3]}], ["p1", "p3"]),
        # 18:43:37Z == 19:43:37+0100: an exclusive lower bound leaves it out, an inclusive one keeps it.
        ([{"d": f"]{DATE},]"}], ["p3"]),
        ([{"d": f"[{DATE},]"}], ["p1", "p2", "p3"]),
        ([{"d": f"[,{DATE}["}], ["p4"]),
        ([{"d": "[1990-01-01T00:00:00Z,2000-01-01T00:00:00Z]"}], ["p4"]),
        ([{"d": DATE}], ["p1", "p2"]),
        ([{"tags": "a"}], ["p1", "p2"]),
        ([{"tags": ["b", "c"]}], ["p1", "p3"]),
        # p2's single value is a scalar: it matches any element; arrays must contain every element.
        ([{"tags": ["a", "c"]}], ["p1", "p2"]),
        ([{"tags": ["c", "d"]}], []),
        ([{"flag": True}], ["p2"]),
        ([{"flag": False}], ["p4"]),
        ([{"s": "x"}, {"flag": True}], []),
        ([{"unknown": "x"}], []),
    ],
)
def test_package_search(api, searchable, clauses, expected):
    path, _ = searchable
    response = api.post(path, json=clauses)
    assert response.status_code == 200, response.text
    assert [p["name"] for p in response.json()] == expected


@pytest.mark.parametrize(
    "clauses",
    [
        [{"n": "[1,3"}],
        [{"n": "[,]"}],
        [{"n": "[a,3]"}],
        [{"n": "[1,2011-07-14T19:43:37+0100]"}],
        [{"n": "[3,1]"}],
        [{"n": "[1,2,3]"}],
        [{"n": None}],
        [{"n": []}],
        [{"n": {"a": 1}}],
        [],
        {"n": 1},
        [{}],
        "x",
    ],
)
def test_bad_search_is_400(api, searchable, clauses):
    path, _ = searchable
    response = api.post(path, json=clauses)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"message"}


def test_search_results_have_package_shape(api, searchable):
    path, owner = searchable
    plain = api.post(path, json=[{"s": "y"}]).json()
    assert len(plain) == 1 and plain[0]["name"] == "p2"
    assert {"name", "repo", "owner", "versions", "attribute_names", "latest_version"} <= set(plain[0])
    assert plain[0]["attribute_names"] == ["d", "flag", "n", "s", "tags"]
    full = api.post(path, params={"attribute_values": 1}, json=[{"s": "y"}]).json()
    assert full[0]["attributes"]["n"] == [2.5] and "attribute_names" not in full[0]


def test_version_search(api, world):
    owner = world.user(plan="premium")
    repo = world.repo(owner.name)
    pkg = world.package(owner.name, repo)
    for name, build in (("1.0", 10), ("2.0", 20), ("3.0", 30)):
        world.version(owner.name, repo, pkg, name)
        path = f"/packages/{owner.name}/{repo}/{pkg}/versions/{name}/attributes"
        assert api.post(path, owner.auth, json=[{"name": "build", "values": [build]}]).ok
    search = f"/search/attributes/{owner.name}/{repo}/{pkg}/versions"
    found = api.post(search, json=[{"build": "]10,30]"}]).json()
    assert [v["name"] for v in found] == ["2.0", "3.0"]
    assert {"name", "package", "ordinal", "attribute_names"} <= set(found[0])
    full = api.post(search, params={"attribute_values": "1"}, json=[{"build": 10}]).json()
    assert [(v["name"], v["attributes"]) for v in full] == [("1.0", {"build": [10]})]
    assert (
        api.post(f"/search/attributes/{owner.name}/{repo}/nope/versions", json=[{"b": 1}]).status_code == 404
    )
    # The package-level search does not see version attributes.
    assert api.post(f"/search/attributes/{owner.name}/{repo}", json=[{"build": 10}]).json() == []


def test_updates_move_the_index(api, world, scene):
    auth = scene["owner"].auth
    name, path = fresh(api, world, scene)
    search = f"/search/attributes/{scene['subject']}/{scene['repo']}"
    key = unique("k")
    assert api.post(path, auth, json=[{"name": key, "values": [5]}]).ok
    assert [p["name"] for p in api.post(search, json=[{key: 5}]).json()] == [name]
    assert api.patch(path, auth, json=[{"name": key, "values": [6]}]).ok
    assert api.post(search, json=[{key: 5}]).json() == []
    assert [p["name"] for p in api.post(search, json=[{key: "[6,6]"}]).json()] == [name]
    assert api.delete(path, auth, params={"names": key}).ok
    assert api.post(search, json=[{key: 6}]).json() == []


# --- cascades -----------------------------------------------------------------------------------


def test_deleting_version_and_package_removes_attributes(api, world, scene):
    auth = scene["owner"].auth
    name, path = fresh(api, world, scene)
    world.version(scene["subject"], scene["repo"], name, "9.9")
    vpath = f"/packages/{scene['subject']}/{scene['repo']}/{name}/versions/9.9"
    assert api.post(path, auth, json=[{"name": "k", "values": ["v"]}]).ok
    assert api.post(vpath + "/attributes", auth, json=[{"name": "vk", "values": [1]}]).ok
    package = packages.get_package(Repository.get(scene["subject"], scene["repo"]), name)
    assert len(list(Attribute.query(package.id))) == 2
    assert api.delete(vpath, auth).status_code == 200
    assert [r.name for r in Attribute.query(package.id)] == ["k"]
    assert list(AttributeIndex.query(f"v#{package.id}#vk")) == []
    assert api.delete(path.rsplit("/", 1)[0], auth).status_code == 200
    assert list(Attribute.query(package.id)) == []
    assert (
        list(AttributeIndex.query(f"p#{package.repo_id}#k", filter_condition=AttributeIndex.item == name))
        == []
    )


# --- cost -------------------------------------------------------------------------------------------


def test_search_reads_do_not_grow_with_non_matching_packages(api, world):
    owner = world.user(plan="premium")
    repo_name = world.repo(owner.name)
    repo = Repository.get(owner.name, repo_name)
    subject = Subject.get(owner.name)

    def add(name: str, value: int, tag: str) -> None:
        body = CreatePackageBody(name=name, licenses=["MIT"], vcs_url="https://x/y.git")
        package = packages.create_package(subject, repo, body)
        attr_services.set_attributes(
            attr_services.package_target(package),
            [{"name": "n", "values": [value]}, {"name": "s", "values": [tag]}],
        )

    add("hit", 1, "v")
    path = f"/search/attributes/{owner.name}/{repo_name}"
    clauses = [{"n": "[0,1]"}, {"s": "v"}]

    def measure() -> int:
        with count_operations() as ops:
            response = api.post(path, ADMIN, json=clauses, params={"attribute_values": 1})
        assert response.json()[0]["attributes"] == {"n": [1], "s": ["v"]}
        assert [p["name"] for p in response.json()] == ["hit"]
        assert ops["Scan"] == 0
        return sum(ops.values())

    before = measure()
    for i in range(30):
        add(f"miss{i}", 100 + i, f"w{i}")
    after = measure()
    assert after == before


def test_two_concurrent_updates_keep_both_names_in_attribute_names(api, world):
    """Two PATCHes of different attributes at once (two containers; found by ``make load``): both
    read the rows before either writes. Each row lands, and ``attribute_names`` on the package must
    name both, not only the last writer's merge."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.packages.models import Package

    owner = world.user(plan="premium")
    repo_name = world.repo(owner.name)
    repo = Repository.get(owner.name, repo_name)
    body = CreatePackageBody(name=unique("p"), licenses=["MIT"], vcs_url="https://x/y.git")
    package = packages.create_package(Subject.get(owner.name), repo, body)
    barrier = threading.Barrier(2)
    first_reads: set[int] = set()
    rows = attr_services._rows

    def stale_rows(*args, **kwargs):
        found = rows(*args, **kwargs)
        if threading.get_ident() not in first_reads:  # each update's first read: both before any write
            first_reads.add(threading.get_ident())
            barrier.wait(timeout=10)
        return found

    def update(name: str) -> None:
        target = attr_services.package_target(Package.get(repo.id, package.name))
        attr_services.update_attributes(target, [{"name": name, "values": [1]}])

    original, attr_services._rows = attr_services._rows, stale_rows
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(update, ["a", "b"]))
    finally:
        attr_services._rows = original
    path = f"/packages/{owner.name}/{repo_name}/{package.name}"
    assert [a["name"] for a in api.get(path + "/attributes", owner.auth).json()] == ["a", "b"]
    assert api.get(path, owner.auth).json()["attribute_names"] == ["a", "b"]
