"""Repositories API, end to end over HTTP (spec section "Repositories").

Grouped by endpoint: create (POST), get one (GET), list (GET /repos/:subject), update (PATCH),
delete (DELETE, with its cascade), search (GET /search/repos), and package_count bookkeeping.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.accounts.models import Subject
from chalicelib.errors import NotFound
from chalicelib.packages.models import Package, Version
from chalicelib.repositories import services
from chalicelib.repositories.models import Repository
from tests.conftest import unique

REPO_TYPES = ["maven", "debian", "conan", "rpm", "docker", "npm", "opkg", "nuget", "vagrant", "generic"]
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BASE_FIELDS = {
    "name",
    "owner",
    "type",
    "private",
    "premium",
    "desc",
    "labels",
    "created",
    "package_count",
    "gpg_sign_metadata",
    "gpg_sign_files",
    "gpg_use_owner_key",
}
DEBIAN_FIELDS = {"default_debian_architecture", "default_debian_distribution", "default_debian_component"}
RPM_FIELDS = {"yum_metadata_depth", "yum_groups_file"}


def create(api, subject: str, repo: str, auth, /, **body):
    """POST a new repository; ``body`` may carry a "name" of its own."""
    return api.post(f"/repos/{subject}/{repo}", auth, json=body)


def assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message"} and isinstance(body["message"], str), body
    for word in words:
        assert word in body["message"], body


def parse_iso(value: str) -> datetime:
    assert ISO_MS.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def roles(world, admin):
    """An org with every kind of caller around it: name -> auth (None = anonymous)."""
    owner = world.user()
    org = world.org(owner)
    org_admin, member, stranger = world.user(), world.user(), world.user()
    world.member(org, org_admin, "admin")
    world.member(org, member, "member")
    auths = {
        "org owner": owner.auth,
        "org admin": org_admin.auth,
        "org member": member.auth,
        "stranger": stranger.auth,
        "anonymous": None,
        "sysadmin": admin,
    }
    return org, auths


# --- POST /repos/:subject/:repo ---------------------------------------------------------------


def test_create_returns_documented_shape(api, world):
    alice = world.user()
    name = unique("r")
    before = datetime.now(UTC) - timedelta(seconds=5)
    body = {
        "name": name,
        "type": "maven",
        "private": False,
        "business_unit": "bu-1",
        "desc": "This repo...",
        "labels": ["label1", "label2"],
        "gpg_sign_metadata": True,
        "gpg_sign_files": False,
        "gpg_use_owner_key": False,
    }
    r = create(api, alice.name, name, alice.auth, **body)
    assert r.status_code == 201, r.text
    got = r.json()
    assert set(got) == BASE_FIELDS | {"business_unit"}
    assert {k: v for k, v in got.items() if k != "created"} == {
        "name": name,
        "owner": alice.name,
        "type": "maven",
        "private": False,
        "premium": False,
        "business_unit": "bu-1",
        "desc": "This repo...",
        "labels": ["label1", "label2"],
        "package_count": 0,
        "gpg_sign_metadata": True,
        "gpg_sign_files": False,
        "gpg_use_owner_key": False,
    }
    assert before <= parse_iso(got["created"]) <= datetime.now(UTC) + timedelta(seconds=5)
    fetched = api.get(f"/repos/{alice.name}/{name}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == got


def test_create_defaults(api, world):
    alice = world.user()
    name = unique("r")
    r = api.post(f"/repos/{alice.name}/{name}", alice.auth)  # no body at all
    assert r.status_code == 201, r.text
    got = r.json()
    assert set(got) == BASE_FIELDS  # no business_unit, no version_update_max_days
    assert got["type"] == "generic"
    assert got["private"] is False
    assert got["desc"] == "" and got["labels"] == [] and got["package_count"] == 0
    assert (got["gpg_sign_metadata"], got["gpg_sign_files"], got["gpg_use_owner_key"]) == (
        False,
        False,
        False,
    )


@pytest.mark.parametrize("repo_type", REPO_TYPES)
def test_create_accepts_every_documented_type(api, world, repo_type):
    alice = world.user()
    name = unique("r")
    r = create(api, alice.name, name, alice.auth, type=repo_type)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == repo_type
    assert api.get(f"/repos/{alice.name}/{name}").json()["type"] == repo_type


def test_create_unknown_type_is_400_naming_type(api, world):
    alice = world.user()
    name = unique("r")
    assert_error(create(api, alice.name, name, alice.auth, type="cargo"), 400, "'type'")
    assert api.get(f"/repos/{alice.name}/{name}").status_code == 404


def test_create_debian_stores_default_coordinates(api, world):
    alice = world.user()
    name = unique("r")
    coords = {
        "default_debian_architecture": "amd64",
        "default_debian_distribution": "jessie",
        "default_debian_component": "contrib",
    }
    r = create(api, alice.name, name, alice.auth, type="debian", **coords)
    assert r.status_code == 201, r.text
    for got in (r.json(), api.get(f"/repos/{alice.name}/{name}").json()):
        assert {k: got[k] for k in DEBIAN_FIELDS} == coords


def test_create_debian_component_defaults_to_main(api, world):
    alice = world.user()
    name = unique("r")
    r = create(
        api,
        alice.name,
        name,
        alice.auth,
        type="debian",
        default_debian_architecture="i386",
        default_debian_distribution="wheezy",
    )
    assert r.status_code == 201, r.text
    for got in (r.json(), api.get(f"/repos/{alice.name}/{name}").json()):
        assert got["default_debian_component"] == "main"
        assert got["default_debian_architecture"] == "i386"
        assert got["default_debian_distribution"] == "wheezy"


@pytest.mark.parametrize("field", sorted(DEBIAN_FIELDS))
@pytest.mark.parametrize("repo_type", ["generic", "rpm", "maven"])
def test_create_debian_fields_on_other_type_is_400(api, world, field, repo_type):
    alice = world.user()
    name = unique("r")
    assert_error(
        create(api, alice.name, name, alice.auth, type=repo_type, **{field: "x"}), 400, f"'{field}'", "debian"
    )
    assert api.get(f"/repos/{alice.name}/{name}").status_code == 404


def test_create_rpm_stores_yum_settings(api, world):
    alice = world.user()
    name = unique("r")
    r = create(
        api, alice.name, name, alice.auth, type="rpm", yum_metadata_depth=3, yum_groups_file="yumGroup.xml"
    )
    assert r.status_code == 201, r.text
    for got in (r.json(), api.get(f"/repos/{alice.name}/{name}").json()):
        assert got["yum_metadata_depth"] == 3
        assert got["yum_groups_file"] == "yumGroup.xml"
    assert not DEBIAN_FIELDS & set(r.json())


@pytest.mark.parametrize("field, value", [("yum_metadata_depth", 3), ("yum_groups_file", "g.xml")])
@pytest.mark.parametrize("repo_type", ["generic", "debian"])
def test_create_rpm_fields_on_other_type_is_400(api, world, field, value, repo_type):
    alice = world.user()
    name = unique("r")
    assert_error(
        create(api, alice.name, name, alice.auth, type=repo_type, **{field: value}), 400, f"'{field}'", "rpm"
    )
    assert api.get(f"/repos/{alice.name}/{name}").status_code == 404


@pytest.mark.parametrize(
    "flags",
    [
        {"gpg_use_owner_key": True, "gpg_sign_files": True},
        {"gpg_use_owner_key": True, "gpg_sign_metadata": True},
        {"gpg_use_owner_key": True},  # the owner supplied no GPG key
    ],
    ids=["with-sign-files", "with-sign-metadata", "alone"],
)
def test_create_gpg_use_owner_key_is_400(api, world, flags):
    alice = world.user()
    name = unique("r")
    assert_error(create(api, alice.name, name, alice.auth, **flags), 400, "gpg_use_owner_key")
    assert api.get(f"/repos/{alice.name}/{name}").status_code == 404


@pytest.mark.parametrize("plan", ["oss", "premium"])
def test_version_update_max_days_needs_enterprise(api, world, plan):
    owner = world.user(plan=plan)
    name = unique("r")
    assert_error(create(api, owner.name, name, owner.auth, version_update_max_days=60), 403, "Enterprise")
    assert api.get(f"/repos/{owner.name}/{name}").status_code == 404


def test_version_update_max_days_on_enterprise(api, world):
    owner = world.user(plan="enterprise")
    name = unique("r")
    r = create(api, owner.name, name, owner.auth, version_update_max_days=60)
    assert r.status_code == 201, r.text
    assert r.json()["version_update_max_days"] == 60
    assert api.get(f"/repos/{owner.name}/{name}").json()["version_update_max_days"] == 60


@pytest.mark.parametrize("plan, premium", [("oss", False), ("premium", True), ("enterprise", True)])
@pytest.mark.parametrize("kind", ["user", "org"])
def test_premium_flag_follows_owner_plan(api, world, admin, plan, premium, kind):
    subject = world.user(plan=plan).name if kind == "user" else world.org(world.user(), plan=plan)
    name = unique("r")
    r = create(api, subject, name, admin)
    assert r.status_code == 201, r.text
    assert r.json()["premium"] is premium
    assert api.get(f"/repos/{subject}/{name}").json()["premium"] is premium


def test_create_body_name_must_match_path(api, world):
    alice = world.user()
    name = unique("r")
    assert_error(create(api, alice.name, name, alice.auth, name=name + "-other"), 400, "'name'")
    assert api.get(f"/repos/{alice.name}/{name}").status_code == 404
    assert create(api, alice.name, name, alice.auth, name=name).status_code == 201


def test_create_duplicate_is_409(api, world):
    alice = world.user()
    name = unique("r")
    assert create(api, alice.name, name, alice.auth, desc="first").status_code == 201
    assert_error(create(api, alice.name, name, alice.auth, desc="second"), 409, name)
    assert api.get(f"/repos/{alice.name}/{name}").json()["desc"] == "first"


@pytest.mark.parametrize("name", ["bad name", "x" * 65, "-dash-first", "a..b", ".hidden"])
def test_create_invalid_name_is_400(api, world, name):
    alice = world.user()
    assert_error(create(api, alice.name, name, alice.auth), 400)
    assert [r["name"] for r in api.get(f"/repos/{alice.name}").json()] == []


def test_create_longest_valid_name(api, world):
    alice = world.user()
    name = "x" * 64
    assert create(api, alice.name, name, alice.auth).status_code == 201


@pytest.mark.parametrize(
    "field, value",
    [
        ("private", "yes"),
        ("private", 1),
        ("type", 3),
        ("desc", 42),
        ("labels", "java"),
        ("labels", [1, 2]),
        ("business_unit", ["bu"]),
        ("gpg_sign_files", "on"),
        ("gpg_sign_metadata", 0),
        ("version_update_max_days", "60"),
    ],
)
def test_create_wrong_field_type_is_400_naming_field(api, world, field, value):
    owner = world.user(plan="enterprise")
    name = unique("r")
    assert_error(create(api, owner.name, name, owner.auth, **{field: value}), 400, f"'{field}")
    assert api.get(f"/repos/{owner.name}/{name}").status_code == 404


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'], ids=["malformed", "array", "string"])
def test_create_bad_json_is_400(api, world, raw):
    alice = world.user()
    name = unique("r")
    r = api.post(
        f"/repos/{alice.name}/{name}", alice.auth, data=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400)
    assert api.get(f"/repos/{alice.name}/{name}").status_code == 404


def test_create_on_own_user_subject_and_not_on_others(api, world):
    alice, bob = world.user(), world.user()
    assert create(api, alice.name, unique("r"), alice.auth).status_code == 201
    name = unique("r")
    assert_error(create(api, alice.name, name, bob.auth), 403)
    assert_error(create(api, alice.name, name, None), 401)
    assert api.get(f"/repos/{alice.name}/{name}").status_code == 404


@pytest.mark.parametrize(
    "role, status",
    [
        ("org owner", 201),
        ("org admin", 201),
        ("org member", 403),
        ("stranger", 403),
        ("anonymous", 401),
        ("sysadmin", 201),
    ],
)
def test_create_on_org_by_role(api, roles, role, status):
    org, auths = roles
    name = unique("r")
    r = create(api, org, name, auths[role])
    assert r.status_code == status, r.text
    if status == 201:
        assert r.json()["owner"] == org
    else:
        assert_error(r, status)
    assert api.get(f"/repos/{org}/{name}").status_code == (200 if status == 201 else 404)


def test_create_subject_not_found_is_404(api, admin):
    assert_error(create(api, unique("nobody"), unique("r"), admin), 404)


# --- GET /repos/:subject/:repo ----------------------------------------------------------------


def test_get_public_repository_anonymously(api, world):
    alice = world.user()
    name = world.repo(alice.name, desc="hello", labels=["a"])
    r = api.get(f"/repos/{alice.name}/{name}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == BASE_FIELDS
    assert (got["name"], got["owner"], got["desc"], got["labels"]) == (name, alice.name, "hello", ["a"])
    assert isinstance(got["package_count"], int) and ISO_MS.match(got["created"])


@pytest.mark.parametrize(
    "role, status",
    [
        ("anonymous", 404),
        ("stranger", 404),
        ("org owner", 200),
        ("org admin", 200),
        ("org member", 200),
        ("sysadmin", 200),
    ],
)
def test_get_private_repository_by_role(api, world, roles, role, status):
    org, auths = roles
    name = world.repo(org, private=True)
    r = api.get(f"/repos/{org}/{name}", auths[role])
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json()["name"] == name and r.json()["private"] is True
    else:
        # Indistinguishable from a repository that does not exist.
        other = api.get(f"/repos/{org}/{name}x", auths[role])
        assert_error(other, 404)
        assert r.json()["message"] == other.json()["message"].replace(f"{name}x", name)


def test_get_private_repository_of_user_by_owner(api, world):
    alice, bob = world.user(), world.user()
    name = world.repo(alice.name, private=True)
    assert api.get(f"/repos/{alice.name}/{name}", alice.auth).status_code == 200
    assert_error(api.get(f"/repos/{alice.name}/{name}", bob.auth), 404)


def test_get_missing_repository_and_subject(api, world):
    alice = world.user()
    assert_error(api.get(f"/repos/{alice.name}/{unique('r')}"), 404)
    assert_error(api.get(f"/repos/{unique('nobody')}/{unique('r')}"), 404)


# --- GET /repos/:subject ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, sees_private",
    [
        ("anonymous", False),
        ("stranger", False),
        ("org member", True),
        ("org admin", True),
        ("org owner", True),
        ("sysadmin", True),
    ],
)
def test_list_repositories_by_role(api, world, roles, role, sees_private):
    org, auths = roles
    public = {world.repo(org), world.repo(org)}
    private = {world.repo(org, private=True)}
    r = api.get(f"/repos/{org}", auths[role])
    assert r.status_code == 200, r.text
    items = r.json()
    assert all(set(item) == {"name", "owner"} and item["owner"] == org for item in items), items
    names = [item["name"] for item in items]
    assert len(names) == len(set(names))
    assert set(names) == (public | private if sees_private else public)


def test_list_repositories_of_user_and_missing_subject(api, world):
    alice = world.user()
    assert api.get(f"/repos/{alice.name}").json() == []
    name = world.repo(alice.name)
    assert api.get(f"/repos/{alice.name}").json() == [{"name": name, "owner": alice.name}]
    assert_error(api.get(f"/repos/{unique('nobody')}"), 404)


# --- PATCH /repos/:subject/:repo --------------------------------------------------------------


def test_update_changes_fields(api, world):
    alice = world.user()
    name = world.repo(alice.name, type="maven", desc="old", labels=["a"])
    before = api.get(f"/repos/{alice.name}/{name}").json()
    changes = {
        "desc": "new description",
        "labels": ["x", "y"],
        "business_unit": "bu-2",
        "gpg_sign_metadata": True,
        "gpg_sign_files": True,
        "gpg_use_owner_key": False,
    }
    r = api.patch(f"/repos/{alice.name}/{name}", alice.auth, json=changes)
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "success"}
    assert api.get(f"/repos/{alice.name}/{name}").json() == {**before, **changes}


def test_update_leaves_unsent_fields_unchanged(api, world):
    alice = world.user()
    name = world.repo(alice.name, desc="old", labels=["a", "b"], business_unit="bu", gpg_sign_files=True)
    before = api.get(f"/repos/{alice.name}/{name}").json()
    r = api.patch(f"/repos/{alice.name}/{name}", alice.auth, json={"desc": "only this"})
    assert r.status_code == 200, r.text
    assert api.get(f"/repos/{alice.name}/{name}").json() == {**before, "desc": "only this"}
    # Fields Update does not take are ignored, not applied.
    r = api.patch(f"/repos/{alice.name}/{name}", alice.auth, json={"private": True, "type": "maven"})
    assert r.status_code == 200, r.text
    assert api.get(f"/repos/{alice.name}/{name}").json() == {**before, "desc": "only this"}


def test_update_version_update_max_days_follows_plan(api, world):
    oss, ent = world.user(), world.user(plan="enterprise")
    oss_repo, ent_repo = world.repo(oss.name), world.repo(ent.name)
    assert_error(
        api.patch(f"/repos/{oss.name}/{oss_repo}", oss.auth, json={"version_update_max_days": 5}),
        403,
        "Enterprise",
    )
    assert "version_update_max_days" not in api.get(f"/repos/{oss.name}/{oss_repo}").json()
    r = api.patch(f"/repos/{ent.name}/{ent_repo}", ent.auth, json={"version_update_max_days": 5})
    assert r.status_code == 200 and r.json() == {"message": "success"}, r.text
    assert api.get(f"/repos/{ent.name}/{ent_repo}").json()["version_update_max_days"] == 5


@pytest.mark.parametrize(
    "role, private, status",
    [
        ("org owner", False, 200),
        ("org admin", False, 200),
        ("sysadmin", True, 200),
        ("org member", False, 403),
        ("org member", True, 403),
        ("stranger", False, 403),
        ("stranger", True, 404),
        ("anonymous", False, 401),
        ("anonymous", True, 401),
    ],
)
def test_update_needs_admin_right(api, world, roles, role, private, status):
    org, auths = roles
    name = world.repo(org, private=private, desc="before")
    r = api.patch(f"/repos/{org}/{name}", auths[role], json={"desc": "after"})
    if status == 200:
        assert r.status_code == 200, r.text
    else:
        assert_error(r, status)
    assert api.get(f"/repos/{org}/{name}", auths["sysadmin"]).json()["desc"] == (
        "after" if status == 200 else "before"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"desc": 5},
        {"labels": "java"},
        {"labels": [None]},
        {"business_unit": 1},
        {"gpg_sign_files": "yes"},
        {"gpg_use_owner_key": True},
        {"gpg_use_owner_key": True, "gpg_sign_metadata": True},
        {"default_debian_architecture": "amd64"},
        {"yum_metadata_depth": 2},
    ],
    ids=lambda body: "-".join(f"{k}={v}" for k, v in body.items()),
)
def test_update_invalid_values_are_400(api, world, body):
    alice = world.user()
    name = world.repo(alice.name, desc="kept", labels=["kept"])
    before = api.get(f"/repos/{alice.name}/{name}").json()
    assert_error(api.patch(f"/repos/{alice.name}/{name}", alice.auth, json=body), 400, f"'{next(iter(body))}")
    assert api.get(f"/repos/{alice.name}/{name}").json() == before


def test_update_bad_json_and_missing_repository(api, world):
    alice = world.user()
    name = world.repo(alice.name)
    r = api.patch(f"/repos/{alice.name}/{name}", alice.auth, data=b"{oops")
    assert_error(r, 400)
    assert_error(api.patch(f"/repos/{alice.name}/{unique('r')}", alice.auth, json={"desc": "x"}), 404)


def test_update_debian_and_rpm_settings(api, world):
    alice = world.user()
    deb = world.repo(alice.name, type="debian", default_debian_distribution="jessie")
    r = api.patch(f"/repos/{alice.name}/{deb}", alice.auth, json={"default_debian_distribution": "stretch"})
    assert r.status_code == 200, r.text
    got = api.get(f"/repos/{alice.name}/{deb}").json()
    assert (got["default_debian_distribution"], got["default_debian_component"]) == ("stretch", "main")
    rpm = world.repo(alice.name, type="rpm", yum_metadata_depth=1)
    r = api.patch(f"/repos/{alice.name}/{rpm}", alice.auth, json={"yum_metadata_depth": 4})
    assert r.status_code == 200, r.text
    assert api.get(f"/repos/{alice.name}/{rpm}").json()["yum_metadata_depth"] == 4


def test_update_of_a_repository_deleted_meanwhile_is_404(api, world):
    """The service-level race: the repository vanishes between the route's read and the update."""
    alice = world.user()
    name = world.repo(alice.name)
    stale = Repository.get(alice.name, name)
    assert api.delete(f"/repos/{alice.name}/{name}", alice.auth).status_code == 200
    with pytest.raises(NotFound):
        services.update_repository(Subject.get(alice.name), stale, services.UpdateRepoBody(desc="x"))
    with pytest.raises(Repository.DoesNotExist):
        Repository.get(alice.name, name)  # the update did not resurrect it


