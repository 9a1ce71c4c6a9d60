"""Packages end to end: create, get, update, delete, list, search, Maven search and OSS licenses."""

from __future__ import annotations

import re

import pytest

from chalicelib.packages.models import Package, Version
from chalicelib.packages.services import register_system_id
from chalicelib.repositories.models import Repository
from tests.conftest import assert_message, unique

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

PACKAGE_FIELDS = {
    "name",
    "repo",
    "owner",
    "desc",
    "labels",
    "attribute_names",
    "licenses",
    "custom_licenses",
    "followers_count",
    "created",
    "website_url",
    "rating",
    "issue_tracker_url",
    "linked_to_repos",
    "permissions",
    "versions",
    "latest_version",
    "rating_count",
    "system_ids",
    "updated",
    "vcs_url",
}
PUBLISHER_FIELDS = {"github_repo", "github_release_notes_file", "public_download_numbers", "public_stats"}
MAVEN_FIELDS = {"name", "repo", "owner", "desc", "system_ids", "versions", "latest_version"}

VCS = "https://example.com/x.git"


def full_body(name: str) -> dict:
    return {
        "name": name,
        "desc": "A Package For Tests",
        "labels": ["persistence", "database"],
        "licenses": ["Apache-2.0", "GPL-3.0"],
        "vcs_url": "https://github.com/acme/tool.git",
        "website_url": "http://acme.example.com",
        "issue_tracker_url": "https://github.com/acme/tool/issues",
        "github_repo": "acme/tool",
        "github_release_notes_file": "RELEASE.txt",
        "public_download_numbers": True,
    }


# --- create -----------------------------------------------------------------------------------


def test_create_package_returns_get_package_shape(api, owner, repo):
    name = unique("p")
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=full_body(name))
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == PACKAGE_FIELDS | PUBLISHER_FIELDS
    assert body["name"] == name
    assert body["repo"] == repo
    assert body["owner"] == owner.name
    assert body["desc"] == "A Package For Tests"
    assert body["labels"] == ["persistence", "database"]
    assert body["licenses"] == ["Apache-2.0", "GPL-3.0"]
    assert body["custom_licenses"] == []
    assert body["vcs_url"] == "https://github.com/acme/tool.git"
    assert body["website_url"] == "http://acme.example.com"
    assert body["issue_tracker_url"] == "https://github.com/acme/tool/issues"
    assert body["github_repo"] == "acme/tool"
    assert body["github_release_notes_file"] == "RELEASE.txt"
    assert body["public_download_numbers"] is True
    assert body["public_stats"] is True
    assert body["followers_count"] == 0
    assert body["rating"] == 0
    assert body["rating_count"] == 0
    assert body["linked_to_repos"] == []
    assert body["permissions"] == []
    assert body["versions"] == []
    assert body["latest_version"] is None
    assert body["system_ids"] == []
    assert body["attribute_names"] == []
    assert ISO.match(body["created"]) and ISO.match(body["updated"]), body

    # It is really stored: a GET returns the same document.
    again = api.get(f"/packages/{owner.name}/{repo}/{name}", owner.auth)
    assert again.status_code == 200, again.text
    assert again.json() == body


def test_publisher_only_fields_hidden_from_anonymous_and_strangers(api, world, owner, repo):
    pkg = world.package(owner.name, repo, github_repo="acme/tool")
    path = f"/packages/{owner.name}/{repo}/{pkg}"

    anonymous = api.get(path)
    assert anonymous.status_code == 200, anonymous.text
    assert set(anonymous.json()) == PACKAGE_FIELDS

    stranger = api.get(path, world.user().auth)
    assert stranger.status_code == 200, stranger.text
    assert set(stranger.json()) == PACKAGE_FIELDS

    mine = api.get(path, owner.auth)
    assert mine.status_code == 200, mine.text
    assert set(mine.json()) == PACKAGE_FIELDS | PUBLISHER_FIELDS
    assert mine.json()["github_repo"] == "acme/tool"


def test_create_package_unknown_license_is_400_naming_it(api, owner, repo):
    body = {"name": unique("p"), "licenses": ["MIT", "Not-A-License"], "vcs_url": VCS}
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert_message(r, "Not-A-License")
    assert api.get(f"/packages/{owner.name}/{repo}/{body['name']}").status_code == 404


def test_license_names_are_case_sensitive(api, owner, repo):
    body = {"name": unique("p"), "licenses": ["mit"], "vcs_url": VCS}
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert_message(r, "mit")


@pytest.mark.parametrize("missing", ["licenses", "vcs_url"])
def test_licenses_and_vcs_url_mandatory_for_public_oss_repo(api, owner, repo, missing):
    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": VCS}
    del body[missing]
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert_message(r, missing)
    # An empty list of licenses is as good as none.
    if missing == "licenses":
        r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json={**body, "licenses": []})
        assert r.status_code == 400, r.text
    assert api.get(f"/packages/{owner.name}/{repo}/{body['name']}").status_code == 404


