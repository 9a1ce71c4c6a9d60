"""Content (issue #3): upload in its three forms, override rules, publish/discard, downloads through
302 redirects, visibility of private and unpublished files, delete, Maven and Debian uploads, file
listings and search, file metadata, and integrity under concurrency and failures."""

from __future__ import annotations

import hashlib
import http.client
import threading
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests

from chalicelib import storage
from chalicelib.auth.principal import Principal
from chalicelib.config import settings
from chalicelib.content import services
from chalicelib.content.models import File
from chalicelib.content.services import Upload
from chalicelib.errors import Conflict
from chalicelib.packages.models import Package
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import now
from tests.conftest import ADMIN, User, unique

SUCCESS = {"message": "success"}
FILE_FIELDS = {"name", "path", "package", "version", "repo", "owner", "created", "size", "sha1", "sha256"}


@dataclass
class Space:
    """A user's repository with one package."""

    owner: User
    repo: str
    package: str

    @property
    def base(self) -> str:
        return f"{self.owner.name}/{self.repo}"


@pytest.fixture
def space(world) -> Space:
    owner = world.user()
    repo = world.repo(owner.name)
    return Space(owner, repo, world.package(owner.name, repo))


def upload(api, space: Space, path: str, data: bytes = b"data", version: str = "1.0", auth=None, **kwargs):
    """PUT /content/:subject/:repo/:package/:version/:path."""
    url = f"/content/{space.base}/{space.package}/{version}/{path}"
    return api.put(url, auth or space.owner.auth, data=data, **kwargs)


def publish(api, space: Space, version: str = "1.0", auth=None, **body):
    return api.post(
        f"/content/{space.base}/{space.package}/{version}/publish", auth or space.owner.auth, json=body
    )


def row(space: Space, path: str) -> File | None:
    repo = Repository.get(space.owner.name, space.repo)
    return services.find_file(repo, path)


def fetch(api, url: str, auth=None) -> requests.Response:
    """Download through the 302: the Location is followed with a plain client (no Shelf credentials)."""
    response = api.get(url, auth)
    assert response.status_code == 302, response.text
    return requests.get(response.headers["Location"], timeout=10)


def age(space: Space, path: str, days: int) -> None:
    """Pretend the published file at ``path`` was published ``days`` ago."""
    record = row(space, path)
    assert record is not None and record.published
    record.update(actions=[File.published_at.set(now() - timedelta(days=days))])


# --- upload forms -----------------------------------------------------------------------------


def test_upload_on_the_path_answers_201_success_and_stores_the_record(api, space):
    data = b"\x00\x01binary\x00\xff" * 10
    response = upload(api, space, "dir/tool.bin", data)
    assert response.status_code == 201, response.text
    assert response.json() == SUCCESS
    record = row(space, "dir/tool.bin")
    assert record is not None
    assert (record.package, record.version, record.name, record.owner, record.repo) == (
        space.package,
        "1.0",
        "tool.bin",
        space.owner.name,
        space.repo,
    )
    assert int(record.size) == len(data)
    assert record.sha1 == hashlib.sha1(data).hexdigest()
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.published is False
    assert record.uploader == space.owner.name