# --- DELETE /repos/:subject/:repo -------------------------------------------------------------


def test_delete_repository(api, world):
    alice = world.user()
    name = world.repo(alice.name)
    r = api.delete(f"/repos/{alice.name}/{name}", alice.auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "success"}
    assert_error(api.get(f"/repos/{alice.name}/{name}"), 404)
    assert api.get(f"/repos/{alice.name}").json() == []
    assert_error(api.delete(f"/repos/{alice.name}/{name}", alice.auth), 404)


@pytest.mark.parametrize(
    "role, private, status",
    [
        ("org owner", True, 200),
        ("org admin", False, 200),
        ("sysadmin", True, 200),
        ("org member", False, 403),
        ("stranger", False, 403),
        ("stranger", True, 404),
        ("anonymous", False, 401),
    ],
)
def test_delete_needs_admin_right(api, world, roles, role, private, status):
    org, auths = roles
    name = world.repo(org, private=private)
    r = api.delete(f"/repos/{org}/{name}", auths[role])
    if status == 200:
        assert r.json() == {"message": "success"}
    else:
        assert_error(r, status)
    assert api.get(f"/repos/{org}/{name}", auths["sysadmin"]).status_code == (404 if status == 200 else 200)


def test_delete_cascades_to_packages_and_versions(api, world, admin):
    alice = world.user()
    name = world.repo(alice.name)
    packages = [world.package(alice.name, name), world.package(alice.name, name)]
    for package in packages:
        world.version(alice.name, name, package, "1.0")
        world.version(alice.name, name, package, "2.0")
    old_id = Repository.get(alice.name, name).id
    package_ids = [package.id for package in Package.query(old_id)]
    assert len(package_ids) == 2
    assert all(Version.count(pid) == 2 for pid in package_ids)

    assert api.delete(f"/repos/{alice.name}/{name}", alice.auth).json() == {"message": "success"}

    assert list(Package.query(old_id)) == []
    assert all(Version.count(pid) == 0 for pid in package_ids)

    r = create(api, alice.name, name, alice.auth)
    assert r.status_code == 201, r.text
    assert r.json()["package_count"] == 0
    assert Repository.get(alice.name, name).id != old_id
    listing = api.get(f"/repos/{alice.name}/{name}/packages")
    assert listing.status_code == 200, listing.text
    assert listing.json() == []
    for package in packages:
        assert_error(api.get(f"/packages/{alice.name}/{name}/{package}"), 404)
        assert_error(api.get(f"/packages/{alice.name}/{name}/{package}/versions/1.0"), 404)


