"""Package links (issue #4): Link/Unlink Package, linked packages in the target's package list,
``linked_to_repos`` of the source package, downloads of published files through the target
repository (with and without a path prefix), refusals, permissions and cascades."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from tests.conftest import ADMIN, User

SUCCESS = {"message": "success"}


@dataclass
class Source:
    """A package with a published file ``com/acme/lib.jar`` and an unpublished ``com/acme/draft.jar``."""

    owner: User
    repo: str
    package: str


@dataclass
class Target:
    owner: User
    repo: str

    def link_path(self, source: Source) -> str:
        return (
            f"/repository/{self.owner.name}/{self.repo}/links/"
            f"{source.owner.name}/{source.repo}/{source.package}"
        )


def make_source(api, world, private: bool = False) -> Source:
    owner = world.user()
    repo = world.repo(owner.name, private=private)
    package = world.package(owner.name, repo)
    for path, data, publish in (("com/acme/lib.jar", b"lib", 1), ("com/acme/draft.jar", b"draft", 0)):
        response = api.put(
            f"/content/{owner.name}/{repo}/{package}/1.0/{path}?publish={publish}", ADMIN, data=data
        )
        assert response.status_code == 201, response.text
    return Source(owner, repo, package)


def make_target(world, private: bool = False) -> Target:
    owner = world.user()
    return Target(owner, world.repo(owner.name, private=private))


@pytest.fixture
def source(api, world) -> Source:
    return make_source(api, world)


@pytest.fixture
def target(world) -> Target:
    return make_target(world)


def packages_of(api, subject: str, repo: str, auth=None, **params) -> requests.Response:
    return api.get(f"/repos/{subject}/{repo}/packages", auth, params=params)


def download(api, target: Target, path: str, auth=None) -> requests.Response:
    return api.get(f"/dl/{target.owner.name}/{target.repo}/{path}", auth)


def linked_to(api, source: Source) -> list[str]:
    response = api.get(f"/packages/{source.owner.name}/{source.repo}/{source.package}")
    assert response.status_code == 200, response.text
    return response.json()["linked_to_repos"]


# --- link and unlink ---------------------------------------------------------------------------


def test_link_then_unlink(api, source, target):
    r = api.put(target.link_path(source), target.owner.auth)
    assert (r.status_code, r.json()) == (201, SUCCESS)
    assert linked_to(api, source) == [target.repo]
    listed = packages_of(api, target.owner.name, target.repo)
    assert listed.json() == [{"name": source.package, "linked": True}]
    assert listed.headers["X-RangeLimit-Total"] == "1"

    r = api.delete(target.link_path(source), target.owner.auth)
    assert (r.status_code, r.json()) == (200, SUCCESS)
    assert linked_to(api, source) == []
    assert packages_of(api, target.owner.name, target.repo).json() == []
    assert download(api, target, "com/acme/lib.jar").status_code == 404


def test_unlink_without_link_is_404(api, source, target):
    r = api.delete(target.link_path(source), target.owner.auth)
    assert (r.status_code, r.json()) == (404, {"message": "Not Found"})
    # Unlinking twice: the second one finds nothing either.
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    assert api.delete(target.link_path(source), target.owner.auth).status_code == 200
    r = api.delete(target.link_path(source), target.owner.auth)
    assert (r.status_code, r.json()) == (404, {"message": "Not Found"})


def test_duplicate_link_is_409(api, source, target):
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    r = api.put(target.link_path(source), target.owner.auth, json={"path_prefix": "com"})
    assert r.status_code == 409 and "already linked" in r.json()["message"], r.text


def test_link_unknown_source_is_404(api, world, source, target):
    missing = Source(source.owner, source.repo, "no-such-package")
    assert api.put(target.link_path(missing), target.owner.auth).status_code == 404
    missing = Source(source.owner, "no-such-repo", source.package)
    assert api.put(target.link_path(missing), target.owner.auth).status_code == 404


def test_link_same_owner_is_403(api, world, source):
    other_repo = world.repo(source.owner.name)
    same = Target(source.owner, other_repo)
    r = api.put(same.link_path(source), source.owner.auth)
    assert r.status_code == 403
    assert r.json() == {
        "message": f"unable to create link for package {source.package}. "
        "can't create link between repositories of the same owner"
    }
    assert linked_to(api, source) == []


def test_link_private_package_into_public_repo_is_refused(api, world):
    private_source = make_source(api, world, private=True)
    target = make_target(world)
    r = api.put(target.link_path(private_source), ADMIN)
    assert r.status_code == 403
    assert r.json() == {
        "message": f"unable to create link for package {private_source.package}. "
        "can't create link from a private repository into a public one"
    }
    assert packages_of(api, target.owner.name, target.repo).json() == []


def test_link_private_package_into_private_repo(api, world):
    private_source = make_source(api, world, private=True)
    target = make_target(world, private=True)
    assert api.put(target.link_path(private_source), ADMIN).status_code == 201
    listed = packages_of(api, target.owner.name, target.repo, target.owner.auth)
    assert listed.json() == [{"name": private_source.package, "linked": True}]
    assert download(api, target, "com/acme/lib.jar", target.owner.auth).status_code == 302
    assert download(api, target, "com/acme/lib.jar").status_code == 401  # the target is private: challenged
    # A private target's name is not shown on the source package.
    response = api.get(
        f"/packages/{private_source.owner.name}/{private_source.repo}/{private_source.package}", ADMIN
    )
    assert response.json()["linked_to_repos"] == []


@pytest.mark.parametrize("body", [b"[1]", b"{", b'{"path_prefix": 5}', b'{"path_prefix": "a/../b"}'])
def test_link_bad_body_is_400(api, source, target, body):
    r = api.put(target.link_path(source), target.owner.auth, data=body)
    assert r.status_code == 400 and set(r.json()) == {"message"}


# --- listing -----------------------------------------------------------------------------------


def test_linked_packages_merge_in_name_order(api, world, target):
    sources = [make_source(api, world) for _ in range(2)]
    own = [world.package(target.owner.name, target.repo, name=n) for n in ("aaa", "zzz")]
    for source in sources:
        assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    expected = sorted([(n, False) for n in own] + [(s.package, True) for s in sources])
    r = packages_of(api, target.owner.name, target.repo)
    assert [(p["name"], p["linked"]) for p in r.json()] == expected
    assert r.headers["X-RangeLimit-Total"] == "4"
    r = packages_of(api, target.owner.name, target.repo, start_pos=1)
    assert [(p["name"], p["linked"]) for p in r.json()] == expected[1:]
    assert r.headers["X-RangeLimit-Total"] == "4"
    r = packages_of(api, target.owner.name, target.repo, start_name=sources[0].package)
    assert r.json() == [{"name": sources[0].package, "linked": True}]
    assert r.headers["X-RangeLimit-Total"] == "1"


def test_link_name_taken_in_target_is_409(api, world, source, target):
    world.package(target.owner.name, target.repo, name=source.package)
    r = api.put(target.link_path(source), target.owner.auth)
    assert r.status_code == 409


# --- downloads through the target --------------------------------------------------------------


def test_download_through_link(api, source, target):
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    r = download(api, target, "com/acme/lib.jar")
    assert r.status_code == 302
    assert requests.get(r.headers["Location"], timeout=10).content == b"lib"
    # Unpublished files of the source never show through the link, not even to the target's owner.
    assert download(api, target, "com/acme/draft.jar", target.owner.auth).status_code == 404
    assert download(api, target, "com/acme/nothing.jar").status_code == 404
    # Writes through the target's paths do not reach the source's files.
    r = api.delete(f"/content/{target.owner.name}/{target.repo}/com/acme/lib.jar", target.owner.auth)
    assert r.status_code == 404
    assert download(api, target, "com/acme/lib.jar").status_code == 302


def test_download_through_link_with_path_prefix(api, world, source):
    inside = make_target(world)
    outside = make_target(world)
    assert (
        api.put(inside.link_path(source), inside.owner.auth, json={"path_prefix": "/com/acme/"}).status_code
        == 201
    )
    assert (
        api.put(outside.link_path(source), outside.owner.auth, json={"path_prefix": "org"}).status_code == 201
    )
    r = download(api, inside, "com/acme/lib.jar")
    assert r.status_code == 302
    assert requests.get(r.headers["Location"], timeout=10).content == b"lib"
    assert download(api, outside, "com/acme/lib.jar").status_code == 404
    assert sorted(linked_to(api, source)) == sorted([inside.repo, outside.repo])


def test_own_file_wins_over_linked_one(api, world, source, target):
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    package = world.package(target.owner.name, target.repo)
    url = f"/content/{target.owner.name}/{target.repo}/{package}/2.0/com/acme/lib.jar?publish=1"
    assert api.put(url, ADMIN, data=b"own").status_code == 201
    r = download(api, target, "com/acme/lib.jar")
    assert requests.get(r.headers["Location"], timeout=10).content == b"own"


# --- permissions -------------------------------------------------------------------------------


def test_link_needs_authentication(api, source, target):
    r = api.put(target.link_path(source))
    assert r.status_code == 401 and set(r.json()) == {"message"}
    assert api.delete(target.link_path(source)).status_code == 401


def test_stranger_cannot_link_into_target(api, world, source, target):
    stranger = world.user()
    assert api.put(target.link_path(source), stranger.auth).status_code == 403
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    assert api.delete(target.link_path(source), stranger.auth).status_code == 403
    assert packages_of(api, target.owner.name, target.repo).json() == [
        {"name": source.package, "linked": True}
    ]


def test_private_source_unreadable_is_404(api, world):
    private_source = make_source(api, world, private=True)
    target = make_target(world, private=True)
    r = api.put(target.link_path(private_source), target.owner.auth)
    assert r.status_code == 404 and set(r.json()) == {"message"}
    # Same answer as for a repository that does not exist.
    missing = Source(private_source.owner, "no-such-repo", private_source.package)
    assert api.put(target.link_path(missing), target.owner.auth).json() == {
        "message": "Repo 'no-such-repo' was not found"
    }
    assert r.json() == {"message": f"Repo '{private_source.repo}' was not found"}


def test_org_member_may_link_into_org_repo(api, world, source):
    owner, member = world.user(), world.user()
    org = world.org(owner, plan="premium")
    world.member(org, member, "member")
    target = Target(User(org, ""), world.repo(org))
    world.team(org, [member], {target.repo: "publish"})  # members publish through teams
    assert api.put(target.link_path(source), member.auth).status_code == 201
    assert api.delete(target.link_path(source), member.auth).status_code == 200


# --- cascades ----------------------------------------------------------------------------------


def test_deleting_source_package_removes_links(api, world, source, target):
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    r = api.delete(f"/packages/{source.owner.name}/{source.repo}/{source.package}", ADMIN)
    assert r.status_code == 200
    assert packages_of(api, target.owner.name, target.repo).json() == []
    assert packages_of(api, target.owner.name, target.repo).headers["X-RangeLimit-Total"] == "0"
    assert download(api, target, "com/acme/lib.jar").status_code == 404
    # A re-created package of that name is not linked.
    world.package(source.owner.name, source.repo, name=source.package)
    assert packages_of(api, target.owner.name, target.repo).json() == []
    assert api.delete(target.link_path(source), target.owner.auth).status_code == 404


def test_deleting_source_repo_removes_links(api, source, target):
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    assert api.delete(f"/repos/{source.owner.name}/{source.repo}", ADMIN).status_code == 200
    assert packages_of(api, target.owner.name, target.repo).json() == []
    assert download(api, target, "com/acme/lib.jar").status_code == 404


def test_deleting_target_repo_removes_links(api, world, source, target):
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    assert linked_to(api, source) == [target.repo]
    assert api.delete(f"/repos/{target.owner.name}/{target.repo}", ADMIN).status_code == 200
    assert linked_to(api, source) == []
    # A re-created repository of that name starts without links.
    world_repo = api.post(f"/repos/{target.owner.name}/{target.repo}", ADMIN, json={"type": "generic"})
    assert world_repo.status_code == 201
    assert packages_of(api, target.owner.name, target.repo).json() == []
    assert download(api, target, "com/acme/lib.jar").status_code == 404


# --- the creator's rights and the source's restrictions (issue #9) ------------------------------


def test_link_stops_serving_when_its_creator_loses_read_on_the_source(api, world):
    """An org member links a package of the org's private repository into their own private
    repository; once they leave the organisation, the link serves nothing (and comes back with the
    right)."""
    owner, member = world.user(), world.user()
    org = world.org(owner)
    world.member(org, member, "member")
    repo = world.repo(org, private=True)
    package = world.package(org, repo)
    url = f"/content/{org}/{repo}/{package}/1.0/com/acme/lib.jar?publish=1"
    assert api.put(url, ADMIN, data=b"lib").status_code == 201
    source = Source(User(org, ""), repo, package)
    target = Target(member, world.repo(member.name, private=True))
    assert api.put(target.link_path(source), member.auth).status_code == 201
    assert download(api, target, "com/acme/lib.jar", member.auth).status_code == 302
    assert api.delete(f"/orgs/{org}/members/{member.name}", ADMIN).status_code == 200
    for auth in (member.auth, ADMIN):  # whoever downloads: the creator's rights decide
        r = download(api, target, "com/acme/lib.jar", auth)
        assert r.status_code == 404 and set(r.json()) == {"message"}, r.text
    world.member(org, member, "member")
    assert download(api, target, "com/acme/lib.jar", member.auth).status_code == 302


@pytest.mark.parametrize(
    ("lists", "ip", "status"),
    [
        ({"black_cidrs": ["203.0.113.0/24"]}, "203.0.113.9", 403),
        ({"black_cidrs": ["203.0.113.0/24"]}, "198.51.100.1", 302),
        ({"white_cidrs": ["198.51.100.0/24"]}, "203.0.113.9", 403),
        ({"white_cidrs": ["198.51.100.0/24"]}, "198.51.100.1", 302),
    ],
)
def test_source_ip_restrictions_apply_through_a_link(api, world, lists, ip, status):
    owner = world.user(plan="enterprise")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    url = f"/content/{owner.name}/{repo}/{package}/1.0/com/acme/lib.jar?publish=1"
    assert api.put(url, ADMIN, data=b"lib").status_code == 201
    source = Source(owner, repo, package)
    target = make_target(world)
    assert api.put(target.link_path(source), target.owner.auth).status_code == 201
    body = {"white_cidrs": [], "black_cidrs": [], **lists}
    response = api.put(f"/repos/{owner.name}/{repo}/ip_restrictions", owner.auth, json=body)
    assert response.status_code == 200, response.text
    headers = {"X-Forwarded-For": ip}
    path = f"/dl/{target.owner.name}/{target.repo}/com/acme/lib.jar"
    for auth in (None, target.owner.auth):  # the target's admins are not the source's
        r = api.get(path, auth, headers=headers)
        assert r.status_code == status, r.text
        if status == 403:
            assert set(r.json()) == {"message"} and ip in r.json()["message"]
    # The source's own admins are exempt, as on the source itself.
    assert api.get(path, owner.auth, headers=headers).status_code == 302
    # The source's restrictions cover the linked files only: the target's own files are not affected.
    own = world.package(target.owner.name, target.repo)
    url = f"/content/{target.owner.name}/{target.repo}/{own}/1.0/own.txt?publish=1"
    assert api.put(url, ADMIN, data=b"own").status_code == 201
    r = api.get(f"/dl/{target.owner.name}/{target.repo}/own.txt", headers=headers)
    assert r.status_code == 302
