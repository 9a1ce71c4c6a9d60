"""Versions end to end: create (ordinals), get, _latest, update, delete, permissions, concurrency."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.packages import versions
from chalicelib.packages.models import Package, Version
from chalicelib.packages.versions import CreateVersionBody
from chalicelib.repositories.models import Repository
from tests.conftest import assert_message, unique

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

VERSION_FIELDS = {
    "name",
    "desc",
    "package",
    "repo",
    "owner",
    "labels",
    "published",
    "attribute_names",
    "created",
    "updated",
    "released",
    "ordinal",
}
PUBLISHER_FIELDS = {"github_release_notes_file", "github_use_tag_release_notes", "vcs_tag"}


@pytest.fixture
def pkg(world, owner, repo):
    return world.package(owner.name, repo)


@pytest.fixture
def base(owner, repo, pkg):
    """The versions collection of a fresh package of a fresh public repository."""
    return f"/packages/{owner.name}/{repo}/{pkg}/versions"


# --- create -----------------------------------------------------------------------------------


def test_create_version_returns_get_version_shape(api, owner, repo, pkg, base):
    body = {
        "name": "1.1.5",
        "desc": "This version...",
        "labels": ["OSS", "stable"],
        "released": "2026-01-02T03:04:05.000Z",
        "github_release_notes_file": "RELEASE.txt",
        "github_use_tag_release_notes": True,
        "vcs_tag": "v1.1.5",
    }
    r = api.post(base, owner.auth, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == VERSION_FIELDS | PUBLISHER_FIELDS
    assert created["name"] == "1.1.5"
    assert created["desc"] == "This version..."
    assert created["package"] == pkg
    assert created["repo"] == repo
    assert created["owner"] == owner.name
    assert created["labels"] == ["OSS", "stable"]
    assert created["published"] is False
    assert created["attribute_names"] == []
    assert created["released"] == "2026-01-02T03:04:05.000Z"
    assert created["ordinal"] == 1
    assert created["github_release_notes_file"] == "RELEASE.txt"
    assert created["github_use_tag_release_notes"] is True
    assert created["vcs_tag"] == "v1.1.5"
    assert ISO.match(created["created"]) and ISO.match(created["updated"]), created

    r = api.get(f"{base}/1.1.5", owner.auth)
    assert r.status_code == 200, r.text
    assert r.json() == created


def test_create_version_minimal_body(api, owner, base):
    r = api.post(base, owner.auth, json={"name": "0.1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["desc"] == ""
    assert body["labels"] == []
    assert body["published"] is False
    assert isinstance(body["released"], str)
    assert body["github_release_notes_file"] == ""
    assert body["github_use_tag_release_notes"] is False
    assert body["vcs_tag"] == ""


def test_publisher_only_fields_hidden_from_readers(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0", vcs_tag="v1.0")
    for auth in (None, world.user().auth):
        r = api.get(f"{base}/1.0", auth)
        assert r.status_code == 200, r.text
        assert set(r.json()) == VERSION_FIELDS
        r = api.get(f"{base}/_latest", auth)
        assert r.status_code == 200, r.text
        assert set(r.json()) == VERSION_FIELDS
    mine = api.get(f"{base}/1.0", owner.auth).json()
    assert set(mine) == VERSION_FIELDS | PUBLISHER_FIELDS
    assert mine["vcs_tag"] == "v1.0"


def test_get_version_attribute_values(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0")
    r = api.get(f"{base}/1.0", params={"attribute_values": 1})
    assert r.status_code == 200, r.text
    assert "attributes" in r.json()
    assert "attribute_names" not in r.json()
    assert "attributes" not in api.get(f"{base}/1.0").json()


def test_ordinals_follow_creation_order(api, owner, base):
    ordinals = []
    for name in ("2.0", "1.0", "3.0-beta"):
        r = api.post(base, owner.auth, json={"name": name})
        assert r.status_code == 201, r.text
        ordinals.append(r.json()["ordinal"])
    assert ordinals == [1, 2, 3]
    assert api.get(f"{base}/1.0").json()["ordinal"] == 2


def test_ordinals_are_not_reused_after_delete(api, owner, base):
    for name in ("1", "2", "3"):
        assert api.post(base, owner.auth, json={"name": name}).status_code == 201
    assert api.delete(f"{base}/3", owner.auth).status_code == 200
    r = api.post(base, owner.auth, json={"name": "4"})
    assert r.status_code == 201, r.text
    assert r.json()["ordinal"] == 4
    # A deleted name may be created again, as a new version.
    r = api.post(base, owner.auth, json={"name": "3"})
    assert r.status_code == 201, r.text
    assert r.json()["ordinal"] == 5


def test_create_duplicate_version_is_409(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0", desc="first")
    r = api.post(base, owner.auth, json={"name": "1.0", "desc": "second"})
    assert r.status_code == 409, r.text
    assert_message(r, "1.0")
    assert api.get(f"{base}/1.0").json()["desc"] == "first"
    # The failed create did not use up an ordinal.
    assert api.post(base, owner.auth, json={"name": "2.0"}).json()["ordinal"] == 2


def test_latest_is_a_reserved_version_name(api, owner, base):
    r = api.post(base, owner.auth, json={"name": "_latest"})
    assert r.status_code == 400, r.text
    assert_message(r, "_latest")


@pytest.mark.parametrize("bad", ["", "has space", "a/b", ".1", "x" * 200])
def test_invalid_version_name_is_400(api, owner, base, bad):
    r = api.post(base, owner.auth, json={"name": bad})
    assert r.status_code == 400, r.text
    assert "message" in r.json()


def test_missing_version_name_is_400(api, owner, base):
    r = api.post(base, owner.auth, json={"desc": "no name"})
    assert r.status_code == 400, r.text
    assert_message(r, "name")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 1.0),
        ("desc", 5),
        ("labels", "x"),
        ("github_use_tag_release_notes", "True!"),
        ("released", 12345),
    ],
)
def test_version_wrong_types_are_400_naming_the_field(api, owner, base, field, value):
    body = {"name": "1.0", field: value}
    r = api.post(base, owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert_message(r, field)


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00:00Z", "14/07/2011", "2011-07-14T25:00:00Z"])
def test_bad_released_is_400(api, owner, base, bad):
    r = api.post(base, owner.auth, json={"name": "1.0", "released": bad})
    assert r.status_code == 400, r.text
    assert_message(r, "released")
    assert api.get(f"{base}/1.0").status_code == 404


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-01-02T03:04:05.000Z", "2026-01-02T03:04:05.000Z"),
        ("2011-07-14T19:43:37+0100", "2011-07-14T18:43:37.000Z"),
        ("2011-07-14T19:43:37.250+01:00", "2011-07-14T18:43:37.250Z"),
    ],
)
def test_released_formats(api, owner, base, sent, stored):
    r = api.post(base, owner.auth, json={"name": "1.0", "released": sent})
    assert r.status_code == 201, r.text
    assert r.json()["released"] == stored
    assert api.get(f"{base}/1.0").json()["released"] == stored


def test_create_version_of_unknown_package_is_404(api, owner, repo):
    r = api.post(f"/packages/{owner.name}/{repo}/{unique('p')}/versions", owner.auth, json={"name": "1.0"})
    assert r.status_code == 404, r.text
    assert "message" in r.json()
    r = api.post(f"/packages/{owner.name}/{unique('r')}/x/versions", owner.auth, json={"name": "1.0"})
    assert r.status_code == 404, r.text


# --- get, _latest, package view ----------------------------------------------------------------


def test_get_unknown_version_is_404(api, owner, repo, pkg, base):
    r = api.get(f"{base}/9.9")
    assert r.status_code == 404, r.text
    assert "message" in r.json()
    assert api.get(f"/packages/{owner.name}/{repo}/{unique('p')}/versions/1.0").status_code == 404


def test_latest_of_package_without_versions_is_404(api, base):
    r = api.get(f"{base}/_latest")
    assert r.status_code == 404, r.text
    assert "message" in r.json()


def test_latest_is_newest_created_and_package_lists_newest_first(api, world, owner, repo, pkg, base):
    for name in ("1.0", "3.0", "2.0"):
        world.version(owner.name, repo, pkg, name)
    r = api.get(f"{base}/_latest")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "2.0"
    assert r.json()["ordinal"] == 3
    package = api.get(f"/packages/{owner.name}/{repo}/{pkg}").json()
    assert package["versions"] == ["2.0", "3.0", "1.0"]
    assert package["latest_version"] == "2.0"


def test_latest_with_attribute_values(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0")
    r = api.get(f"{base}/_latest", params={"attribute_values": "1"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "1.0"
    assert "attributes" in r.json() and "attribute_names" not in r.json()


# --- update -----------------------------------------------------------------------------------


def test_update_version(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0", desc="old", labels=["a"], vcs_tag="t0")
    before = api.get(f"{base}/1.0", owner.auth).json()
    changes = {
        "desc": "new",
        "vcs_tag": "v1.0",
        "released": "2011-07-14T19:43:37+0100",
        "github_release_notes_file": "NOTES.md",
        "github_use_tag_release_notes": True,
    }
    r = api.patch(f"{base}/1.0", owner.auth, json=changes)
    assert r.status_code == 200 and r.json() == {"message": "success"}, r.text
    after = api.get(f"{base}/1.0", owner.auth).json()
    assert after["desc"] == "new"
    assert after["vcs_tag"] == "v1.0"
    assert after["released"] == "2011-07-14T18:43:37.000Z"
    assert after["github_release_notes_file"] == "NOTES.md"
    assert after["github_use_tag_release_notes"] is True
    for field in ("labels", "created", "ordinal", "name", "package", "published"):
        assert after[field] == before[field], field
    assert after["updated"] >= before["updated"]

    # Sending one field leaves the others alone.
    r = api.patch(f"{base}/1.0", owner.auth, json={"desc": "newer"})
    assert r.status_code == 200, r.text
    again = api.get(f"{base}/1.0", owner.auth).json()
    assert again["desc"] == "newer"
    assert again["vcs_tag"] == "v1.0"
    assert again["released"] == "2011-07-14T18:43:37.000Z"


def test_update_version_bad_input(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0", desc="kept")
    r = api.patch(f"{base}/1.0", owner.auth, json={"released": "not a date", "desc": "lost"})
    assert r.status_code == 400, r.text
    assert_message(r, "released")
    r = api.patch(f"{base}/1.0", owner.auth, json={"github_use_tag_release_notes": "yes"})
    assert r.status_code == 400, r.text
    assert_message(r, "github_use_tag_release_notes")
    assert api.get(f"{base}/1.0").json()["desc"] == "kept"


def test_update_unknown_version_is_404(api, owner, base):
    r = api.patch(f"{base}/9.9", owner.auth, json={"desc": "x"})
    assert r.status_code == 404, r.text
    assert api.get(f"{base}/9.9").status_code == 404


# --- delete -----------------------------------------------------------------------------------


def test_delete_version(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0")
    world.version(owner.name, repo, pkg, "2.0")
    r = api.delete(f"{base}/1.0", owner.auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "success"}
    assert api.get(f"{base}/1.0").status_code == 404
    assert api.delete(f"{base}/1.0", owner.auth).status_code == 404
    package = api.get(f"/packages/{owner.name}/{repo}/{pkg}").json()
    assert package["versions"] == ["2.0"]
    assert package["latest_version"] == "2.0"
    repo_id = Repository.get(owner.name, repo).id
    assert [v.name for v in Version.query(Package.get(repo_id, pkg).id)] == ["2.0"]


def test_deleting_newest_moves_latest_back(api, world, owner, repo, pkg, base):
    for name in ("1.0", "2.0", "3.0"):
        world.version(owner.name, repo, pkg, name)
    package_path = f"/packages/{owner.name}/{repo}/{pkg}"

    assert api.delete(f"{base}/3.0", owner.auth).status_code == 200
    assert api.get(package_path).json()["latest_version"] == "2.0"
    assert api.get(f"{base}/_latest").json()["name"] == "2.0"

    assert api.delete(f"{base}/2.0", owner.auth).status_code == 200
    assert api.get(package_path).json()["latest_version"] == "1.0"
    assert api.get(package_path).json()["versions"] == ["1.0"]

    assert api.delete(f"{base}/1.0", owner.auth).status_code == 200
    package = api.get(package_path).json()
    assert package["latest_version"] is None
    assert package["versions"] == []
    assert api.get(f"{base}/_latest").status_code == 404

    # A new version becomes the latest again.
    world.version(owner.name, repo, pkg, "4.0")
    assert api.get(package_path).json()["latest_version"] == "4.0"


def test_deleting_an_older_version_keeps_latest(api, world, owner, repo, pkg, base):
    for name in ("1.0", "2.0"):
        world.version(owner.name, repo, pkg, name)
    assert api.delete(f"{base}/1.0", owner.auth).status_code == 200
    assert api.get(f"{base}/_latest").json()["name"] == "2.0"


# --- permissions ------------------------------------------------------------------------------


@pytest.fixture
def org_setup(world):
    org_owner, org, member, public, private = world.publishing_org()
    return {
        "org": org,
        "owner": org_owner,
        "member": member,
        "stranger": world.user(),
        "public": f"/packages/{org}/{public}/{world.package(org, public)}/versions",
        "private": f"/packages/{org}/{private}/{world.package(org, private)}/versions",
    }


@pytest.mark.parametrize("where", ["public", "private"])
def test_version_writes_by_owner_and_member(api, org_setup, where):
    base = org_setup[where]
    for who in ("owner", "member"):
        auth = org_setup[who].auth
        name = f"{who}-1"
        assert api.post(base, auth, json={"name": name}).status_code == 201
        r = api.patch(f"{base}/{name}", auth, json={"desc": who})
        assert r.status_code == 200 and r.json() == {"message": "success"}, r.text
        assert api.get(f"{base}/{name}", auth).json()["desc"] == who
        assert api.delete(f"{base}/{name}", auth).status_code == 200
        assert api.get(f"{base}/{name}", auth).status_code == 404


@pytest.mark.parametrize(("where", "expected"), [("public", 403), ("private", 404)])
def test_version_writes_by_stranger_and_anonymous(api, world, org_setup, where, expected):
    base = org_setup[where]
    owner = org_setup["owner"].auth
    assert api.post(base, owner, json={"name": "1.0", "desc": "orig"}).status_code == 201
    for auth, status in ((org_setup["stranger"].auth, expected), (None, 401)):
        r = api.post(base, auth, json={"name": "2.0"})
        assert r.status_code == status, r.text
        assert "message" in r.json()
        assert api.patch(f"{base}/1.0", auth, json={"desc": "hacked"}).status_code == status
        assert api.delete(f"{base}/1.0", auth).status_code == status
    after = api.get(f"{base}/1.0", owner).json()
    assert after["desc"] == "orig"
    assert api.get(f"{base}/2.0", owner).status_code == 404


def test_reading_versions_of_private_repo(api, org_setup):
    base = org_setup["private"]
    assert api.post(base, org_setup["owner"].auth, json={"name": "1.0"}).status_code == 201
    for auth in (None, org_setup["stranger"].auth):
        assert api.get(f"{base}/1.0", auth).status_code == 404
        assert api.get(f"{base}/_latest", auth).status_code == 404
    r = api.get(f"{base}/1.0", org_setup["member"].auth)
    assert r.status_code == 200, r.text
    assert set(r.json()) == VERSION_FIELDS | PUBLISHER_FIELDS
    assert api.get(f"{base}/_latest", org_setup["member"].auth).json()["name"] == "1.0"


def test_bad_credentials_are_401_even_for_reads(api, world, owner, repo, pkg, base):
    world.version(owner.name, repo, pkg, "1.0")
    assert api.get(f"{base}/1.0", (owner.name, "wrong-key")).status_code == 401


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_creates_get_distinct_ordinals(api, owner, repo, pkg, base):
    names = [f"c-{i}" for i in range(8)]

    def create(name: str):
        return api.post(base, owner.auth, json={"name": name})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(create, names))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert sorted(r.json()["ordinal"] for r in responses) == list(range(1, 9))

    package = api.get(f"/packages/{owner.name}/{repo}/{pkg}").json()
    by_ordinal = sorted(responses, key=lambda r: r.json()["ordinal"])
    assert package["versions"] == [r.json()["name"] for r in reversed(by_ordinal)]
    assert package["latest_version"] == by_ordinal[-1].json()["name"]
    assert api.post(base, owner.auth, json={"name": "after"}).json()["ordinal"] == 9


def test_concurrent_creates_of_one_name(api, owner, base):
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: api.post(base, owner.auth, json={"name": "same"}).status_code, range(8))
        )
    assert sorted(statuses) == [201] + [409] * 7, statuses
    assert api.get(f"{base}/same").json()["ordinal"] == 1
    assert api.post(base, owner.auth, json={"name": "next"}).json()["ordinal"] == 2


def test_racing_creators_get_distinct_ordinals(world, owner, repo, pkg):
    """The gateway serialises HTTP requests like one Lambda container, so race the service layer from
    8 threads, each with its own (equally stale) view of the package, as 8 containers would."""
    repo_model = Repository.get(owner.name, repo)
    for round_ in range(3):
        stale = [Package.get(repo_model.id, pkg) for _ in range(8)]
        barrier = threading.Barrier(8)

        def create(i: int, round_: int = round_, stale: list = stale, barrier=barrier) -> int:
            barrier.wait()
            body = CreateVersionBody(name=f"r{round_}-{i}")
            return int(versions.create_version(repo_model, stale[i], body).ordinal)

        with ThreadPoolExecutor(max_workers=8) as pool:
            ordinals = list(pool.map(create, range(8)))
        assert sorted(ordinals) == list(range(round_ * 8 + 1, round_ * 8 + 9)), ordinals

    package = Package.get(repo_model.id, pkg)
    stored = sorted(int(v.ordinal) for v in Version.query(package.id))
    assert stored == list(range(1, 25))
    assert int(package.version_seq) == 24
    assert Version.get(package.id, package.newest_version).ordinal == 24


def test_create_version_retries_a_transaction_conflict(api, owner, repo, pkg, base, conflicts):
    conflicts(3)
    r = api.post(base, owner.auth, json={"name": "1.0"})
    assert r.status_code == 201, r.text
    assert r.json()["ordinal"] == 1
    assert api.get(f"/packages/{owner.name}/{repo}/{pkg}").json()["versions"] == ["1.0"]