def test_licenses_and_vcs_url_optional_in_private_repo(api, world, owner):
    repo = world.repo(owner.name, private=True)
    name = unique("p")
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json={"name": name})
    assert r.status_code == 201, r.text
    assert r.json()["licenses"] == []
    assert r.json()["vcs_url"] == ""


def test_licenses_and_vcs_url_optional_for_premium_subject(api, world):
    premium = world.user(plan="premium")
    repo = world.repo(premium.name)
    r = api.post(f"/packages/{premium.name}/{repo}", premium.auth, json={"name": unique("p")})
    assert r.status_code == 201, r.text
    assert r.json()["licenses"] == []


def test_custom_licenses_need_premium(api, world, owner, repo):
    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": VCS, "custom_licenses": ["my-license"]}
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert r.json() == {"message": f"This action is not allowed for none-premium subject {owner.name}"}
    assert api.get(f"/packages/{owner.name}/{repo}/{body['name']}").status_code == 404

    premium = world.user(plan="premium")
    premium_repo = world.repo(premium.name)
    # custom_licenses must name the owner's proprietary licenses (tests/test_licenses.py).
    lic = api.post(f"/users/{premium.name}/licenses", premium.auth, json={"name": "my-license"})
    assert lic.status_code == 201, lic.text
    r = api.post(f"/packages/{premium.name}/{premium_repo}", premium.auth, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["custom_licenses"] == ["my-license"]


def test_public_stats_needs_premium(api, world, owner, repo):
    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": VCS, "public_stats": False}
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert r.json() == {"message": f"This action is not allowed for none-premium subject {owner.name}"}

    premium = world.user(plan="premium")
    premium_repo = world.repo(premium.name)
    r = api.post(f"/packages/{premium.name}/{premium_repo}", premium.auth, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["public_stats"] is False


def test_create_duplicate_package_is_409(api, world, owner, repo):
    pkg = world.package(owner.name, repo)
    r = api.post(
        f"/packages/{owner.name}/{repo}", owner.auth, json={"name": pkg, "licenses": ["MIT"], "vcs_url": VCS}
    )
    assert r.status_code == 409, r.text
    assert_message(r, pkg)
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 1


def test_create_package_missing_name_is_400(api, owner, repo):
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json={"licenses": ["MIT"], "vcs_url": VCS})
    assert r.status_code == 400, r.text
    assert_message(r, "name")


@pytest.mark.parametrize("bad", ["", "has space", ".hidden", "a..b", "a/b", "x" * 200, "é"])
def test_create_package_invalid_name_is_400(api, owner, repo, bad):
    r = api.post(
        f"/packages/{owner.name}/{repo}", owner.auth, json={"name": bad, "licenses": ["MIT"], "vcs_url": VCS}
    )
    assert r.status_code == 400, r.text
    assert "message" in r.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("desc", 3),
        ("labels", "persistence"),
        ("labels", [1, 2]),
        ("licenses", "MIT"),
        ("vcs_url", ["https://x"]),
        ("public_download_numbers", "yes"),
    ],
)
def test_create_package_wrong_types_are_400_naming_the_field(api, owner, repo, field, value):
    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": VCS, field: value}
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert_message(r, field)


def test_create_package_bad_json_is_400(api, owner, repo):
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, data=b"{not json")
    assert r.status_code == 400, r.text
    assert "message" in r.json()
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=["a list"])
    assert r.status_code == 400, r.text


def test_create_package_in_unknown_repo_is_404(api, owner):
    r = api.post(
        f"/packages/{owner.name}/{unique('r')}",
        owner.auth,
        json={"name": "x", "licenses": ["MIT"], "vcs_url": VCS},
    )
    assert r.status_code == 404, r.text
    assert "message" in r.json()


def test_create_package_permissions(api, world):
    org_owner, org, member, public, private = world.publishing_org()
    body = {"licenses": ["MIT"], "vcs_url": VCS}

    r = api.post(f"/packages/{org}/{public}", org_owner.auth, json={"name": unique("p"), **body})
    assert r.status_code == 201, r.text
    r = api.post(f"/packages/{org}/{public}", member.auth, json={"name": unique("p"), **body})
    assert r.status_code == 201, r.text
    r = api.post(f"/packages/{org}/{private}", member.auth, json={"name": unique("p"), **body})
    assert r.status_code == 201, r.text

    stranger = world.user()
    name = unique("p")
    r = api.post(f"/packages/{org}/{public}", stranger.auth, json={"name": name, **body})
    assert r.status_code == 403, r.text
    assert "message" in r.json()
    r = api.post(f"/packages/{org}/{private}", stranger.auth, json={"name": name, **body})
    assert r.status_code == 404, r.text
    r = api.post(f"/packages/{org}/{public}", json={"name": name, **body})
    assert r.status_code == 401, r.text
    assert "message" in r.json()
    r = api.post(f"/packages/{org}/{public}", ("nobody-" + unique(), "wrong"), json={"name": name, **body})
    assert r.status_code == 401, r.text
    assert api.get(f"/packages/{org}/{public}/{name}").status_code == 404
    assert api.get(f"/repos/{org}/{public}").json()["package_count"] == 2


