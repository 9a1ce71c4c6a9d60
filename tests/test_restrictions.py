"""Geo and IP restrictions (issue #5): the management routes (shapes, one-list rule, validation, plan,
permissions) and their enforcement on every download path (/dl, /content GET/HEAD, signed URLs) with
both country sources, the exemption of the repository's admins, and the download read budget."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from chalicelib import config
from chalicelib.repositories.models import Repository
from chalicelib.restrictions import countries, services
from chalicelib.restrictions.services import IpBody, IpPatchBody
from infra.local.opcount import count_operations
from tests.conftest import ADMIN, User, assert_message

EMPTY_GEO = {"white_list": [], "black_list": []}
EMPTY_IP = {"white_cidrs": [], "black_cidrs": []}


@dataclass
class Scene:
    """An Enterprise organisation with a public repository holding the published file ``f.bin``."""

    org: str
    repo: str
    owner: User
    admin: User
    member: User
    stranger: User

    @property
    def geo(self) -> str:
        return f"/repos/{self.org}/{self.repo}/geo_restrictions"

    @property
    def ip(self) -> str:
        return f"/repos/{self.org}/{self.repo}/ip_restrictions"

    def downloads(self, api) -> list[str]:
        """/dl, /content and a signed URL of the file (relative to the test server)."""
        response = api.post(f"/signed_url/{self.org}/{self.repo}/f.bin", self.owner.auth, json={})
        assert response.status_code == 200, response.text
        signed = response.json()["url"][len(api.base_url) :]
        return [f"/dl/{self.org}/{self.repo}/f.bin", f"/content/{self.org}/{self.repo}/f.bin", signed]


def make_scene(api, world, private: bool = False) -> Scene:
    owner, admin, member, stranger = (world.user() for _ in range(4))
    org = world.org(owner, plan="enterprise")
    world.member(org, admin, "admin")
    world.member(org, member, "member")
    repo = world.repo(org, private=private)
    package = world.package(org, repo)
    response = api.put(f"/content/{org}/{repo}/{package}/1.0/f.bin?publish=1", ADMIN, data=b"bytes")
    assert response.status_code == 201, response.text
    return Scene(org, repo, owner, admin, member, stranger)


@pytest.fixture
def scene(api, world) -> Scene:
    return make_scene(api, world)


@pytest.fixture
def cloudfront(monkeypatch):
    """SHELF_COUNTRY_SOURCE=cloudfront for the app (it runs in this process behind the local gateway)."""
    conf = replace(config.settings(), country_source="cloudfront")
    monkeypatch.setattr(countries, "settings", lambda: conf)


def put_geo(api, scene: Scene, **lists) -> None:
    response = api.put(scene.geo, scene.owner.auth, json=lists)
    assert response.status_code == 200, response.text


def put_ip(api, scene: Scene, **lists) -> None:
    response = api.put(scene.ip, scene.owner.auth, json=lists)
    assert response.status_code == 200, response.text


def assert_downloads(api, urls: list[str], status: int, auth=None, headers=None, reason: str = "") -> None:
    for url in urls:
        for method in ("GET", "HEAD"):
            response = api.request(method, url, auth, headers=headers or {})
            assert response.status_code == status, (method, url, response.status_code, response.text)
            if status == 403 and method == "GET":
                assert_message(response, reason)


# --- geo restrictions: management ----------------------------------------------------------------


def test_geo_restrictions_lifecycle(api, scene):
    assert api.get(scene.geo, scene.owner.auth).json() == EMPTY_GEO
    response = api.put(scene.geo, scene.owner.auth, json={"white_list": ["us", "Ca", "US"], "black_list": []})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "message": f"The Geo Restrictions for repo path {scene.org}/{scene.repo} were updated successfully"
    }
    response = api.get(scene.geo, scene.admin.auth)
    assert response.status_code == 200
    assert response.json() == {"white_list": ["US", "CA"], "black_list": []}
    # One list at a time: setting the black list clears the white list.
    put_geo(api, scene, black_list=["de"])
    assert api.get(scene.geo, ADMIN).json() == {"white_list": [], "black_list": ["DE"]}
    response = api.delete(scene.geo, scene.owner.auth)
    assert response.status_code == 200 and response.json() == EMPTY_GEO
    assert api.get(scene.geo, scene.owner.auth).json() == EMPTY_GEO


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"white_list": ["US"], "black_list": ["DE"]}, ["one list"]),
        ({"white_list": ["USA"]}, ["white_list", "USA"]),
        ({"black_list": ["XX"]}, ["black_list", "XX"]),
        ({"white_list": ["1A"]}, ["white_list"]),
        ({"white_list": [""]}, ["white_list"]),
        ({"white_list": "US"}, ["white_list"]),
        ({"black_list": [5]}, ["black_list"]),
        ([], ["JSON object"]),
    ],
)
def test_geo_restrictions_refuse_bad_bodies(api, scene, body, words):
    put_geo(api, scene, white_list=["FR"])
    response = api.put(scene.geo, scene.owner.auth, json=body)
    assert response.status_code == 400, response.text
    assert_message(response, *words)
    assert api.get(scene.geo, scene.owner.auth).json() == {"white_list": ["FR"], "black_list": []}


GEO_REFUSED = {
    "message": "Account Plan is not suitable for repo geo restriction. "
    "Geo restrictions are only available for Enterprise accounts"
}


def test_geo_restrictions_need_enterprise_to_read_set_and_lift(api, world, scene):
    """Observed: GET, PUT and DELETE alike are 403 below Enterprise."""
    owner = world.user(plan="premium")
    repo = world.repo(owner.name)
    path = f"/repos/{owner.name}/{repo}/geo_restrictions"
    for method in ("GET", "PUT", "DELETE"):
        response = api.request(method, path, owner.auth, json={"white_list": ["US"]})
        assert response.status_code == 403 and response.json() == GEO_REFUSED, (method, response.text)
    # Restrictions set while on Enterprise stay enforced after a downgrade (see docs/compatibility.md).
    put_geo(api, scene, white_list=["US"])
    response = api.put(f"/orgs/{scene.org}", ADMIN, json={"owner": scene.owner.name, "plan": "oss"})
    assert response.status_code == 200
    assert api.get(scene.geo, scene.owner.auth).json() == GEO_REFUSED
    assert Repository.get(scene.org, scene.repo).geo_white_list == ["US"]


def test_restriction_routes_need_admin(api, world, scene):
    for path in (scene.geo, scene.ip):
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            if method == "PATCH" and path == scene.geo:
                continue
            assert api.request(method, path, json={}).status_code == 401
            for user in (scene.member, scene.stranger):
                response = api.request(method, path, user.auth, json={})
                assert response.status_code == 403, (method, path)
                assert response.json() == {"message": "forbidden"}
    hidden = make_scene(api, world, private=True)
    assert api.get(hidden.geo, scene.stranger.auth).status_code == 404
    assert api.get(hidden.ip, hidden.member.auth).status_code == 403
    assert api.get(f"/repos/{scene.org}/nope/ip_restrictions", scene.owner.auth).status_code == 404


# --- IP restrictions: management -----------------------------------------------------------------


def test_ip_restrictions_lifecycle(api, scene):
    assert api.get(scene.ip, scene.owner.auth).json() == EMPTY_IP
    # The spec's sample nests the white list in a list: accepted and flattened.
    body = {"white_cidrs": [["10.0.0.1/32", "10.0.0.7/32"]], "black_cidrs": []}
    response = api.put(scene.ip, scene.owner.auth, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"white_cidrs": ["10.0.0.1/32", "10.0.0.7/32"], "black_cidrs": []}
    # The spec's PATCH sample.
    patch = {
        "add": {"white_cidrs": ["10.0.0.1/32", "10.0.0.7/32"], "black_cidrs": []},
        "remove": {"white_cidrs": ["10.0.0.9/32", "10.0.0.6/24"], "black_cidrs": ["10.100.0.9/16"]},
    }
    response = api.patch(scene.ip, scene.admin.auth, json=patch)
    assert response.status_code == 200, response.text
    assert response.json() == {"white_cidrs": ["10.0.0.1/32", "10.0.0.7/32"], "black_cidrs": []}
    response = api.patch(
        scene.ip,
        scene.owner.auth,
        json={
            "add": {"black_cidrs": ["192.0.2.0/24", "2001:db8::/32"]},
            "remove": {"white_cidrs": ["10.0.0.1"]},
        },
    )
    assert response.json() == {
        "white_cidrs": ["10.0.0.7/32"],
        "black_cidrs": ["192.0.2.0/24", "2001:db8::/32"],
    }
    assert api.get(scene.ip, ADMIN).json() == response.json()
    # PUT replaces both lists; CIDRs are stored in canonical form.
    response = api.put(scene.ip, scene.owner.auth, json={"black_cidrs": ["10.0.0.6/24", "10.0.0.9", "::1"]})
    assert response.json() == {"white_cidrs": [], "black_cidrs": ["10.0.0.0/24", "10.0.0.9/32", "::1/128"]}
    response = api.delete(scene.ip, scene.owner.auth)
    assert response.status_code == 200
    assert response.json() == {
        "message": f"Successfully deleted restriction for repo /{scene.org}/{scene.repo}"
    }
    assert api.get(scene.ip, scene.owner.auth).json() == EMPTY_IP


@pytest.mark.parametrize(
    ("method", "body", "words"),
    [
        ("PUT", {"white_cidrs": ["10.0.0.300/32"]}, ["white_cidrs", "10.0.0.300/32"]),
        ("PUT", {"black_cidrs": ["10.0.0.0/33"]}, ["black_cidrs"]),
        ("PUT", {"black_cidrs": ["example.com"]}, ["black_cidrs"]),
        ("PUT", {"white_cidrs": [5]}, ["white_cidrs"]),
        ("PUT", {"white_cidrs": "10.0.0.1/32"}, ["white_cidrs"]),
        ("PATCH", {"add": {"white_cidrs": ["nope"]}}, ["add.white_cidrs", "nope"]),
        ("PATCH", {"remove": {"black_cidrs": ["1.2.3.4/99"]}}, ["remove.black_cidrs"]),
        ("PATCH", {"add": ["10.0.0.1/32"]}, ["add"]),
    ],
)
def test_ip_restrictions_refuse_bad_cidrs(api, scene, method, body, words):
    put_ip(api, scene, white_cidrs=["10.0.0.1/32"])
    response = api.request(method, scene.ip, scene.owner.auth, json=body)
    assert response.status_code == 400, response.text
    assert_message(response, *words)
    assert api.get(scene.ip, scene.owner.auth).json() == {"white_cidrs": ["10.0.0.1/32"], "black_cidrs": []}


def test_ip_restrictions_are_read_on_every_plan_and_changed_from_premium(api, world):
    """Observed: GET works on every plan; PUT, PATCH and DELETE on a free plan are 403."""
    user = world.user()
    repo = world.repo(user.name)
    path = f"/repos/{user.name}/{repo}/ip_restrictions"
    response = api.get(path, user.auth)
    assert response.status_code == 200 and response.json() == {"white_cidrs": [], "black_cidrs": []}
    for method in ("PUT", "PATCH", "DELETE"):
        response = api.request(method, path, user.auth, json={"black_cidrs": ["10.0.0.0/8"]})
        assert response.status_code == 403, (method, response.text)
        assert response.json() == {"message": "Your repo commercial type does not support IP restrictions."}
    premium = world.user(plan="premium")
    repo = world.repo(premium.name)
    response = api.put(
        f"/repos/{premium.name}/{repo}/ip_restrictions", premium.auth, json={"black_cidrs": ["10.0.0.0/8"]}
    )
    assert response.status_code == 200, response.text


def test_patch_from_a_stale_copy_keeps_the_concurrent_change(api, scene):
    stale = Repository.get(scene.org, scene.repo)
    put_ip(api, scene, white_cidrs=["10.0.0.1/32"])
    result = services.patch_ip(stale, IpPatchBody(add=IpBody(white_cidrs=["10.0.0.2/32"])))
    assert result == {"white_cidrs": ["10.0.0.1/32", "10.0.0.2/32"], "black_cidrs": []}
    assert api.get(scene.ip, scene.owner.auth).json() == result


# --- enforcement: geo ----------------------------------------------------------------------------


def test_geo_white_list_with_the_cloudfront_country(api, scene, cloudfront):
    urls = scene.downloads(api)
    assert_downloads(api, urls, 302, headers={"CloudFront-Viewer-Country": "DE"})
    put_geo(api, scene, white_list=["US", "CA"])
    assert_downloads(api, urls, 302, headers={"CloudFront-Viewer-Country": "US"})
    assert_downloads(api, urls, 302, headers={"cloudfront-viewer-country": "ca"})
    assert_downloads(api, urls, 403, headers={"CloudFront-Viewer-Country": "DE"}, reason="country DE")
    # No (or no valid) country: refused by a white list.
    assert_downloads(api, urls, 403, reason="country (unknown)")
    assert_downloads(api, urls, 403, headers={"CloudFront-Viewer-Country": "XX"}, reason="(unknown)")


def test_geo_black_list_with_the_cloudfront_country(api, scene, cloudfront):
    urls = scene.downloads(api)
    put_geo(api, scene, black_list=["DE"])
    assert_downloads(api, urls, 302, headers={"CloudFront-Viewer-Country": "US"})
    assert_downloads(api, urls, 403, headers={"CloudFront-Viewer-Country": "DE"}, reason="country DE")
    # Unknown country: allowed by a black list.
    assert_downloads(api, urls, 302)
    assert api.delete(scene.geo, scene.owner.auth).status_code == 200
    assert_downloads(api, urls, 302, headers={"CloudFront-Viewer-Country": "DE"})


def test_geo_with_the_ip_database(api, scene):
    """The default source: the caller's IP (the test gateway takes it from X-Forwarded-For, standing in
    for API Gateway's sourceIp) looked up offline; the CloudFront header is ignored."""
    urls = scene.downloads(api)
    put_geo(api, scene, white_list=["US"])
    assert_downloads(api, urls, 302, headers={"X-Forwarded-For": "8.8.8.8"})
    assert_downloads(api, urls, 403, headers={"X-Forwarded-For": "193.99.144.80"}, reason="country DE")
    # 127.0.0.1 has no country: refused by a white list, whatever a forged header says...
    assert_downloads(api, urls, 403, headers={"CloudFront-Viewer-Country": "US"}, reason="(unknown)")
    put_geo(api, scene, black_list=["DE"])
    # ...and allowed by a black list.
    assert_downloads(api, urls, 302)
    assert_downloads(api, urls, 302, headers={"X-Forwarded-For": "8.8.8.8"})
    assert_downloads(api, urls, 403, headers={"X-Forwarded-For": "193.99.144.80"}, reason="country DE")


