"""Licenses (issue #5): the OSS catalogue, proprietary licenses of users and organisations (CRUD,
validation, plan, permissions) and the check of a package's ``custom_licenses`` against them."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, assert_message, unique

SUCCESS = {"message": "success"}

#: The spec's "Available licenses", in its order and spelling.
_SPEC_LIST = (
    "AFL-2.1, AFL-3.0, AGPL-V3, Apache-1.0, Apache-1.1, Apache-2.0, APL-1.0, APSL-2.0, "
    "Artistic-License-2.0, Attribution, Bouncy-Castle, BSD, BSD 2-Clause, BSD 3-Clause, BSL-1.0, "
    "CA-TOSL-1.1, CC0-1.0, CDDL-1.0, Codehaus, CPAL-1.0, CPL-1.0, CPOL-1.02, CUAOFFICE-1.0, Day, "
    "Day-Addendum, ECL2, Eiffel-2.0, Entessa-1.0, EPL-1.0, EPL-2.0, EUDATAGRID, EUPL-1.1, EUPL-1.2, "
    "Fair, Facebook-Platform, Frameworx-1.0, Go, GPL-2.0, GPL-2.0+CE, GPL-3.0, Historical, HSQldb, "
    "IBMPL-1.0, IJG, ImageMagick, IPAFont-1.0, ISC, IU-Extreme-1.1.1, JA-SIG, JSON, JTIty, LGPL-2.0, "
    "LGPL-2.1, LGPL-3.0, Libpng, LPPL-1.0, Lucent-1.02, MirOS, MIT, Motosoto-0.9.1, Mozilla-1.1, "
    "MPL-2.0, MS-PL, MS-RL, Multics, NASA-1.3, NAUMEN, NCSA, Nethack, Nokia-1.0a, NOSL-3.0, NTP, "
    "NUnit-2.6.3, NUnit-Test-Adapter-2.6.3, OCLC-2.0, Openfont-1.1, Opengroup, OpenSSL, OSL-3.0, "
    "PHP-3.0, PostgreSQL, Public Domain, Public Domain - SUN, PythonPL, PythonSoftFoundation, QTPL-1.0, "
    "Real-1.0, RicohPL, RPL-1.5, Scala, SimPL-2.0, Sleepycat, SUNPublic-1.0, Sybase-1.0, TMatte, "
    "Unicode-DFS-2015, Unlicense, Uol-NCSA, UPL-1.0, VIM License, VovidaPL-1.0, W3C, WTFPL, wxWindows, "
    "Xnet, ZLIB, ZPL-2.0"
)
SPEC_OSS_NAMES = _SPEC_LIST.split(", ")


# --- OSS licenses --------------------------------------------------------------------------------


def test_oss_licenses_are_the_specs_list_for_anyone(api, owner):
    for auth in (None, owner.auth):
        response = api.get("/licenses/oss_licenses", auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [entry["name"] for entry in body] == SPEC_OSS_NAMES
        for entry in body:
            assert set(entry) == {"name", "longname", "url"}, entry
            assert entry["longname"] and entry["url"].startswith(("http://", "https://")), entry
        apache = next(entry for entry in body if entry["name"] == "Apache-1.0")
        assert apache == {
            "name": "Apache-1.0",
            "longname": "The Apache Software License, Version 1.0",
            "url": "http://apache.org/licenses/LICENSE-1.0",
        }


def test_package_licenses_accept_the_specs_names_only(api, world, owner, repo):
    for name in ("Public Domain - SUN", "HSQldb", "BSD 2-Clause"):
        world.package(owner.name, repo, licenses=[name])
    body = {"name": unique("p"), "licenses": ["GPL-3.0-only"], "vcs_url": "https://x/y.git"}
    response = api.post(f"/packages/{owner.name}/{repo}", owner.auth, json=body)
    assert response.status_code == 400
    assert_message(response, "GPL-3.0-only", "/licenses/oss_licenses")


# --- proprietary licenses: CRUD ------------------------------------------------------------------


@pytest.fixture
def org(world):
    """A Premium organisation: (name, owner, admin, member)."""
    owner = world.user()
    name = world.org(owner, plan="premium")
    admin, member = world.user(), world.user()
    world.member(name, admin, "admin")
    world.member(name, member, "member")
    return name, owner, admin, member


def test_org_license_lifecycle(api, org):
    name, owner, admin, _ = org
    base = f"/orgs/{name}/licenses"
    assert api.get(base, owner.auth).json() == []
    # The spec's body: a list holding one license.
    spec_body = [{"name": "license1", "description": "license-1", "url": "https://licenses.com"}]
    response = api.post(base, admin.auth, json=spec_body)
    assert response.status_code == 201, response.text
    assert response.json() == spec_body[0]
    # A bare object works too; fields not given are null.
    response = api.post(base, owner.auth, json={"name": "custom-eula"})
    assert response.status_code == 201, response.text
    assert response.json() == {"name": "custom-eula", "description": None, "url": None}
    listed = api.get(base, admin.auth)
    assert listed.status_code == 200
    assert listed.json() == [
        {"name": "custom-eula", "description": None, "url": None},
        spec_body[0],
    ]
    # Same name again: 409, the first one unchanged.
    response = api.post(base, owner.auth, json={"name": "license1", "description": "other"})
    assert response.status_code == 409
    assert_message(response, "license1")
    # Update: given fields change, others stay; "" or null removes.
    response = api.patch(f"{base}/license1", owner.auth, json=[{"description": "EULA for product x"}])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "license1",
        "description": "EULA for product x",
        "url": "https://licenses.com",
    }
    response = api.patch(f"{base}/license1", admin.auth, json={"url": None, "name": "license1"})
    assert response.json() == {"name": "license1", "description": "EULA for product x", "url": None}
    assert api.get(base, owner.auth).json()[1] == response.json()
    # Delete: success, then 404; the other license stays.
    response = api.delete(f"{base}/license1", admin.auth)
    assert response.status_code == 200 and response.json() == SUCCESS
    for method in ("PATCH", "DELETE"):
        response = api.request(method, f"{base}/license1", owner.auth, json={"description": "x"})
        assert response.status_code == 404, (method, response.text)
        assert_message(response, "license1")
    assert [lic["name"] for lic in api.get(base, owner.auth).json()] == ["custom-eula"]


def test_user_license_lifecycle(api, world):
    user = world.user(plan="premium")
    base = f"/users/{user.name}/licenses"
    response = api.post(base, user.auth, json=[{"name": "my-license-1", "url": "http://example.com/l"}])
    assert response.status_code == 201, response.text
    assert api.get(base, user.auth).json() == [
        {"name": "my-license-1", "description": None, "url": "http://example.com/l"}
    ]
    assert api.get(base, ADMIN).status_code == 200
    response = api.patch(f"{base}/my-license-1", ADMIN, json={"description": "d"})
    assert response.status_code == 200 and response.json()["description"] == "d"
    assert api.delete(f"{base}/my-license-1", user.auth).json() == SUCCESS
    assert api.get(base, user.auth).json() == []


def test_licenses_belong_to_one_subject_and_die_with_it(api, world):
    user = world.user(plan="premium")
    other = world.user(plan="premium")
    base = f"/users/{user.name}/licenses"
    assert api.post(base, user.auth, json={"name": "mine"}).status_code == 201
    assert api.get(f"/users/{other.name}/licenses", other.auth).json() == []
    assert api.patch(f"/users/{other.name}/licenses/mine", other.auth, json={}).status_code == 404
    # A user deleted and re-created under the same name starts without licenses.
    assert api.delete(f"/api/security/users/{user.name}", ADMIN).status_code == 200
    body = {"email": f"{user.name}@example.com", "plan": "premium"}
    response = api.put(f"/api/security/users/{user.name}", ADMIN, json=body)
    assert response.status_code == 201, response.text
    assert api.get(base, (user.name, response.json()["api_key"])).json() == []


def test_org_and_user_paths_name_the_right_kind(api, org, world):
    name, owner, _, _ = org
    assert api.get(f"/users/{name}/licenses", ADMIN).status_code == 404
    assert api.get(f"/orgs/{owner.name}/licenses", ADMIN).status_code == 404
    assert api.post(f"/orgs/{owner.name}/licenses", ADMIN, json={"name": "x"}).status_code == 404
    assert api.get(f"/orgs/{unique('o')}/licenses", ADMIN).status_code == 404


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"description": "no name"}, ["name"]),
        ({"name": ""}, ["license name"]),
        ({"name": "a/b"}, ["license name"]),
        ({"name": "has space"}, ["license name"]),
        ({"name": "x" * 65}, ["name"]),
        ({"name": "-dash-first"}, ["license name"]),
        ({"name": "mit"}, ["OSS license"]),
        ({"name": "ok", "url": "ftp://example.com/l"}, ["url"]),
        ({"name": "ok", "url": "javascript:alert(1)"}, ["url"]),
        ({"name": "ok", "url": "https://"}, ["url"]),
        ({"name": "ok", "description": 5}, ["description"]),
        ({"name": 5}, ["name"]),
        ([{"name": "a"}, {"name": "b"}], ["one license"]),
        ([], ["one license"]),
        (["a"], ["one license"]),
        ("just a string", ["one license"]),
    ],
)
def test_create_refuses_bad_bodies(api, org, body, words):
    name, owner, _, _ = org
    response = api.post(f"/orgs/{name}/licenses", owner.auth, json=body)
    assert response.status_code == 400, response.text
    assert_message(response, *words)
    assert api.get(f"/orgs/{name}/licenses", owner.auth).json() == []


def test_create_refuses_invalid_json_and_update_refuses_renaming(api, org):
    name, owner, _, _ = org
    base = f"/orgs/{name}/licenses"
    response = api.post(base, owner.auth, data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert api.post(base, owner.auth, json={"name": "keep"}).status_code == 201
    response = api.patch(f"{base}/keep", owner.auth, json={"name": "renamed"})
    assert response.status_code == 400
    assert_message(response, "renamed")
    response = api.patch(f"{base}/keep", owner.auth, json={"url": "file:///etc/passwd"})
    assert response.status_code == 400
    assert api.get(base, owner.auth).json() == [{"name": "keep", "description": None, "url": None}]


# --- plan and permissions ------------------------------------------------------------------------


def test_proprietary_licenses_need_premium_listing_and_deleting_too(api, world):
    """Observed: every proprietary license route of a free-plan subject (GET too) is a 400; a named
    license that does not exist is a 404 first."""
    owner = world.user()
    name = world.org(owner, plan="premium")
    base = f"/orgs/{name}/licenses"
    assert api.post(base, owner.auth, json={"name": "eula"}).status_code == 201
    assert api.put(f"/orgs/{name}", ADMIN, json={"owner": owner.name, "plan": "oss"}).status_code == 200
    user = world.user()
    for subject, response in (
        (name, api.post(base, owner.auth, json={"name": "eula-2"})),
        (name, api.patch(f"{base}/eula", owner.auth, json={"description": "x"})),
        (name, api.get(base, owner.auth)),
        (name, api.delete(f"{base}/eula", owner.auth)),
        (user.name, api.post(f"/users/{user.name}/licenses", user.auth, json={"name": "eula"})),
        (user.name, api.get(f"/users/{user.name}/licenses", user.auth)),
    ):
        assert response.status_code == 400, response.text
        want = f"This action is not allowed for none-premium subject {subject}"
        assert response.json() == {"message": want}
    for method in ("PATCH", "DELETE"):
        response = api.request(method, f"{base}/nope", owner.auth, json={})
        assert response.status_code == 404 and response.json() == {"message": "License 'nope' was not found"}
    assert api.put(f"/orgs/{name}", ADMIN, json={"owner": owner.name, "plan": "premium"}).status_code == 200
    assert [lic["name"] for lic in api.get(base, owner.auth).json()] == ["eula"]


def test_org_license_permissions(api, org, world):
    name, owner, admin, member = org
    stranger = world.user(plan="premium")
    base = f"/orgs/{name}/licenses"
    assert api.post(base, owner.auth, json={"name": "eula"}).status_code == 201
    # Listing needs the publish right on the organisation (owner, admins; members are read-only).
    for auth in (owner.auth, admin.auth, ADMIN):
        assert api.get(base, auth).status_code == 200
    assert api.get(base).status_code == 401
    for auth in (member.auth, stranger.auth):
        response = api.get(base, auth)
        assert response.status_code == 403 and response.json() == {"message": "forbidden"}
    # Create, update, delete need admin on the organisation (another's: 403 "forbidden").
    for auth, status in ((None, 401), (member.auth, 403), (stranger.auth, 403)):
        for response in (
            api.post(base, auth, json={"name": "x"}),
            api.patch(f"{base}/eula", auth, json={"description": "x"}),
            api.delete(f"{base}/eula", auth),
        ):
            assert response.status_code == status, response.text
            if status == 403:
                assert response.json() == {"message": "forbidden"}
    assert api.get(base, owner.auth).json() == [{"name": "eula", "description": None, "url": None}]


def test_user_license_permissions(api, world, org):
    _, _, admin_of_org, _ = org
    user = world.user(plan="premium")
    base = f"/users/{user.name}/licenses"
    assert api.post(base, user.auth, json={"name": "eula"}).status_code == 201
    assert api.get(base).status_code == 401
    for auth in (admin_of_org.auth, world.user(plan="premium").auth):
        assert api.get(base, auth).status_code == 403
        assert api.post(base, auth, json={"name": "x"}).status_code == 403
        assert api.patch(f"{base}/eula", auth, json={}).status_code == 403
        assert api.delete(f"{base}/eula", auth).status_code == 403
    assert len(api.get(base, user.auth).json()) == 1


# --- custom_licenses of packages -----------------------------------------------------------------


def test_package_custom_licenses_must_be_the_owners_licenses(api, world, org):
    name, owner, _, _ = org
    repo = world.repo(name)
    for lic in ("eula-1", "eula-2"):
        assert api.post(f"/orgs/{name}/licenses", owner.auth, json={"name": lic}).status_code == 201
    other = world.user(plan="premium")
    assert api.post(f"/users/{other.name}/licenses", other.auth, json={"name": "theirs"}).status_code == 201

    pkg = world.package(name, repo, custom_licenses=["eula-1", "eula-2"])
    path = f"/packages/{name}/{repo}/{pkg}"
    assert api.get(path, owner.auth).json()["custom_licenses"] == ["eula-1", "eula-2"]

    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": "https://x/y.git"}
    for refused in (["eula-1", "nope"], ["theirs"], ["EULA-1"], ["bad/name"]):
        response = api.post(f"/packages/{name}/{repo}", owner.auth, json={**body, "custom_licenses": refused})
        assert response.status_code == 400, (refused, response.text)
        assert_message(response, "custom_licenses", refused[-1], f"/orgs/{name}/licenses")
        assert api.get(f"/packages/{name}/{repo}/{body['name']}", owner.auth).status_code == 404
        response = api.patch(path, owner.auth, json={"custom_licenses": refused})
        assert response.status_code == 400, (refused, response.text)
    assert api.get(path, owner.auth).json()["custom_licenses"] == ["eula-1", "eula-2"]

    response = api.patch(path, owner.auth, json={"custom_licenses": ["eula-2"]})
    assert response.status_code == 200, response.text
    assert api.get(path, owner.auth).json()["custom_licenses"] == ["eula-2"]
    # Deleting a license packages use is allowed: they keep the name, but cannot be saved with it again.
    assert api.delete(f"/orgs/{name}/licenses/eula-2", owner.auth).json() == SUCCESS
    assert api.get(path, owner.auth).json()["custom_licenses"] == ["eula-2"]
    response = api.patch(path, owner.auth, json={"custom_licenses": ["eula-2"]})
    assert response.status_code == 400
    assert_message(response, "eula-2")
    assert api.patch(path, owner.auth, json={"custom_licenses": []}).status_code == 200


def test_user_package_custom_licenses_point_at_the_users_licenses(api, world):
    user = world.user(plan="premium")
    repo = world.repo(user.name)
    assert api.post(f"/users/{user.name}/licenses", user.auth, json={"name": "mine"}).status_code == 201
    world.package(user.name, repo, custom_licenses=["mine"])
    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": "https://x/y.git", "custom_licenses": ["x"]}
    response = api.post(f"/packages/{user.name}/{repo}", user.auth, json=body)
    assert response.status_code == 400
    assert_message(response, "x", f"/users/{user.name}/licenses")


def test_custom_licenses_stay_premium(api, world):
    user = world.user()
    repo = world.repo(user.name)
    body = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": "https://x/y.git", "custom_licenses": ["x"]}
    response = api.post(f"/packages/{user.name}/{repo}", user.auth, json=body)
    assert response.status_code == 400
    assert response.json() == {"message": f"This action is not allowed for none-premium subject {user.name}"}