def test_create_package_blank_label_is_400(api, owner, repo):
    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": VCS, "labels": ["ok", " "]}
    r = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert r.status_code == 400, r.text
    assert_message(r, "labels")


def test_create_package_increments_package_count(api, world, owner, repo):
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 0
    world.package(owner.name, repo)
    world.package(owner.name, repo)
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 2


# --- get --------------------------------------------------------------------------------------


def test_get_package_attribute_values(api, world, owner, repo):
    pkg = world.package(owner.name, repo)
    path = f"/packages/{owner.name}/{repo}/{pkg}"

    plain = api.get(path).json()
    assert "attribute_names" in plain and isinstance(plain["attribute_names"], list)
    assert "attributes" not in plain

    r = api.get(path, params={"attribute_values": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body["attributes"], dict)
    assert "attribute_names" not in body
    assert set(body) == PACKAGE_FIELDS - {"attribute_names"} | {"attributes"}


def test_get_unknown_package_is_404(api, owner, repo):
    r = api.get(f"/packages/{owner.name}/{repo}/{unique('p')}")
    assert r.status_code == 404, r.text
    assert "message" in r.json()
    r = api.get(f"/packages/{owner.name}/{unique('r')}/{unique('p')}")
    assert r.status_code == 404, r.text


def test_package_in_private_repo_is_invisible(api, world, owner):
    repo = world.repo(owner.name, private=True)
    pkg = world.package(owner.name, repo)
    path = f"/packages/{owner.name}/{repo}/{pkg}"
    assert api.get(path).status_code == 404
    assert api.get(path, world.user().auth).status_code == 404
    r = api.get(path, owner.auth)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == pkg
    # The message does not tell a private package from a missing one.
    other = unique("r")
    missing = api.get(f"/packages/{owner.name}/{other}/{pkg}").json()["message"]
    assert api.get(path).json()["message"].replace(repo, "R") == missing.replace(other, "R")


# --- update -----------------------------------------------------------------------------------


def test_update_package_changes_sent_fields_only(api, world, owner, repo):
    name = unique("p")
    created = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=full_body(name)).json()
    path = f"/packages/{owner.name}/{repo}/{name}"

    changes = {
        "desc": "new description",
        "labels": ["one"],
        "licenses": ["MIT"],
        "website_url": "https://new.example.com",
        "github_release_notes_file": "CHANGES.md",
    }
    r = api.patch(path, owner.auth, json=changes)
    assert r.status_code == 200 and r.json() == {"message": "success"}, r.text

    body = api.get(path, owner.auth).json()
    for field, value in changes.items():
        assert body[field] == value, field
    for field in (
        "vcs_url",
        "issue_tracker_url",
        "github_repo",
        "public_download_numbers",
        "created",
        "name",
    ):
        assert body[field] == created[field], field
    assert body["updated"] >= created["updated"]


def test_update_package_empty_body_changes_nothing(api, world, owner, repo):
    name = unique("p")
    created = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=full_body(name)).json()
    r = api.patch(f"/packages/{owner.name}/{repo}/{name}", owner.auth, json={})
    assert r.status_code == 200, r.text
    after = api.get(f"/packages/{owner.name}/{repo}/{name}", owner.auth).json()
    assert {k: v for k, v in after.items() if k != "updated"} == {
        k: v for k, v in created.items() if k != "updated"
    }


def test_update_package_unknown_license_is_400(api, world, owner, repo):
    pkg = world.package(owner.name, repo)
    path = f"/packages/{owner.name}/{repo}/{pkg}"
    r = api.patch(path, owner.auth, json={"licenses": ["Bogus-9"], "desc": "changed"})
    assert r.status_code == 400, r.text
    assert_message(r, "Bogus-9")
    after = api.get(path).json()
    assert after["licenses"] == ["MIT"]
    assert after["desc"] == ""


def test_update_package_plan_rules(api, world, owner, repo):
    pkg = world.package(owner.name, repo)
    path = f"/packages/{owner.name}/{repo}/{pkg}"
    refused = {"message": f"This action is not allowed for none-premium subject {owner.name}"}
    for body in ({"custom_licenses": ["mine"]}, {"public_stats": False}):
        r = api.patch(path, owner.auth, json=body)
        assert r.status_code == 400 and r.json() == refused, r.text
    r = api.patch(path, owner.auth, json={"licenses": []})
    assert r.status_code == 400, r.text
    r = api.patch(path, owner.auth, json={"labels": "not-a-list"})
    assert r.status_code == 400, r.text
    assert_message(r, "labels")
    assert api.get(path).json()["licenses"] == ["MIT"]