def test_ip_database_lookups():
    assert countries.lookup_ip("8.8.8.8") == "US"
    assert countries.lookup_ip("2001:4860:4860::8888") == "US"
    assert countries.lookup_ip("193.99.144.80") == "DE"  # heise.de
    assert countries.lookup_ip("212.27.48.10") == "FR"  # free.fr
    for unknown in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "::1", "not an ip", ""):
        assert countries.lookup_ip(unknown) is None, unknown
    assert countries.request_country("8.8.8.8", {"CloudFront-Viewer-Country": "DE"}) == "US"
    assert countries.request_country(None, {}) is None


def test_cloudfront_country_source(monkeypatch, cloudfront):
    assert countries.request_country("8.8.8.8", {"CloudFront-Viewer-Country": "de"}) == "DE"
    assert countries.request_country("8.8.8.8", {"cloudfront-viewer-country": "FR"}) == "FR"
    assert countries.request_country("8.8.8.8", {}) is None
    assert countries.request_country("8.8.8.8", {"CloudFront-Viewer-Country": "ZZ"}) is None


def test_country_codes_are_iso_3166_alpha_2():
    assert len(countries.ISO_COUNTRIES) == 249
    assert countries.normalise_codes([" us", "gb", "US"], "white_list") == ["US", "GB"]
    for bad in ("UK", "EU", "XK", "USA", "U"):
        with pytest.raises(Exception, match="ISO 3166"):
            countries.normalise_codes([bad], "white_list")


