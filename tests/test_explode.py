"""X-Bintray-Explode: a zip unpacks into the version; bad archives change nothing."""

from __future__ import annotations

import io
import zipfile

import requests

from chalicelib.content.models import File
from chalicelib.repositories.models import Repository


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def explode(api, user, repo, pkg, path, body, **headers):
    return api.put(
        f"/content/{user.name}/{repo}/{path}",
        user.auth,
        data=body,
        headers={"X-Bintray-Package": pkg, "X-Bintray-Version": "1.0", "X-Bintray-Explode": "1", **headers},
    )


def test_zip_unpacks_into_the_archive_directory(api, world):
    user = world.user()
    repo = world.repo(user.name)
    pkg = world.package(user.name, repo)
    body = make_zip({"a.txt": b"alpha", "sub/b.bin": b"\x00\x01beta"})
    response = explode(api, user, repo, pkg, "dist/bundle.zip", body, **{"X-Bintray-Publish": "1"})
    assert response.status_code == 201, response.text
    files = api.get(f"/packages/{user.name}/{repo}/{pkg}/versions/1.0/files").json()
    assert sorted(f["path"] for f in files) == ["dist/a.txt", "dist/sub/b.bin"]
    location = api.get(f"/dl/{user.name}/{repo}/dist/sub/b.bin").headers["Location"]
    assert requests.get(location, timeout=10).content == b"\x00\x01beta"
    assert api.get(f"/dl/{user.name}/{repo}/dist/bundle.zip").status_code == 404


def test_not_a_zip_is_400_and_stores_nothing(api, world):
    user = world.user()
    repo = world.repo(user.name)
    pkg = world.package(user.name, repo)
    response = explode(api, user, repo, pkg, "bundle.zip", b"plain text")
    assert response.status_code == 400
    assert set(response.json()) == {"message"}
    repo_id = Repository.get(user.name, repo).id
    assert list(File.query(repo_id)) == []


def test_entry_escaping_the_version_is_refused_before_anything_is_stored(api, world):
    user = world.user()
    repo = world.repo(user.name)
    pkg = world.package(user.name, repo)
    body = make_zip({"ok.txt": b"fine", "../../evil.txt": b"nope"})
    response = explode(api, user, repo, pkg, "dir/bundle.zip", body)
    assert response.status_code == 400, response.text
    repo_id = Repository.get(user.name, repo).id
    assert list(File.query(repo_id)) == []


def test_checksum_of_the_archive_is_verified(api, world):
    user = world.user()
    repo = world.repo(user.name)
    pkg = world.package(user.name, repo)
    body = make_zip({"a.txt": b"alpha"})
    response = explode(api, user, repo, pkg, "bundle.zip", body, **{"X-Checksum-Sha2": "0" * 64})
    assert response.status_code == 409
    assert list(File.query(Repository.get(user.name, repo).id)) == []