def test_update_package_clears_and_keeps_mandatory_fields(api, world, owner, repo):
    pkg = world.package(owner.name, repo, desc="something", website_url="https://w.example.com")
    path = f"/packages/{owner.name}/{repo}/{pkg}"
    r = api.patch(path, owner.auth, json={"desc": "", "website_url": None})
    assert r.status_code == 200, r.text
    after = api.get(path).json()
    assert after["desc"] == ""
    assert after["website_url"] == ""
    # vcs_url stays mandatory in a public repository of an OSS subject.
    r = api.patch(path, owner.auth, json={"vcs_url": None})
    assert r.status_code == 400, r.text
    assert_message(r, "vcs_url")
    assert api.get(path).json()["vcs_url"] == VCS


def test_update_unknown_package_is_404(api, owner, repo):
    r = api.patch(f"/packages/{owner.name}/{repo}/{unique('p')}", owner.auth, json={"desc": "x"})
    assert r.status_code == 404, r.text


def test_update_package_permissions(api, world):
    org_owner, org, member, public, private = world.publishing_org()
    pub_pkg = world.package(org, public)
    priv_pkg = world.package(org, private)
    stranger = world.user()

    assert (
        api.patch(f"/packages/{org}/{public}/{pub_pkg}", org_owner.auth, json={"desc": "a"}).status_code
        == 200
    )
    assert (
        api.patch(f"/packages/{org}/{public}/{pub_pkg}", member.auth, json={"desc": "b"}).status_code == 200
    )
    assert (
        api.patch(f"/packages/{org}/{private}/{priv_pkg}", member.auth, json={"desc": "b"}).status_code == 200
    )
    assert (
        api.patch(f"/packages/{org}/{public}/{pub_pkg}", stranger.auth, json={"desc": "c"}).status_code == 403
    )
    assert (
        api.patch(f"/packages/{org}/{private}/{priv_pkg}", stranger.auth, json={"desc": "c"}).status_code
        == 404
    )
    assert api.patch(f"/packages/{org}/{public}/{pub_pkg}", json={"desc": "c"}).status_code == 401
    assert api.get(f"/packages/{org}/{public}/{pub_pkg}").json()["desc"] == "b"


# --- delete -----------------------------------------------------------------------------------


def test_delete_package_cascades(api, world, owner, repo):
    pkg = world.package(owner.name, repo)
    world.package(owner.name, repo)
    world.version(owner.name, repo, pkg, "1.0")
    world.version(owner.name, repo, pkg, "2.0")
    repo_model = Repository.get(owner.name, repo)
    package_id = Package.get(repo_model.id, pkg).id
    assert {v.name for v in Version.query(package_id)} == {"1.0", "2.0"}
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 2

    r = api.delete(f"/packages/{owner.name}/{repo}/{pkg}", owner.auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "success"}

    assert api.get(f"/packages/{owner.name}/{repo}/{pkg}").status_code == 404
    assert api.get(f"/packages/{owner.name}/{repo}/{pkg}/versions/1.0").status_code == 404
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 1
    assert list(Version.query(package_id)) == []
    names = [p["name"] for p in api.get(f"/repos/{owner.name}/{repo}/packages").json()]
    assert pkg not in names

    # A second delete is a 404, and the count does not move.
    assert api.delete(f"/packages/{owner.name}/{repo}/{pkg}", owner.auth).status_code == 404
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 1

    # The same name starts empty.
    world.package(owner.name, repo, name=pkg)
    again = api.get(f"/packages/{owner.name}/{repo}/{pkg}").json()
    assert again["versions"] == []
    assert again["latest_version"] is None
    assert api.get(f"/packages/{owner.name}/{repo}/{pkg}/versions/1.0").status_code == 404
    assert api.get(f"/packages/{owner.name}/{repo}/{pkg}/versions/_latest").status_code == 404
    assert Package.get(repo_model.id, pkg).id != package_id
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 2


