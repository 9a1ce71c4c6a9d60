"""File attributes (issue #4 item 3): get/set/update/delete on ``/files/:subject/:repo/:path/attributes``,
upper-case types, visibility, publish checks, search, cascades, and a search that never reads every file."""

from __future__ import annotations

import pytest

from chalicelib.attributes.models import Attribute, AttributeIndex
from chalicelib.repositories.models import Repository
from infra.local.opcount import count_operations
from tests.conftest import ADMIN, unique

DATE = "2011-07-14T19:43:37+0100"


@pytest.fixture(scope="module")
def mworld(api):
    from tests.conftest import World

    return World(api)


def upload(api, auth, subject, repo, pkg, path, version="1.0", publish=True, data=b"abc"):
    query = "?publish=1" if publish else ""
    response = api.put(f"/content/{subject}/{repo}/{pkg}/{version}/{path}{query}", auth, data=data)
    assert response.status_code == 201, response.text
    return path


@pytest.fixture(scope="module")
def scene(api, mworld):
    owner = mworld.user(plan="premium")
    repo = mworld.repo(owner.name)
    pkg = mworld.package(owner.name, repo)
    mworld.version(owner.name, repo, pkg, "1.0")
    return {"owner": owner, "subject": owner.name, "repo": repo, "pkg": pkg}


def fresh_file(api, scene, publish=True) -> tuple[str, str]:
    """A new file in the scene's package and its attributes path."""
    path = upload(
        api,
        scene["owner"].auth,
        scene["subject"],
        scene["repo"],
        scene["pkg"],
        f"dir/{unique('f')}.bin",
        publish=publish,
    )
    return path, f"/files/{scene['subject']}/{scene['repo']}/{path}/attributes"


def search_path(scene) -> str:
    return f"/files/{scene['subject']}/{scene['repo']}/search/attributes"


def by_name(body: list[dict]) -> dict[str, dict]:
    return {a["name"]: a for a in body}


def test_set_infers_types_in_upper_case_and_get_returns_them(api, scene):
    _, attrs = fresh_file(api, scene)
    body = [
        {"name": "att1", "type": "string", "values": ["val1"]},
        {"name": "att2", "values": [1, 2.2, 4]},
        {"name": "att3", "type": "date", "values": [DATE, DATE]},
        {"name": "att4", "values": [True]},
    ]
    response = api.post(attrs, scene["owner"].auth, json=body)
    assert response.status_code == 200, response.text
    got = by_name(response.json())
    assert got["att1"] == {"name": "att1", "type": "STRING", "values": ["val1"]}
    assert got["att2"] == {"name": "att2", "type": "NUMBER", "values": [1, 2.2, 4]}
    assert got["att3"]["type"] == "DATE"
    assert got["att4"]["type"] == "BOOLEAN"
    anonymous = api.get(attrs)
    assert anonymous.status_code == 200
    assert by_name(anonymous.json()) == got
    only = api.get(attrs, params={"names": "att1,att4"}).json()
    assert sorted(a["name"] for a in only) == ["att1", "att4"]


def test_set_replaces_update_merges_and_null_removes(api, scene):
    path, attrs = fresh_file(api, scene)
    deleted = {"message": f"Attributes were deleted successfully from the following file path: {path}"}
    auth = scene["owner"].auth
    api.post(attrs, auth, json=[{"name": "a", "values": ["x"]}, {"name": "b", "values": [1]}])
    response = api.post(attrs, auth, json=[{"name": "c", "values": ["y"]}])
    assert [a["name"] for a in response.json()] == ["c"]
    response = api.patch(attrs, auth, json=[{"name": "d", "values": [2]}, {"name": "c", "values": None}])
    assert response.status_code == 200, response.text
    assert response.json() == [{"name": "d", "type": "NUMBER", "values": [2]}]
    api.patch(attrs, auth, json=[{"name": "e", "values": ["z"]}])
    response = api.delete(attrs, auth, params={"names": "d"})
    assert response.status_code == 200 and response.json() == deleted
    assert [a["name"] for a in api.get(attrs).json()] == ["e"]
    assert api.delete(attrs, auth).json() == deleted
    assert api.get(attrs).json() == []