# --- enforcement: IP -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lists", "status", "reason"),
    [
        ({"black_cidrs": ["127.0.0.0/8"]}, 403, "127.0.0.1 are blocked"),
        ({"white_cidrs": ["10.0.0.0/8"]}, 403, "127.0.0.1 are not allowed"),
        ({"white_cidrs": ["::1/128"]}, 403, "not allowed"),
        ({"white_cidrs": ["127.0.0.1/32"]}, 302, ""),
        ({"white_cidrs": ["10.0.0.0/8", "127.0.0.0/24"]}, 302, ""),
        ({"black_cidrs": ["10.0.0.0/8", "::/0"]}, 302, ""),
        # Black beats white.
        ({"white_cidrs": ["127.0.0.0/8"], "black_cidrs": ["127.0.0.1/32"]}, 403, "blocked"),
    ],
)
def test_ip_restrictions_on_downloads(api, scene, lists, status, reason):
    """The test client's address is 127.0.0.1."""
    urls = scene.downloads(api)
    put_ip(api, scene, **lists)
    assert_downloads(api, urls, status, reason=reason)


def test_ip_and_geo_restrictions_both_apply(api, scene, cloudfront):
    urls = scene.downloads(api)
    put_ip(api, scene, white_cidrs=["127.0.0.1/32"])
    put_geo(api, scene, black_list=["DE"])
    assert_downloads(api, urls, 302, headers={"CloudFront-Viewer-Country": "US"})
    assert_downloads(api, urls, 403, headers={"CloudFront-Viewer-Country": "DE"}, reason="country DE")
    put_ip(api, scene, black_cidrs=["127.0.0.1/32"])
    assert_downloads(api, urls, 403, headers={"CloudFront-Viewer-Country": "US"}, reason="blocked")