def test_delete_package_permissions(api, world):
    org_owner = world.user()
    org = world.org(org_owner, plan="premium")
    member = world.user()
    world.member(org, member, "member")
    public = world.repo(org)
    private = world.repo(org, private=True)
    world.team(org, [member], {public: "publish"})  # members publish through teams
    stranger = world.user()
    pub_pkg = world.package(org, public)
    priv_pkg = world.package(org, private)

    assert api.delete(f"/packages/{org}/{public}/{pub_pkg}", stranger.auth).status_code == 403
    assert api.delete(f"/packages/{org}/{private}/{priv_pkg}", stranger.auth).status_code == 404
    assert api.delete(f"/packages/{org}/{public}/{pub_pkg}").status_code == 401
    assert api.get(f"/packages/{org}/{public}/{pub_pkg}").status_code == 200

    assert api.delete(f"/packages/{org}/{public}/{pub_pkg}", member.auth).status_code == 200
    assert api.delete(f"/packages/{org}/{private}/{priv_pkg}", org_owner.auth).status_code == 200
    assert api.get(f"/packages/{org}/{public}/{pub_pkg}").status_code == 404
    assert api.get(f"/packages/{org}/{private}/{priv_pkg}", org_owner.auth).status_code == 404


# --- list -------------------------------------------------------------------------------------


def test_list_packages_sorted_with_start_name(api, world, owner, repo):
    for name in ("beta", "alpha", "alpine", "Gamma"):
        world.package(owner.name, repo, name=name)
    r = api.get(f"/repos/{owner.name}/{repo}/packages")
    assert r.status_code == 200, r.text
    assert r.json() == [{"name": n, "linked": False} for n in sorted(["beta", "alpha", "alpine", "Gamma"])]
    assert r.headers["X-RangeLimit-Total"] == "4"
    assert r.headers["X-RangeLimit-StartPos"] == "0"
    assert r.headers["X-RangeLimit-EndPos"] == "3"

    r = api.get(f"/repos/{owner.name}/{repo}/packages", params={"start_name": "alp"})
    assert r.status_code == 200, r.text
    assert r.json() == [{"name": "alpha", "linked": False}, {"name": "alpine", "linked": False}]
    assert r.headers["X-RangeLimit-Total"] == "2"

    r = api.get(f"/repos/{owner.name}/{repo}/packages", params={"start_name": "alp", "start_pos": 1})
    assert r.json() == [{"name": "alpine", "linked": False}]
    assert r.headers["X-RangeLimit-StartPos"] == "1"
    assert r.headers["X-RangeLimit-EndPos"] == "1"

    r = api.get(f"/repos/{owner.name}/{repo}/packages", params={"start_name": "zzz"})
    assert r.status_code == 200 and r.json() == []
    assert r.headers["X-RangeLimit-Total"] == "0"


def test_list_packages_of_empty_repo(api, owner, repo):
    r = api.get(f"/repos/{owner.name}/{repo}/packages")
    assert r.status_code == 200, r.text
    assert r.json() == []
    assert r.headers["X-RangeLimit-Total"] == "0"


def test_list_packages_paging(api, world, owner, repo):
    names = sorted(f"pkg-{i:03d}" for i in range(55))
    for name in names:
        world.package(owner.name, repo, name=name)
    path = f"/repos/{owner.name}/{repo}/packages"

    anonymous = api.get(path)
    assert anonymous.status_code == 200, anonymous.text
    assert [p["name"] for p in anonymous.json()] == names[:50]
    assert anonymous.headers["X-RangeLimit-Total"] == "55"
    assert anonymous.headers["X-RangeLimit-StartPos"] == "0"
    assert anonymous.headers["X-RangeLimit-EndPos"] == "49"

    authenticated = api.get(path, world.user().auth)
    assert [p["name"] for p in authenticated.json()] == names
    assert authenticated.headers["X-RangeLimit-Total"] == "55"
    assert authenticated.headers["X-RangeLimit-EndPos"] == "54"

    rest = api.get(path, params={"start_pos": 50})
    assert rest.status_code == 200, rest.text
    assert [p["name"] for p in rest.json()] == names[50:]
    assert rest.headers["X-RangeLimit-Total"] == "55"
    assert rest.headers["X-RangeLimit-StartPos"] == "50"
    assert rest.headers["X-RangeLimit-EndPos"] == "54"

    beyond = api.get(path, params={"start_pos": 100})
    assert beyond.status_code == 200 and beyond.json() == []
    assert beyond.headers["X-RangeLimit-Total"] == "55"


@pytest.mark.parametrize("bad", ["x", "-1", "1.5"])
def test_list_packages_bad_start_pos_is_400(api, owner, repo, bad):
    r = api.get(f"/repos/{owner.name}/{repo}/packages", params={"start_pos": bad})
    assert r.status_code == 400, r.text
    assert_message(r, "start_pos")


def test_list_packages_of_private_repo(api, world, owner):
    repo = world.repo(owner.name, private=True)
    pkg = world.package(owner.name, repo)
    assert api.get(f"/repos/{owner.name}/{repo}/packages").status_code == 404
    assert api.get(f"/repos/{owner.name}/{repo}/packages", world.user().auth).status_code == 404
    r = api.get(f"/repos/{owner.name}/{repo}/packages", owner.auth)
    assert r.status_code == 200, r.text
    assert r.json() == [{"name": pkg, "linked": False}]