def test_upload_with_headers(api, space):
    headers = {"X-Bintray-Package": space.package, "X-Bintray-Version": "2.0", "X-Bintray-Publish": "1"}
    response = api.put(f"/content/{space.base}/h/file.txt", space.owner.auth, data=b"h", headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == SUCCESS
    record = row(space, "h/file.txt")
    assert (record.version, record.published) == ("2.0", True)
    assert fetch(api, f"/dl/{space.base}/h/file.txt").content == b"h"


def test_upload_with_matrix_parameters(api, space):
    path = f"/content/{space.base}/m/file.txt;bt_package={space.package};bt_version=3.0;publish=1"
    response = api.put(path, space.owner.auth, data=b"m")
    assert response.status_code == 201, response.text
    assert response.json() == SUCCESS
    record = row(space, "m/file.txt")
    assert (record.path, record.version, record.published) == ("m/file.txt", "3.0", True)
    assert fetch(api, f"/dl/{space.base}/m/file.txt").content == b"m"


@pytest.mark.parametrize(
    "content_type", [None, "application/octet-stream", "application/java-archive", "text/plain", "a/b"]
)
def test_any_content_type_keeps_the_bytes_intact(api, space, content_type):
    data = bytes(range(256)) + b"\x00\x00end"
    headers = {"Content-Type": content_type} if content_type else {}
    response = upload(api, space, "bin/blob.dat?publish=1", data, headers=headers)
    assert response.status_code == 201, response.text
    redirect = api.get(f"/dl/{space.base}/bin/blob.dat")
    assert redirect.status_code == 302
    body = requests.get(redirect.headers["Location"], timeout=10)
    assert body.status_code == 200
    assert body.content == data
    assert "blob.dat" in body.headers["Content-Disposition"]


def test_missing_package_is_404(api, space):
    response = api.put(f"/content/{space.base}/no-such-pkg/1.0/a.txt", space.owner.auth, data=b"a")
    assert response.status_code == 404
    assert set(response.json()) == {"message"}
    assert row(space, "a.txt") is None


def test_missing_version_is_created(api, space):
    url = f"/packages/{space.base}/{space.package}/versions/9.9"
    assert api.get(url).status_code == 404
    assert upload(api, space, "v.txt", version="9.9").status_code == 201
    response = api.get(url, space.owner.auth)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "9.9"


def test_upload_needs_credentials_and_the_publish_right(api, world, space):
    url = f"/content/{space.base}/{space.package}/1.0/x.txt"
    response = api.put(url, None, data=b"x")
    assert response.status_code == 401
    assert set(response.json()) == {"message"}
    stranger = world.user()
    response = upload(api, space, "x.txt", auth=stranger.auth)
    assert response.status_code == 403
    assert row(space, "x.txt") is None


# --- checksum and override rules --------------------------------------------------------------


def test_checksum_mismatch_is_409_and_leaves_the_stored_file_untouched(api, space):
    assert upload(api, space, "c.txt", b"original").status_code == 201
    before = row(space, "c.txt")
    wrong = {"X-Checksum-Sha2": hashlib.sha256(b"something else").hexdigest()}
    response = upload(api, space, "c.txt", b"replacement", headers=wrong)
    assert response.status_code == 409
    assert "checksum" in response.json()["message"].lower()
    after = row(space, "c.txt")
    assert (after.sha256, after.created) == (before.sha256, before.created)
    assert fetch(api, f"/dl/{space.base}/c.txt", space.owner.auth).content == b"original"
    right = {"X-Checksum-Sha2": hashlib.sha256(b"replacement").hexdigest()}
    assert upload(api, space, "c.txt", b"replacement", headers=right).status_code == 201
    assert row(space, "c.txt").sha256 == hashlib.sha256(b"replacement").hexdigest()


def test_unpublished_files_are_replaced_freely(api, space):
    assert upload(api, space, "u.txt", b"one").status_code == 201
    assert upload(api, space, "u.txt", b"two").status_code == 201
    assert row(space, "u.txt").sha256 == hashlib.sha256(b"two").hexdigest()
    assert fetch(api, f"/dl/{space.base}/u.txt", space.owner.auth).content == b"two"


def test_published_files_need_override_and_stay_published(api, space):
    assert upload(api, space, "p.txt?publish=1", b"one").status_code == 201
    response = upload(api, space, "p.txt", b"two")
    assert response.status_code == 409
    assert "override" in response.json()["message"]
    assert fetch(api, f"/dl/{space.base}/p.txt").content == b"one"
    response = upload(api, space, "p.txt", b"two", headers={"X-Bintray-Override": "1"})
    assert response.status_code == 201, response.text
    record = row(space, "p.txt")
    assert record.published is True and record.search_shard == "public"
    assert fetch(api, f"/dl/{space.base}/p.txt").content == b"two"


def test_published_files_older_than_180_days_cannot_be_overridden_or_deleted(api, space):
    assert upload(api, space, "old.txt?publish=1", b"one").status_code == 201
    age(space, "old.txt", 181)
    response = upload(api, space, "old.txt;override=1", b"two")
    assert response.status_code == 409
    assert "180 days" in response.json()["message"]
    response = api.delete(f"/content/{space.base}/old.txt", space.owner.auth)
    assert response.status_code == 409
    assert "180 days" in response.json()["message"]
    assert row(space, "old.txt").sha256 == hashlib.sha256(b"one").hexdigest()
    # Within the window both work.
    age(space, "old.txt", 179)
    assert upload(api, space, "old.txt;override=1", b"two").status_code == 201
    assert api.delete(f"/content/{space.base}/old.txt", space.owner.auth).status_code == 200


def test_version_update_max_days_limits_members_not_org_admins(api, world):
    owner, org_admin, member = world.user(), world.user(), world.user()
    org = world.org(owner, plan="enterprise")
    world.member(org, org_admin, "admin")
    world.member(org, member, "member")
    repo = world.repo(org, version_update_max_days=5)
    world.team(org, [member], {repo: "publish"})  # members publish through teams
    space = Space(owner, repo, world.package(org, repo))
    space.owner = User(org, "")  # the subject of the paths; uploads below name their caller
    assert upload(api, space, "w.txt?publish=1", b"one", auth=member.auth).status_code == 201
    age(space, "w.txt", 10)
    response = upload(api, space, "w.txt;override=1", b"two", auth=member.auth)
    assert response.status_code == 409
    assert "5 days" in response.json()["message"]
    assert api.delete(f"/content/{org}/{repo}/w.txt", member.auth).status_code == 409
    assert upload(api, space, "w.txt;override=1", b"two", auth=org_admin.auth).status_code == 201
    age(space, "w.txt", 3)
    assert upload(api, space, "w.txt;override=1", b"three", auth=member.auth).status_code == 201


def test_same_path_in_another_version_is_409(api, space):
    assert upload(api, space, "shared.txt", b"one", version="1.0").status_code == 201
    response = upload(api, space, "shared.txt", b"two", version="2.0")
    assert response.status_code == 409
    assert row(space, "shared.txt").version == "1.0"


# --- publish / discard ------------------------------------------------------------------------


def test_publish_counts_files_and_discard_removes_unpublished_ones(api, space):
    for name in ("a.txt", "b.txt"):
        assert upload(api, space, f"pub/{name}", version="1.0").status_code == 201
    response = publish(api, space, "1.0")
    assert response.status_code == 200, response.text
    assert response.json() == {"files": 2}
    assert publish(api, space, "1.0", publish_wait_for_secs=-1).json() == {"files": 0}
    assert all(row(space, f"pub/{n}").published for n in ("a.txt", "b.txt"))

    for name in ("c.txt", "d.txt"):
        assert upload(api, space, f"draft/{name}", version="2.0").status_code == 201
    response = publish(api, space, "2.0", discard=True)
    assert response.status_code == 200, response.text
    assert response.json() == {"files": 2}
    assert row(space, "draft/c.txt") is None and row(space, "draft/d.txt") is None
    listing = api.get(
        f"/packages/{space.base}/{space.package}/versions/2.0/files",
        space.owner.auth,
        params={"include_unpublished": 1},
    )
    assert listing.json() == []


def test_publish_of_a_missing_version_is_404_and_bad_body_is_400(api, space):
    assert publish(api, space, "nope").status_code == 404
    assert upload(api, space, "x.txt").status_code == 201
    response = publish(api, space, "1.0", discard="maybe")
    assert response.status_code == 400
    assert "discard" in response.json()["message"]


# --- visibility -------------------------------------------------------------------------------


def test_unpublished_files_are_invisible_to_others(api, world, space):
    stranger = world.user()
    name = f"{unique('hidden')}.txt"
    assert upload(api, space, name, b"secret-draft").status_code == 201
    files_url = f"/packages/{space.base}/{space.package}/files"
    version_url = f"/packages/{space.base}/{space.package}/versions/1.0/files"
    for auth in (None, stranger.auth):
        for url in (files_url, version_url):
            response = api.get(url, auth, params={"include_unpublished": 1})
            assert response.status_code == 200 and response.json() == [], (url, auth)
        for prefix in ("dl", "content", "file_version", "file_package"):
            response = api.get(f"/{prefix}/{space.base}/{name}", auth)
            assert response.status_code == 404, (prefix, response.text)
            missing = api.get(f"/{prefix}/{space.base}/missing.txt", auth)
            assert response.json()["message"].replace(name, "X") == missing.json()["message"].replace(
                "missing.txt", "X"
            )
        assert api.get("/search/file", auth, params={"name": name}).json() == []
        sha1 = hashlib.sha1(b"secret-draft").hexdigest()
        assert api.get("/search/file", auth, params={"sha1": sha1}).json() == []
    # The publisher sees it only when asking for it.
    assert api.get(version_url, space.owner.auth).json() == []
    listing = api.get(version_url, space.owner.auth, params={"include_unpublished": 1}).json()
    assert [f["path"] for f in listing] == [name]
    assert set(listing[0]) == FILE_FIELDS
    assert api.get(f"/dl/{space.base}/{name}", space.owner.auth).status_code == 302
    assert api.get(f"/file_version/{space.base}/{name}", space.owner.auth).json()["name"] == "1.0"


def test_private_repository_downloads_need_read_rights(api, world):
    owner, member, stranger = world.user(), world.user(), world.user()
    org = world.org(owner)
    world.member(org, member, "member")
    repo = world.repo(org, private=True)
    package = world.package(org, repo)
    space = Space(User(org, ""), repo, package)
    assert upload(api, space, "p.bin?publish=1", b"private", auth=owner.auth).status_code == 201
    # Anonymous downloads are challenged (401, so that package managers send credentials); an
    # authenticated caller without read sees nothing (404); present or absent files answer alike.
    for auth, status in ((None, 401), (stranger.auth, 404)):
        for prefix in ("dl", "content"):
            for method in ("GET", "HEAD"):
                present = api.request(method, f"/{prefix}/{org}/{repo}/p.bin", auth)
                absent = api.request(method, f"/{prefix}/{org}/{repo}/absent.bin", auth)
                assert present.status_code == absent.status_code == status, (method, prefix, auth)
                assert present.headers.get("WWW-Authenticate") == absent.headers.get("WWW-Authenticate")
                if method == "GET":
                    assert present.json() == absent.json()
        assert api.get(f"/packages/{org}/{repo}/{package}/files", auth).status_code == 404
    challenged = api.get(f"/dl/{org}/{repo}/p.bin")
    assert challenged.headers["WWW-Authenticate"] == 'Basic realm="Shelf"'
    assert challenged.json() == {"message": "This resource requires authentication"}
    # A repository that does not exist is not revealed by a challenge.
    assert api.get(f"/dl/{org}/no-such-repo/p.bin").status_code == 404
    assert api.get(f"/dl/{org}/no-such-repo/p.bin").json() == {"message": "Repo 'no-such-repo' was not found"}
    for auth in (member.auth, owner.auth, ADMIN):
        assert fetch(api, f"/dl/{org}/{repo}/p.bin", auth).content == b"private"
    assert api.get("/search/file", None, params={"sha1": hashlib.sha1(b"private").hexdigest()}).json() == []


def test_download_routes_answer_302_with_the_file_name(api, space):
    data = b"abc\x00def"
    assert upload(api, space, "deep/dir/name.tar.gz?publish=1", data).status_code == 201
    for method, prefix in (("GET", "dl"), ("HEAD", "dl"), ("GET", "content"), ("HEAD", "content")):
        response = api.request(method, f"/{prefix}/{space.base}/deep/dir/name.tar.gz")
        assert response.status_code == 302, (method, prefix, response.text)
        location = response.headers["Location"]
        assert storage.blob_key(hashlib.sha256(data).hexdigest()) in location
        assert "name.tar.gz" in location
        assert "X-Amz-Expires=30&" in location  # valid for seconds
    body = requests.get(location, timeout=10)
    assert body.content == data
    assert 'filename="name.tar.gz"' in body.headers["Content-Disposition"]
    assert api.request("HEAD", f"/dl/{space.base}/nope.bin").status_code == 404
    assert api.request("HEAD", f"/content/{space.base}/nope.bin").status_code == 404


def test_dynamic_latest_download_is_premium_only(api, world):
    owner = world.user(plan="premium")
    repo = world.repo(owner.name)
    space = Space(owner, repo, world.package(owner.name, repo))
    assert upload(api, space, "1.0/lib.txt?publish=1", b"old", version="1.0").status_code == 201
    assert upload(api, space, "1.1/lib.txt?publish=1", b"new", version="1.1").status_code == 201
    assert upload(api, space, "1.2/lib.txt", b"draft", version="1.2").status_code == 201
    for where in (
        {"params": {"bt_package": space.package}},
        {"headers": {"X-Bintray-Package": space.package}},
    ):
        response = api.get(f"/content/{space.base}/$latest/lib.txt", **where)
        assert response.status_code == 302, response.text
        follow = api.get(response.headers["Location"][len(api.base_url) :])
        assert follow.status_code == 302
        assert requests.get(follow.headers["Location"], timeout=10).content == b"new"
    response = api.get(f"/content/{space.base}/$latest/lib.txt;bt_package={space.package}")
    assert response.status_code == 302, response.text
    assert api.get(f"/content/{space.base}/$latest/lib.txt").status_code == 400
    oss = world.user()
    oss_repo = world.repo(oss.name)
    oss_space = Space(oss, oss_repo, world.package(oss.name, oss_repo))
    assert upload(api, oss_space, "1.0/lib.txt?publish=1", b"o").status_code == 201
    response = api.get(f"/content/{oss_space.base}/$latest/lib.txt", params={"bt_package": oss_space.package})
    assert response.status_code == 403
    assert "Premium" in response.json()["message"] or "premium" in response.json()["message"]


# --- delete -----------------------------------------------------------------------------------


def test_delete_content_removes_the_file(api, world, space):
    assert upload(api, space, "gone.txt?publish=1").status_code == 201
    stranger = world.user()
    assert api.delete(f"/content/{space.base}/gone.txt", stranger.auth).status_code == 403
    assert api.delete(f"/content/{space.base}/gone.txt").status_code == 401
    response = api.delete(f"/content/{space.base}/gone.txt", space.owner.auth)
    assert response.status_code == 200, response.text
    assert response.json() == SUCCESS
    assert api.get(f"/dl/{space.base}/gone.txt").status_code == 404
    assert api.delete(f"/content/{space.base}/gone.txt", space.owner.auth).status_code == 404
    assert api.get(f"/packages/{space.base}/{space.package}/files", space.owner.auth).json() == []
    assert row(space, "gone.txt") is None


def test_delete_content_deletes_files_only(api, space):
    assert upload(api, space, "dir/in.txt").status_code == 201
    response = api.delete(f"/content/{space.base}/dir", space.owner.auth)
    assert response.status_code == 404
    assert row(space, "dir/in.txt") is not None


def test_undeclared_method_on_a_file_path_is_405(api, space):
    response = api.patch(f"/content/{space.base}/some/file.txt", space.owner.auth, json={})
    assert response.status_code == 405
    assert "PUT" in response.headers["Allow"]


def test_deleting_version_package_or_repository_leaves_no_file_rows(api, world, space):
    assert upload(api, space, "v1/a.txt", version="1.0").status_code == 201
    assert upload(api, space, "v2/a.txt?publish=1", version="2.0").status_code == 201
    assert upload(api, space, "v2/b.txt", version="2.0").status_code == 201
    package_id = row(space, "v1/a.txt").package_id
    repo_id = Repository.get(space.owner.name, space.repo).id

    url = f"/packages/{space.base}/{space.package}/versions/1.0"
    assert api.delete(url, space.owner.auth).status_code == 200
    assert list(File.version_index.query(f"{package_id}#1.0")) == []
    assert [f.path for f in File.query(repo_id)] == ["v2/a.txt", "v2/b.txt"]

    assert api.delete(f"/packages/{space.base}/{space.package}", space.owner.auth).status_code == 200
    assert list(File.package_index.query(package_id)) == []
    assert list(File.query(repo_id)) == []

    other = world.package(space.owner.name, space.repo)
    assert upload(api, Space(space.owner, space.repo, other), "r/x.txt?publish=1").status_code == 201
    assert len(list(File.query(repo_id))) == 1
    assert api.delete(f"/repos/{space.base}", space.owner.auth).status_code == 200
    assert list(File.query(repo_id)) == []


# --- Maven and Debian -------------------------------------------------------------------------


def test_maven_upload_creates_the_version_and_the_coordinates(api, world):
    owner = world.user()
    repo = world.repo(owner.name, type="maven")
    package = world.package(owner.name, repo)
    group = f"com.{unique('g').replace('-', '')}"
    path = f"{group.replace('.', '/')}/lib/1.2/lib-1.2.jar"
    url = f"/maven/{owner.name}/{repo}/{package}/{path}"
    response = api.put(url, owner.auth, data=b"jar")
    assert response.status_code == 201, response.text
    assert response.json() == SUCCESS
    version = api.get(f"/packages/{owner.name}/{repo}/{package}/versions/1.2", owner.auth)
    assert version.status_code == 200
    described = api.get(f"/packages/{owner.name}/{repo}/{package}", owner.auth).json()
    assert described["system_ids"] == [f"{group}:lib"]
    record = row(Space(owner, repo, package), path)
    assert (record.version, record.published) == ("1.2", False)
    # The package becomes public only with a published file; then Maven search finds it.
    pom = f"{group.replace('.', '/')}/lib/1.2/lib-1.2-sources.jar;publish=1"
    assert api.put(f"/maven/{owner.name}/{repo}/{package}/{pom}", owner.auth, data=b"src").status_code == 201
    assert row(Space(owner, repo, package), path.replace(".jar", "-sources.jar")).published is True
    found = api.get("/search/packages/maven", params={"g": group, "a": "lib"})
    assert found.status_code == 200
    assert [(p["name"], p["repo"], p["owner"]) for p in found.json()] == [(package, repo, owner.name)]
    assert found.json()[0]["system_ids"] == [f"{group}:lib"]


@pytest.mark.parametrize(
    "path",
    [
        "lib-1.0.jar",
        "com/acme/lib/1.0/other-1.0.jar",
        "com/acme/lib/1.0/lib-2.0.jar",
        "com/acme/lib/1.0/libx.jar",
        "lib/1.0/lib-1.0.jar",
    ],
)
def test_maven_upload_off_the_layout_is_400(api, world, path):
    owner = world.user()
    repo = world.repo(owner.name, type="maven")
    package = world.package(owner.name, repo)
    response = api.put(f"/maven/{owner.name}/{repo}/{package}/{path}", owner.auth, data=b"jar")
    assert response.status_code == 400, response.text
    assert response.json() == {"message": "Provided artifact path does not comply with Maven's convention"}
    assert list(File.query(Repository.get(owner.name, repo).id)) == []


def test_debian_repository_requires_coordinates_and_stores_them(api, world):
    owner = world.user()
    repo = world.repo(owner.name, type="debian")
    space = Space(owner, repo, world.package(owner.name, repo))
    response = upload(api, space, "pool/main/t/tool_1.0_amd64.deb", b"deb")
    assert response.status_code == 400
    assert "deb_distribution" in response.json()["message"]
    response = upload(api, space, "pool/x.deb;deb_distribution=wheezy;deb_component=main", b"deb")
    assert response.status_code == 400

    matrix = "pool/a.deb;deb_distribution=wheezy,jessie;deb_component=main;deb_architecture=i386,amd64"
    assert upload(api, space, matrix, b"deb-a").status_code == 201
    record = row(space, "pool/a.deb")
    assert record.deb_distribution == ["wheezy", "jessie"]
    assert record.deb_component == ["main"]
    assert record.deb_architecture == ["i386", "amd64"]

    headers = {
        "X-Bintray-Debian-Distribution": "stable",
        "X-Bintray-Debian-Component": "main, contrib",
        "X-Bintray-Debian-Architecture": "arm64",
    }
    assert upload(api, space, "pool/b.deb", b"deb-b", headers=headers).status_code == 201
    record = row(space, "pool/b.deb")
    assert (record.deb_distribution, record.deb_component, record.deb_architecture) == (
        ["stable"],
        ["main", "contrib"],
        ["arm64"],
    )


# --- listings, search, metadata ---------------------------------------------------------------


def test_file_listings_and_file_version_and_package(api, space):
    assert upload(api, space, "l/one.txt?publish=1", b"one", version="1.0").status_code == 201
    assert upload(api, space, "l/two.txt?publish=1", b"two", version="2.0").status_code == 201
    files = api.get(f"/packages/{space.base}/{space.package}/files").json()
    assert [(f["path"], f["version"]) for f in files] == [("l/one.txt", "1.0"), ("l/two.txt", "2.0")]
    first = files[0]
    assert set(first) == FILE_FIELDS
    assert first["name"] == "one.txt" and first["size"] == 3 and isinstance(first["size"], int)
    assert first["sha1"] == hashlib.sha1(b"one").hexdigest()
    assert first["created"].endswith("Z")
    versions = api.get(f"/packages/{space.base}/{space.package}/versions/2.0/files").json()
    assert [f["path"] for f in versions] == ["l/two.txt"]
    assert api.get(f"/file_version/{space.base}/l/two.txt").json()["name"] == "2.0"
    package = api.get(f"/file_package/{space.base}/l/two.txt").json()
    assert (package["name"], package["repo"], package["owner"]) == (
        space.package,
        space.repo,
        space.owner.name,
    )
    assert api.get(f"/file_version/{space.base}/l/nope.txt").status_code == 404


def test_file_search_by_name_with_wildcards_and_filters(api, world):
    tag = unique("srch").replace("-", "")
    owner = world.user()
    repos = [world.repo(owner.name), world.repo(owner.name)]
    for repo, name in (
        (repos[0], f"{tag}-alpha.txt"),
        (repos[0], f"{tag}-beta.txt"),
        (repos[1], f"{tag}-ALPHA.bin"),
    ):
        space = Space(owner, repo, world.package(owner.name, repo))
        assert upload(api, space, f"d/{name}?publish=1", name.encode()).status_code == 201

    def names(**params) -> list[str]:
        response = api.get("/search/file", params=params)
        assert response.status_code == 200, response.text
        return sorted(f["name"] for f in response.json())

    assert names(name=f"{tag}-*") == [f"{tag}-ALPHA.bin", f"{tag}-alpha.txt", f"{tag}-beta.txt"]
    assert names(name=f"{tag}-alph?.*") == [f"{tag}-ALPHA.bin", f"{tag}-alpha.txt"]
    assert names(name=f"{tag.upper()}-*.TXT") == [f"{tag}-alpha.txt", f"{tag}-beta.txt"]
    assert names(name=f"{tag}-*", repo=repos[1]) == [f"{tag}-ALPHA.bin"]
    assert names(name=f"{tag}-*", subject=owner.name, repo=repos[0]) == [
        f"{tag}-alpha.txt",
        f"{tag}-beta.txt",
    ]
    assert names(name=f"{tag}-*", subject="someone-else") == []
    assert names(name=f"{tag}-*", created_after="2000-01-01T00:00:00.000Z") != []
    assert names(name=f"{tag}-*", created_after="2999-01-01T00:00:00.000Z") == []
    assert len(names(name=f"{tag}-*", start_pos=1)) == 2
    assert (
        api.get("/search/file", params={"name": f"{tag}-*", "created_after": "yesterday"}).status_code == 400
    )
    assert api.get("/search/file").status_code == 400


def test_file_search_by_sha1(api, world, space):
    data = unique("sha").encode()
    sha1 = hashlib.sha1(data).hexdigest()
    assert upload(api, space, "s/one.bin?publish=1", data).status_code == 201
    private = world.repo(space.owner.name, private=True)
    other = Space(space.owner, private, world.package(space.owner.name, private))
    assert upload(api, other, "s/one.bin?publish=1", data).status_code == 201
    found = api.get("/search/file", params={"sha1": sha1.upper()}).json()
    assert [(f["repo"], f["path"], f["sha1"]) for f in found] == [(space.repo, "s/one.bin", sha1)]
    assert api.get("/search/file", params={"sha1": sha1, "repo": "other"}).json() == []


def test_file_metadata_list_in_downloads(api, world, space):
    assert upload(api, space, "meta.txt?publish=1").status_code == 201
    url = f"/file_metadata/{space.base}/meta.txt"
    response = api.put(url, space.owner.auth, json={"list_in_downloads": True})
    assert response.status_code == 200, response.text
    assert response.json() == SUCCESS
    assert row(space, "meta.txt").list_in_downloads is True
    assert api.put(url, space.owner.auth, json={"list_in_downloads": False}).status_code == 200
    assert row(space, "meta.txt").list_in_downloads is False
    response = api.put(url, space.owner.auth, json={"list_in_downloads": "perhaps"})
    assert response.status_code == 400 and "list_in_downloads" in response.json()["message"]
    assert api.put(url, world.user().auth, json={"list_in_downloads": True}).status_code == 403
    missing = api.put(
        f"/file_metadata/{space.base}/nope.txt", space.owner.auth, json={"list_in_downloads": True}
    )
    assert missing.status_code == 404


def raw_put(api, path: str, auth: tuple[str, str], data: bytes) -> int:
    """PUT a path exactly as written (requests would normalise ``..`` away)."""
    import base64

    parts = urlsplit(api.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    connection.request("PUT", path, body=data, headers={"Authorization": f"Basic {token}"})
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.parametrize("path", ["../x.txt", "a/../../x.txt", "a//b.txt", "a/./b.txt"])
def test_invalid_paths_are_400(api, space, path):
    url = f"/content/{space.base}/{space.package}/1.0/{path}"
    assert raw_put(api, url, space.owner.auth, b"x") == 400
    assert list(File.query(Repository.get(space.owner.name, space.repo).id)) == []


# --- integrity --------------------------------------------------------------------------------


def test_concurrent_uploads_to_one_new_path_leave_exactly_one_file(api, space, monkeypatch):
    repo = Repository.get(space.owner.name, space.repo)
    principal = Principal(name=space.owner.name)
    # Both uploads pass their checks before either writes its record: a real race, every time.
    barrier = threading.Barrier(2, timeout=10)
    original = storage.put_blob

    def racing_put_blob(data: bytes, sha256: str) -> str:
        barrier.wait()
        return original(data, sha256)

    monkeypatch.setattr(storage, "put_blob", racing_put_blob)
    outcomes: list[str] = []

    def worker(data: bytes) -> None:
        try:
            services.upload_bytes(principal, repo, Upload("race.bin", space.package, "1.0"), data)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("409")

    threads = [threading.Thread(target=worker, args=(data,)) for data in (b"first", b"second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes) == ["409", "ok"]
    rows = list(File.query(repo.id))
    assert [r.path for r in rows] == ["race.bin"]
    assert rows[0].sha256 in (hashlib.sha256(b"first").hexdigest(), hashlib.sha256(b"second").hexdigest())
    storage.s3().head_object(Bucket=settings().bucket, Key=storage.blob_key(rows[0].sha256))
    assert Package.get(repo.id, space.package).name == space.package


def test_failure_between_s3_and_dynamodb_leaves_no_record(api, space, monkeypatch):
    """The blob is written first; when the record cannot be written the blob stays unreferenced and
    the scheduled collector removes it later. Never a record without its object."""
    data = unique("orphan").encode()

    def broken_write(*args, **kwargs):
        raise RuntimeError("injected failure between S3 and DynamoDB")

    monkeypatch.setattr(services, "_write_record", broken_write)
    response = upload(api, space, "fail.bin", data)
    assert response.status_code == 500
    assert response.json() == {"message": "An internal server error occurred."}
    monkeypatch.undo()
    assert row(space, "fail.bin") is None
    sha256 = hashlib.sha256(data).hexdigest()
    assert list(File.sha256_index.query(sha256)) == []
    # The blob may remain; it is referenced by nothing, so the collector may delete it.
    storage.s3().head_object(Bucket=settings().bucket, Key=storage.blob_key(sha256))
    assert upload(api, space, "fail.bin", data).status_code == 201


def test_publish_that_runs_out_of_time_is_408_and_publishing_again_finishes(api, world, monkeypatch):
    from chalicelib.content import services as content_services

    user = world.user()
    repo = world.repo(user.name)
    pkg = world.package(user.name, repo)
    for name in ("a.txt", "b.txt", "c.txt"):
        assert (
            api.put(f"/content/{user.name}/{repo}/{pkg}/1.0/{name}", user.auth, data=b"x").status_code == 201
        )
    ticks = iter(range(0, 1000, 5))  # every clock reading is 5 s later than the one before
    monkeypatch.setattr(content_services, "clock", lambda: next(ticks))
    response = api.post(
        f"/content/{user.name}/{repo}/{pkg}/1.0/publish", user.auth, json={"publish_wait_for_secs": 7}
    )
    assert response.status_code == 408, response.text
    assert "1 of 3" in response.json()["message"]
    published = api.get(f"/packages/{user.name}/{repo}/{pkg}/versions/1.0/files").json()
    assert len(published) == 1
    monkeypatch.setattr(content_services, "clock", lambda: 0)
    response = api.post(
        f"/content/{user.name}/{repo}/{pkg}/1.0/publish", user.auth, json={"publish_wait_for_secs": -1}
    )
    assert response.json() == {"files": 2}
    assert len(api.get(f"/packages/{user.name}/{repo}/{pkg}/versions/1.0/files").json()) == 3
    bad = api.post(
        f"/content/{user.name}/{repo}/{pkg}/1.0/publish", user.auth, json={"publish_wait_for_secs": -5}
    )
    assert bad.status_code == 400


# --- publishing through an upload publishes the version ---------------------------------------


def test_maven_publish_on_the_last_file_publishes_the_versions_pom_too(api, world):
    owner = world.user()
    repo = world.repo(owner.name, type="maven")
    package = world.package(owner.name, repo)
    base = f"com/{unique('g').replace('-', '')}/lib/3.1"
    url = f"/maven/{owner.name}/{repo}/{package}/{base}"
    assert api.put(f"{url}/lib-3.1.pom", owner.auth, data=b"<project/>").status_code == 201
    assert api.get(f"/dl/{owner.name}/{repo}/{base}/lib-3.1.pom").status_code == 404  # not yet published
    assert api.put(f"{url}/lib-3.1.jar;publish=1", owner.auth, data=b"jar").status_code == 201
    for name, data in (("lib-3.1.pom", b"<project/>"), ("lib-3.1.jar", b"jar")):
        assert fetch(api, f"/dl/{owner.name}/{repo}/{base}/{name}").content == data  # anonymous, as Maven
    files = api.get(f"/packages/{owner.name}/{repo}/{package}/versions/3.1/files").json()
    assert sorted(f["path"] for f in files) == [f"{base}/lib-3.1.jar", f"{base}/lib-3.1.pom"]
    version = api.get(f"/packages/{owner.name}/{repo}/{package}/versions/3.1").json()
    assert version["published"] is True


def test_publish_header_on_an_upload_publishes_the_versions_earlier_files(api, space):
    assert upload(api, space, "early.txt", b"e", version="4.0").status_code == 201
    response = upload(api, space, "last.txt", b"l", version="4.0", headers={"X-Bintray-Publish": "1"})
    assert response.status_code == 201
    listing = api.get(f"/packages/{space.base}/{space.package}/versions/4.0/files").json()
    assert sorted(f["path"] for f in listing) == ["early.txt", "last.txt"]
    assert upload(api, space, "v5.txt", b"5", version="5.0").status_code == 201  # other versions: untouched
    assert upload(api, space, "v4b.txt?publish=1", b"b", version="4.0").status_code == 201
    assert row(space, "v5.txt").published is False


# --- quota_used_bytes ------------------------------------------------------------------------


def stored_bytes(api, user: User) -> int:
    """The sum of the sizes of every file of the user's repositories, read over the API."""
    total = 0
    for repo in api.get(f"/repos/{user.name}", user.auth).json():
        for package in api.get(f"/repos/{user.name}/{repo['name']}/packages", user.auth).json():
            url = f"/packages/{user.name}/{repo['name']}/{package['name']}/files"
            files = api.get(url, user.auth, params={"include_unpublished": 1}).json()
            total += sum(f["size"] for f in files)
    return total


def quota(api, user: User) -> int:
    return api.get(f"/users/{user.name}", user.auth).json()["quota_used_bytes"]


def test_quota_equals_the_stored_bytes_after_mixed_operations(api, world):
    from tests.test_explode import make_zip

    user = world.user()
    repos = [world.repo(user.name), world.repo(user.name)]
    spaces = [Space(user, repos[0], world.package(user.name, repos[0])) for _ in range(2)]
    spaces.append(Space(user, repos[1], world.package(user.name, repos[1])))
    first, second, third = spaces

    def check(expected: int) -> None:
        assert quota(api, user) == stored_bytes(api, user) == expected

    check(0)
    assert upload(api, first, "a.bin", b"a" * 100).status_code == 201
    assert upload(api, first, "a.bin", b"a" * 40).status_code == 201  # unpublished replace: 40, not 140
    check(40)
    # In another version: publishing through an upload publishes the whole version.
    assert upload(api, first, "p.bin?publish=1", b"p" * 50, version="2.0").status_code == 201
    assert upload(api, first, "p.bin;override=1", b"p" * 70, version="2.0").status_code == 201  # override
    assert upload(api, first, "p.bin", b"p" * 10, version="2.0").status_code == 409  # refused: no change
    check(110)
    headers = {"X-Bintray-Package": first.package, "X-Bintray-Version": "1.0", "X-Bintray-Explode": "1"}
    archive = make_zip({"z/one.txt": b"1" * 30, "a.bin": b"x" * 5})  # a.bin overrides the unpublished 40
    exploded = api.put(f"/content/{first.base}/bundle.zip", user.auth, data=archive, headers=headers)
    assert exploded.status_code == 201, exploded.text
    check(110 - 40 + 5 + 30)
    bad = archive[:40] + b"\xff" * 40 + archive[80:]
    assert (
        api.put(f"/content/{first.base}/bundle.zip", user.auth, data=bad, headers=headers).status_code == 400
    )
    check(105)
    assert upload(api, second, "v1/x.bin", b"x" * 11, version="1.0").status_code == 201
    assert upload(api, second, "v2/x.bin", b"x" * 13, version="2.0").status_code == 201
    assert upload(api, third, "t.bin", b"t" * 17).status_code == 201
    check(105 + 11 + 13 + 17)
    assert api.delete(f"/content/{first.base}/z/one.txt", user.auth).status_code == 200
    check(116)
    assert api.delete(f"/packages/{second.base}/{second.package}/versions/1.0", user.auth).status_code == 200
    check(105)
    assert api.delete(f"/packages/{second.base}/{second.package}", user.auth).status_code == 200
    check(92)
    assert api.delete(f"/repos/{third.base}", user.auth).status_code == 200
    check(75)


def test_purging_twice_counts_each_file_once(api, space):
    """A version's files purged by two cascades (version then package) leave the quota at zero."""
    assert upload(api, space, "t1.bin", b"1" * 9, version="7.0").status_code == 201
    record = row(space, "t1.bin")
    services.purge_version_files(record.package_id, "7.0")
    services._delete_records([record])  # a second cascade with the stale record: nothing more
    assert quota(api, space.owner) == stored_bytes(api, space.owner) == 0


def test_a_late_purge_spares_a_path_reused_by_another_version(api, space):
    assert upload(api, space, "re.bin", b"1" * 5, version="7.0").status_code == 201
    stale = row(space, "re.bin")
    assert api.delete(f"/content/{space.base}/re.bin", space.owner.auth).status_code == 200
    assert upload(api, space, "re.bin", b"2" * 8, version="8.0").status_code == 201
    assert services._delete_records([stale]) == 0  # e.g. version 7.0's cascade, read before the delete
    assert row(space, "re.bin").version == "8.0"
    assert quota(api, space.owner) == stored_bytes(api, space.owner) == 8