# --- exemptions, other routes, budget ------------------------------------------------------------


def test_repository_admins_are_exempt_readers_are_not(api, scene, cloudfront):
    urls = scene.downloads(api)
    put_ip(api, scene, black_cidrs=["127.0.0.0/8"])
    put_geo(api, scene, white_list=["US"])
    for auth in (scene.owner.auth, scene.admin.auth, ADMIN):
        assert_downloads(api, urls[:2], 302, auth=auth)
    for auth in (None, scene.member.auth, scene.stranger.auth):
        assert_downloads(api, urls, 403, auth=auth, reason="blocked")
    # The restrictions stay manageable (they do not apply to the admin API).
    assert api.delete(scene.ip, scene.owner.auth).status_code == 200
    assert api.delete(scene.geo, scene.owner.auth).status_code == 200
    assert_downloads(api, urls, 302, auth=scene.member.auth)


def test_restrictions_only_concern_downloads(api, scene):
    put_ip(api, scene, black_cidrs=["0.0.0.0/0", "::/0"])
    assert api.get(f"/repos/{scene.org}/{scene.repo}").status_code == 200
    assert api.get(f"/file_version/{scene.org}/{scene.repo}/f.bin").status_code == 200
    assert_downloads(api, [f"/dl/{scene.org}/{scene.repo}/f.bin"], 403, reason="blocked")