# --- search -----------------------------------------------------------------------------------


def test_search_packages_needs_a_parameter(api):
    r = api.get("/search/packages")
    assert r.status_code == 400, r.text
    assert "message" in r.json()
    assert api.get("/search/packages", params={"name": "  "}).status_code == 400


def test_search_packages_by_name_prefix_case_insensitive(api, world, owner, repo):
    stem = unique("Srch").replace("-", "")
    world.package(owner.name, repo, name=f"{stem}-Core")
    world.package(owner.name, repo, name=f"{stem}-util")
    world.package(owner.name, repo, name=f"x{stem}")

    r = api.get("/search/packages", params={"name": stem.upper()})
    assert r.status_code == 200, r.text
    results = r.json()
    assert sorted(p["name"] for p in results) == [f"{stem}-Core", f"{stem}-util"]
    for item in results:
        assert set(item) == PACKAGE_FIELDS
        assert item["owner"] == owner.name and item["repo"] == repo

    # Even the owner gets no publisher-only fields in search results.
    mine = api.get("/search/packages", owner.auth, params={"name": stem})
    assert all(set(item) == PACKAGE_FIELDS for item in mine.json())
    assert len(mine.json()) == 2


def test_search_packages_by_desc_substring(api, world, owner, repo):
    word = unique("word").replace("-", "")
    pkg = world.package(owner.name, repo, desc=f"A library about {word.upper()} things")
    world.package(owner.name, repo, desc="unrelated")
    r = api.get("/search/packages", params={"desc": word.lower()})
    assert r.status_code == 200, r.text
    assert [p["name"] for p in r.json()] == [pkg]
    r = api.get("/search/packages", params={"desc": f"about {word}"})
    assert [p["name"] for p in r.json()] == [pkg]


def test_search_packages_by_subject_and_repo(api, world, owner, repo):
    other_repo = world.repo(owner.name)
    a = world.package(owner.name, repo, name="aaa")
    b = world.package(owner.name, other_repo, name="bbb")

    r = api.get("/search/packages", params={"subject": owner.name, "repo": repo})
    assert r.status_code == 200, r.text
    assert [p["name"] for p in r.json()] == [a]

    r = api.get("/search/packages", params={"subject": owner.name})
    assert r.status_code == 200, r.text
    assert sorted(p["name"] for p in r.json()) == [a, b]

    r = api.get("/search/packages", params={"repo": other_repo})
    assert [(p["owner"], p["name"]) for p in r.json()] == [(owner.name, b)]

    # Exact, not prefix.
    assert api.get("/search/packages", params={"subject": owner.name[:-1]}).json() == []
    assert api.get("/search/packages", params={"subject": owner.name, "repo": repo[:-1]}).json() == []

    r = api.get("/search/packages", params={"subject": owner.name, "repo": repo, "name": "AA"})
    assert [p["name"] for p in r.json()] == [a]
    r = api.get("/search/packages", params={"subject": owner.name, "repo": repo, "name": "b"})
    assert r.json() == []


def test_search_never_returns_private_packages(api, world, owner):
    private = world.repo(owner.name, private=True)
    stem = unique("priv").replace("-", "")
    world.package(owner.name, private, name=f"{stem}-x", desc=f"desc {stem}")
    assert api.get("/search/packages", owner.auth, params={"name": stem}).json() == []
    assert api.get("/search/packages", owner.auth, params={"desc": stem}).json() == []
    assert api.get("/search/packages", owner.auth, params={"subject": owner.name}).json() == []
    assert (
        api.get("/search/packages", owner.auth, params={"subject": owner.name, "repo": private}).json() == []
    )


def test_search_drops_deleted_packages(api, world, owner, repo):
    stem = unique("gone").replace("-", "")
    pkg = world.package(owner.name, repo, name=stem)
    assert [p["name"] for p in api.get("/search/packages", params={"name": stem}).json()] == [pkg]
    assert api.delete(f"/packages/{owner.name}/{repo}/{pkg}", owner.auth).status_code == 200
    assert api.get("/search/packages", params={"name": stem}).json() == []


def test_search_reflects_updated_desc(api, world, owner, repo):
    old, new = unique("old").replace("-", ""), unique("new").replace("-", "")
    pkg = world.package(owner.name, repo, desc=old)
    assert (
        api.patch(f"/packages/{owner.name}/{repo}/{pkg}", owner.auth, json={"desc": new}).status_code == 200
    )
    assert api.get("/search/packages", params={"desc": old}).json() == []
    assert [p["name"] for p in api.get("/search/packages", params={"desc": new}).json()] == [pkg]


def test_search_bad_start_pos_is_400(api):
    assert api.get("/search/packages", params={"name": "a", "start_pos": "x"}).status_code == 400


# --- Maven search -----------------------------------------------------------------------------