def test_invalid_bodies_are_400(api, scene):
    _, attrs = fresh_file(api, scene)
    auth = scene["owner"].auth
    assert api.post(attrs, auth, json={"name": "a"}).status_code == 400
    assert api.post(attrs, auth, json=[{"name": "a", "values": [1, "x"]}]).status_code == 400
    assert api.post(attrs, auth, json=[{"name": "a", "values": None}]).status_code == 400
    assert api.post(attrs, auth, json=[{"name": "a", "type": "colour", "values": ["x"]}]).status_code == 400
    assert api.post(search_path(scene), auth, json=[]).status_code == 400


def test_hidden_names_only_for_publishers(api, scene, mworld):
    _, attrs = fresh_file(api, scene)
    api.post(
        attrs,
        scene["owner"].auth,
        json=[{"name": "_secret", "values": ["s"]}, {"name": "pub", "values": ["p"]}],
    )
    assert [a["name"] for a in api.get(attrs).json()] == ["pub"]
    other = mworld.user()
    assert [a["name"] for a in api.get(attrs, other.auth).json()] == ["pub"]
    assert [a["name"] for a in api.get(attrs, scene["owner"].auth).json()] == ["_secret", "pub"]


def test_writes_need_publish(api, scene, mworld):
    _, attrs = fresh_file(api, scene)
    api.post(attrs, scene["owner"].auth, json=[{"name": "keep", "values": ["k"]}])
    other = mworld.user()
    for method in ("post", "patch", "delete"):
        kwargs = {} if method == "delete" else {"json": [{"name": "x", "values": ["y"]}]}
        anonymous = getattr(api, method)(attrs, **kwargs)
        assert anonymous.status_code == 401, (method, anonymous.text)
        assert set(anonymous.json()) == {"message"}
        denied = getattr(api, method)(attrs, other.auth, **kwargs)
        assert denied.status_code == 403, (method, denied.text)
        assert set(denied.json()) == {"message"}
    assert api.get(attrs).json() == [{"name": "keep", "type": "STRING", "values": ["k"]}]


def test_missing_unpublished_and_private_files_are_404(api, scene, mworld):
    subject, repo = scene["subject"], scene["repo"]
    missing = f"/files/{subject}/{repo}/nope/never.bin/attributes"
    assert api.get(missing, scene["owner"].auth).status_code == 404
    assert api.post(missing, scene["owner"].auth, json=[{"name": "a", "values": [1]}]).status_code == 404
    # Unpublished: publishers only.
    _, attrs = fresh_file(api, scene, publish=False)
    assert api.post(attrs, scene["owner"].auth, json=[{"name": "a", "values": [1]}]).status_code == 200
    assert api.get(attrs).status_code == 404
    assert api.get(attrs, scene["owner"].auth).status_code == 200
    # A path not ending in /attributes is no resource.
    path, _ = fresh_file(api, scene)
    assert api.get(f"/files/{subject}/{repo}/{path}").status_code == 404
    # Private repositories do not exist for outsiders.
    private = mworld.repo(subject, private=True)
    upload(api, scene["owner"].auth, subject, private, mworld.package(subject, private), "p.bin")
    attrs = f"/files/{subject}/{private}/p.bin/attributes"
    assert api.get(attrs, scene["owner"].auth).status_code == 200
    assert api.get(attrs).status_code == 404
    assert api.post(attrs, json=[{"name": "a", "values": [1]}]).status_code == 404
    assert api.get(attrs, mworld.user().auth).status_code == 404