# --- GET /search/repos ------------------------------------------------------------------------


@pytest.fixture
def search_data(api, world, admin):
    """Repos whose names share a prefix no other test uses; desc carries a unique token."""
    alice = world.user(plan="premium")
    prefix = "Sr" + uuid.uuid4().hex[:10]
    token = uuid.uuid4().hex[:12]
    repos = {
        "alpha": (f"{prefix}-Alpha", False, f"Tools for {token.upper()} people"),
        "beta": (f"{prefix}-beta", False, "nothing special"),
        "secret": (f"{prefix}-secret", True, f"private {token}"),
    }
    for name, private, desc in repos.values():
        assert create(api, alice.name, name, admin, private=private, desc=desc).status_code == 201
    other = world.repo(alice.name, desc=f"elsewhere {token}")
    return alice, prefix, token, repos, other


def search(api, auth, **params):
    r = api.get("/search/repos", auth, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_search_needs_authentication(api, search_data):
    _, prefix, _, _, _ = search_data
    assert_error(api.get("/search/repos", params={"name": prefix}), 401)


@pytest.mark.parametrize("params", [{}, {"name": ""}, {"desc": ""}, {"other": "x"}])
def test_search_needs_name_or_desc(api, world, params):
    assert_error(api.get("/search/repos", world.user().auth, params=params), 400, "name", "desc")


def test_search_by_name_prefix_case_insensitive(api, world, search_data):
    alice, prefix, _, repos, _ = search_data
    stranger = world.user()
    expected = {repos["alpha"][0], repos["beta"][0]}
    for query in (prefix, prefix.lower(), prefix.upper(), prefix[:-2]):
        assert {repo["name"] for repo in search(api, stranger.auth, name=query)} == expected, query
    assert [r["name"] for r in search(api, stranger.auth, name=f"{prefix}-al")] == [repos["alpha"][0]]
    # Prefix, not substring.
    assert search(api, stranger.auth, name=prefix[2:]) == []
    assert search(api, stranger.auth, name="Alpha-" + prefix) == []


def test_search_by_desc_substring(api, search_data):
    alice, prefix, token, repos, other = search_data
    found = {r["name"] for r in search(api, alice.auth, desc=token)}
    assert found == {repos["alpha"][0], other}
    found = {r["name"] for r in search(api, alice.auth, desc=token[3:9].upper())}
    assert found == {repos["alpha"][0], other}
    # Both parameters: both must match.
    assert [r["name"] for r in search(api, alice.auth, name=prefix, desc=token)] == [repos["alpha"][0]]
    assert search(api, alice.auth, name=prefix, desc="no-such-" + token) == []


def test_search_never_returns_private_repositories(api, search_data, admin):
    alice, prefix, token, repos, _ = search_data
    secret = repos["secret"][0]
    for auth in (alice.auth, admin):
        assert secret not in {r["name"] for r in search(api, auth, name=prefix)}
        assert secret not in {r["name"] for r in search(api, auth, desc="private " + token)}
        assert secret not in {r["name"] for r in search(api, auth, name=secret)}


def test_search_results_have_get_repository_shape(api, search_data):
    alice, prefix, _, repos, _ = search_data
    name = repos["alpha"][0]
    [found] = search(api, alice.auth, name=name)
    assert found == api.get(f"/repos/{alice.name}/{name}").json()
    assert found["premium"] is True and found["owner"] == alice.name


def test_search_reflects_updates_and_deletes(api, search_data):
    alice, prefix, _, repos, _ = search_data
    name = repos["beta"][0]
    token = uuid.uuid4().hex
    assert api.patch(f"/repos/{alice.name}/{name}", alice.auth, json={"desc": token}).status_code == 200
    assert [r["name"] for r in search(api, alice.auth, desc=token)] == [name]
    assert api.delete(f"/repos/{alice.name}/{name}", alice.auth).status_code == 200
    assert search(api, alice.auth, desc=token) == []
    assert name not in {r["name"] for r in search(api, alice.auth, name=prefix)}


# --- package_count ----------------------------------------------------------------------------


def test_package_count_follows_package_create_and_delete(api, world):
    alice = world.user()
    name = world.repo(alice.name)

    def count() -> int:
        return api.get(f"/repos/{alice.name}/{name}").json()["package_count"]

    first, second = world.package(alice.name, name), world.package(alice.name, name)
    assert count() == 2
    world.version(alice.name, name, first)
    assert count() == 2
    assert api.delete(f"/packages/{alice.name}/{name}/{first}", alice.auth).status_code == 200
    assert count() == 1
    # A failed create (duplicate) or delete (missing) does not move the counter.
    r = api.post(
        f"/packages/{alice.name}/{name}",
        alice.auth,
        json={"name": second, "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"},
    )
    assert r.status_code == 409, r.text
    assert api.delete(f"/packages/{alice.name}/{name}/{first}", alice.auth).status_code == 404
    assert count() == 1
    assert api.delete(f"/packages/{alice.name}/{name}/{second}", alice.auth).status_code == 200
    assert count() == 0