def _register(owner: str, repo: str, package: str, group_id: str, artifact_id: str) -> None:
    repo_model = Repository.get(owner, repo)
    register_system_id(repo_model, Package.get(repo_model.id, package), group_id, artifact_id)


@pytest.fixture
def maven(world):
    """Two public packages and one private one holding coordinates under a fresh group prefix."""
    owner = world.user()
    repo = world.repo(owner.name, type="maven")
    other_repo = world.repo(owner.name, type="maven")
    private = world.repo(owner.name, private=True, type="maven")
    base = f"com.{unique('x').replace('-', '')}"
    tool = world.package(owner.name, repo, name="tool", desc="The tool")
    lib = world.package(owner.name, other_repo, name="lib")
    secret = world.package(owner.name, private, name="secret")
    world.version(owner.name, repo, tool, "1.0")
    world.version(owner.name, repo, tool, "2.0")
    _register(owner.name, repo, tool, f"{base}.acme", "acme-tool")
    _register(owner.name, repo, tool, f"{base}.acme", "acme-core")
    _register(owner.name, other_repo, lib, f"{base}.acme.util", "lib")
    _register(owner.name, other_repo, lib, f"{base}.toolbox", "box")
    _register(owner.name, private, secret, f"{base}.acme", "acme-tool")
    _register(owner.name, private, secret, f"{base}.acme", "secret-tool")
    return {"owner": owner, "repo": repo, "other_repo": other_repo, "private": private, "base": base}


def _by_name(results: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in results}


def test_maven_search_exact_group(api, maven):
    base = maven["base"]
    r = api.get("/search/packages/maven", params={"g": f"{base}.acme"})
    assert r.status_code == 200, r.text
    results = r.json()
    assert len(results) == 1, results
    item = results[0]
    assert set(item) == MAVEN_FIELDS
    assert item == {
        "name": "tool",
        "repo": maven["repo"],
        "owner": maven["owner"].name,
        "desc": "The tool",
        "system_ids": sorted([f"{base}.acme:acme-core", f"{base}.acme:acme-tool"]),
        "versions": ["2.0", "1.0"],
        "latest_version": "2.0",
    }
    # Exact means exact: a group that is a prefix of a real one finds nothing.
    assert api.get("/search/packages/maven", params={"g": f"{base}.ac"}).json() == []


def test_maven_search_group_wildcard(api, maven):
    base = maven["base"]
    found = _by_name(api.get("/search/packages/maven", params={"g": f"{base}.acme*"}).json())
    assert set(found) == {"tool", "lib"}
    assert found["lib"]["system_ids"] == [f"{base}.acme.util:lib"]

    found = _by_name(api.get("/search/packages/maven", params={"g": f"{base}.*"}).json())
    assert set(found) == {"tool", "lib"}
    assert found["lib"]["system_ids"] == sorted([f"{base}.acme.util:lib", f"{base}.toolbox:box"])


def test_maven_search_artifact_wildcard(api, maven):
    base = maven["base"]
    r = api.get("/search/packages/maven", params={"g": f"{base}.*", "a": "*tool*"})
    assert r.status_code == 200, r.text
    found = _by_name(r.json())
    assert set(found) == {"tool"}
    assert found["tool"]["system_ids"] == [f"{base}.acme:acme-tool"]

    found = _by_name(api.get("/search/packages/maven", params={"g": f"{base}.acme", "a": "acme-core"}).json())
    assert found["tool"]["system_ids"] == [f"{base}.acme:acme-core"]


def test_maven_search_query_matches_group_or_artifact(api, maven):
    base = maven["base"]
    r = api.get("/search/packages/maven", params={"q": "*tool*", "subject": maven["owner"].name})
    assert r.status_code == 200, r.text
    found = _by_name(r.json())
    # "tool" matches the artifact acme-tool; "lib" matches the group ...toolbox.
    assert set(found) == {"tool", "lib"}
    assert found["tool"]["system_ids"] == [f"{base}.acme:acme-tool"]
    assert found["lib"]["system_ids"] == [f"{base}.toolbox:box"]


def test_maven_search_subject_and_repo_filters(api, world, maven):
    base = maven["base"]
    owner = maven["owner"].name
    r = api.get(
        "/search/packages/maven", params={"g": f"{base}.*", "subject": owner, "repo": maven["other_repo"]}
    )
    assert [item["name"] for item in r.json()] == ["lib"]
    r = api.get("/search/packages/maven", params={"g": f"{base}.*", "repo": maven["repo"]})
    assert [item["name"] for item in r.json()] == ["tool"]
    r = api.get("/search/packages/maven", params={"g": f"{base}.*", "subject": world.user().name})
    assert r.json() == []