def test_search_returns_file_objects_with_ranges(api, scene, mworld):
    owner = scene["owner"]
    repo = mworld.repo(owner.name)
    pkg = mworld.package(owner.name, repo)
    base = f"/files/{owner.name}/{repo}"
    for path, size, released in (
        ("a.bin", 1, DATE),
        ("b.bin", 5, "2012-01-01T00:00:00Z"),
        ("c.bin", 9, None),
    ):
        upload(api, owner.auth, owner.name, repo, pkg, path)
        body = [{"name": "size", "values": [size]}, {"name": "kind", "values": ["tool"]}]
        if released:
            body.append({"name": "released", "type": "date", "values": [released]})
        assert api.post(f"{base}/{path}/attributes", owner.auth, json=body).status_code == 200
    upload(api, owner.auth, owner.name, repo, pkg, "hidden.bin", publish=False)
    api.post(f"{base}/hidden.bin/attributes", owner.auth, json=[{"name": "kind", "values": ["tool"]}])

    def paths(clauses, auth=None):
        response = api.post(f"{base}/search/attributes", auth, json=clauses)
        assert response.status_code == 200, response.text
        return [f["path"] for f in response.json()]

    found = api.post(f"{base}/search/attributes", json=[{"size": "[1,3]"}]).json()
    assert len(found) == 1
    assert set(found[0]) == {
        "name",
        "path",
        "repo",
        "package",
        "version",
        "owner",
        "created",
        "size",
        "sha1",
        "sha256",
    }
    assert (found[0]["path"], found[0]["repo"], found[0]["package"], found[0]["version"]) == (
        "a.bin",
        repo,
        pkg,
        "1.0",
    )
    assert paths([{"size": "[,5["}]) == ["a.bin"]
    assert paths([{"size": "[5,]"}]) == ["b.bin", "c.bin"]
    assert paths([{"released": "[2011-12-01T00:00:00Z,]"}]) == ["b.bin"]
    assert paths([{"kind": "tool"}, {"size": [1, 9]}]) == ["a.bin", "c.bin"]
    assert paths([{"kind": "tool"}]) == ["a.bin", "b.bin", "c.bin"]
    assert paths([{"kind": "tool"}], owner.auth) == ["a.bin", "b.bin", "c.bin", "hidden.bin"]
    assert paths([{"kind": "nothing"}]) == []


def test_search_reads_only_the_index_not_every_file(api, scene, mworld):
    owner = scene["owner"]
    repo = mworld.repo(owner.name)
    pkg = mworld.package(owner.name, repo)
    base = f"/files/{owner.name}/{repo}"
    for i in range(6):
        upload(api, owner.auth, owner.name, repo, pkg, f"n{i}.bin")
        api.post(f"{base}/n{i}.bin/attributes", owner.auth, json=[{"name": "k", "values": [f"v{i}"]}])
    with count_operations() as ops:
        response = api.post(f"{base}/search/attributes", json=[{"k": "v3"}])
    assert [f["path"] for f in response.json()] == ["n3.bin"]
    assert "Scan" not in ops
    assert ops.get("Query", 0) <= 3 and ops.get("BatchGetItem", 0) <= 1, ops


def _rows(repo_id: str, path: str) -> tuple[int, int]:
    attrs = list(Attribute.query(f"file#{repo_id}#{path}"))
    index = [r for r in AttributeIndex.query(f"f#{repo_id}#cascade") if r.item == path]
    return len(attrs), len(index)


@pytest.mark.parametrize("what", ["file", "version", "package", "repo"])
def test_deletions_remove_file_attributes(api, mworld, what):
    owner = mworld.user(plan="premium")
    repo = mworld.repo(owner.name)
    pkg = mworld.package(owner.name, repo)
    upload(api, owner.auth, owner.name, repo, pkg, "x/y.bin")
    attrs = f"/files/{owner.name}/{repo}/x/y.bin/attributes"
    assert api.post(attrs, owner.auth, json=[{"name": "cascade", "values": ["v"]}]).status_code == 200
    repo_id = Repository.get(owner.name, repo).id
    assert _rows(repo_id, "x/y.bin") == (1, 1)
    url = {
        "file": f"/content/{owner.name}/{repo}/x/y.bin",
        "version": f"/packages/{owner.name}/{repo}/{pkg}/versions/1.0",
        "package": f"/packages/{owner.name}/{repo}/{pkg}",
        "repo": f"/repos/{owner.name}/{repo}",
    }[what]
    response = api.delete(url, ADMIN)
    assert response.status_code == 200, response.text
    assert _rows(repo_id, "x/y.bin") == (0, 0)