def test_private_repositories_stay_hidden_before_restrictions(api, world):
    hidden = make_scene(api, world, private=True)
    put_ip(api, hidden, black_cidrs=["127.0.0.0/8"])
    assert api.get(f"/dl/{hidden.org}/{hidden.repo}/f.bin", hidden.stranger.auth).status_code == 404
    assert api.get(f"/dl/{hidden.org}/{hidden.repo}/f.bin").status_code == 401  # challenged first
    assert api.get(f"/dl/{hidden.org}/{hidden.repo}/f.bin", hidden.member.auth).status_code == 403


def test_restricted_anonymous_download_needs_no_extra_read(api, scene, queued_events):
    put_ip(api, scene, black_cidrs=["192.0.2.0/24"])
    put_geo(api, scene, black_list=["KP"])
    for url in (f"/dl/{scene.org}/{scene.repo}/f.bin", f"/content/{scene.org}/{scene.repo}/f.bin"):
        with count_operations() as ops:
            response = api.get(url)
        assert response.status_code == 302, response.text
        assert ops["GetItem"] + ops["Query"] + ops["BatchGetItem"] <= 2, (url, dict(ops))
        assert sum(ops.values()) <= 2, (url, dict(ops))


def test_access_key_downloads_are_restricted(api, world):
    hidden = make_scene(api, world, private=True)
    response = api.post(f"/orgs/{hidden.org}/access_keys", hidden.owner.auth, json={"id": "reader"})
    assert response.status_code == 201, response.text
    key = (response.json()["username"], response.json()["password"])
    body = {"access": "r", "access_keys": ["reader"]}
    response = api.post(f"/repos/{hidden.org}/{hidden.repo}/entitlements", hidden.owner.auth, json=body)
    assert response.status_code == 201, response.text
    urls = [f"/dl/{hidden.org}/{hidden.repo}/f.bin", f"/content/{hidden.org}/{hidden.repo}/f.bin"]
    assert_downloads(api, urls, 302, auth=key)
    put_ip(api, hidden, black_cidrs=["127.0.0.0/8"])
    assert_downloads(api, urls, 403, auth=key, reason="blocked")