def test_maven_search_never_returns_private_packages(api, maven):
    base = maven["base"]
    owner = maven["owner"]
    for params in (
        {"g": f"{base}.acme", "a": "secret-tool"},
        {"q": "secret-*", "subject": owner.name},
        {"g": f"{base}.*", "repo": maven["private"]},
    ):
        r = api.get("/search/packages/maven", owner.auth, params=params)
        assert r.status_code == 200, r.text
        assert r.json() == [], params


def test_maven_search_needs_a_coordinate(api):
    r = api.get("/search/packages/maven")
    assert r.status_code == 400, r.text
    assert "message" in r.json()
    assert api.get("/search/packages/maven", params={"subject": "x", "repo": "y"}).status_code == 400


def test_package_shows_system_ids(api, maven):
    base = maven["base"]
    r = api.get(f"/packages/{maven['owner'].name}/{maven['repo']}/tool")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["system_ids"]) == sorted([f"{base}.acme:acme-tool", f"{base}.acme:acme-core"])
    # Registering again is idempotent.
    _register(maven["owner"].name, maven["repo"], "tool", f"{base}.acme", "acme-tool")
    assert len(api.get(f"/packages/{maven['owner'].name}/{maven['repo']}/tool").json()["system_ids"]) == 2


def test_maven_search_drops_deleted_packages(api, maven):
    base = maven["base"]
    owner = maven["owner"]
    assert api.delete(f"/packages/{owner.name}/{maven['repo']}/tool", owner.auth).status_code == 200
    assert api.get("/search/packages/maven", params={"g": f"{base}.acme"}).json() == []
    # Re-created under the same name, it does not inherit the old coordinates.
    api.post(
        f"/packages/{owner.name}/{maven['repo']}",
        owner.auth,
        json={"name": "tool", "licenses": ["MIT"], "vcs_url": VCS},
    )
    assert api.get("/search/packages/maven", params={"g": f"{base}.acme"}).json() == []
    assert api.get(f"/packages/{owner.name}/{maven['repo']}/tool").json()["system_ids"] == []


# --- OSS licenses ------------------------------------------------------------------------------


def test_oss_licenses(api):
    r = api.get("/licenses/oss_licenses")
    assert r.status_code == 200, r.text
    licenses = r.json()
    assert isinstance(licenses, list) and len(licenses) > 50
    for entry in licenses:
        assert set(entry) == {"name", "longname", "url"}, entry
        assert all(isinstance(value, str) and value for value in entry.values()), entry
    by_name = {entry["name"]: entry for entry in licenses}
    assert len(by_name) == len(licenses)
    assert by_name["Apache-2.0"]["longname"] == "The Apache Software License, Version 2.0"
    assert by_name["MIT"]["url"].endswith("/MIT")


def test_every_listed_license_is_accepted(api, world, owner, repo):
    names = [entry["name"] for entry in api.get("/licenses/oss_licenses").json()]
    # Chunks of 20 (the most one package may list).
    for start in range(0, len(names), 20):
        chunk = names[start : start + 20]
        r = api.post(
            f"/packages/{owner.name}/{repo}",
            owner.auth,
            json={"name": unique("p"), "licenses": chunk, "vcs_url": VCS},
        )
        assert r.status_code == 201, r.text
        assert r.json()["licenses"] == chunk


def test_oss_licenses_with_bad_credentials_is_401(api):
    assert api.get("/licenses/oss_licenses", auth=("nobody", "bad")).status_code == 401


# --- DynamoDB transaction conflicts ------------------------------------------------------------


def test_create_and_delete_package_retry_a_transaction_conflict(api, world, owner, repo, conflicts):
    name = unique("p")
    conflicts(2)
    r = api.post(
        f"/packages/{owner.name}/{repo}", owner.auth, json={"name": name, "licenses": ["MIT"], "vcs_url": VCS}
    )
    assert r.status_code == 201, r.text
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 1

    world.version(owner.name, repo, name, "1.0")
    package_id = Package.get(Repository.get(owner.name, repo).id, name).id
    conflicts(2)
    r = api.delete(f"/packages/{owner.name}/{repo}/{name}", owner.auth)
    assert r.status_code == 200, r.text
    assert api.get(f"/packages/{owner.name}/{repo}/{name}").status_code == 404
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 0
    assert list(Version.query(package_id)) == []


def test_endless_transaction_conflicts_are_not_swallowed(api, owner, repo, conflicts):
    name = unique("p")
    conflicts(1000)
    r = api.post(
        f"/packages/{owner.name}/{repo}", owner.auth, json={"name": name, "licenses": ["MIT"], "vcs_url": VCS}
    )
    # Given up after a bounded number of attempts (no endless loop), and nothing half-written.
    assert r.status_code >= 500, r.text
    conflicts(0)
    assert api.get(f"/packages/{owner.name}/{repo}/{name}").status_code == 404
    assert api.get(f"/repos/{owner.name}/{repo}").json()["package_count"] == 0
