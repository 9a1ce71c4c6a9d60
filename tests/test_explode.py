"""X-Bintray-Explode: a zip unpacks into the version; bad archives change nothing."""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile

import pytest
import requests

from chalicelib.content.models import File
from chalicelib.errors import Conflict
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


def stored_zip(entries: dict[str, bytes]) -> bytes:
    """A zip whose entries are stored uncompressed (their bytes appear as they are)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def corrupt_entry(body: bytes, needle: bytes) -> bytes:
    """``body`` with the stored bytes ``needle`` of one entry changed: its CRC no longer matches."""
    assert body.count(needle) == 1
    return body.replace(needle, needle[::-1])


def garbled(body: bytes) -> bytes:
    """``body`` with bytes of its first entry's header and data overwritten; the directory is intact."""
    return body[:30] + b"\xff" * 40 + body[70:]


def duplicate_entries() -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        archive.writestr("a.txt", b"first")
        archive.writestr("b.txt", b"other")
        archive.writestr("a.txt", b"second")
    return buffer.getvalue()


def quota(api, user) -> int:
    return api.get(f"/users/{user.name}", user.auth).json()["quota_used_bytes"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (garbled(make_zip({"a.txt": b"alpha" * 50, "b.txt": b"beta" * 50})), "damaged"),
        (make_zip({"a.txt": b"alpha" * 50})[:-30], "zip"),
        (
            corrupt_entry(stored_zip({"a.txt": b"fine", "b.txt": b"0123456789"}), b"0123456789"),
            "b.txt",
        ),
        (duplicate_entries(), "a.txt"),
    ],
    ids=["garbled", "truncated", "bad-crc", "duplicates"],
)
def test_bad_archive_is_refused_whole_and_stores_nothing(api, world, body, words):
    user = world.user()
    repo = world.repo(user.name)
    pkg = world.package(user.name, repo)
    assert (
        api.put(f"/content/{user.name}/{repo}/{pkg}/1.0/keep.txt", user.auth, data=b"kept").status_code == 201
    )
    before = quota(api, user)
    response = explode(api, user, repo, pkg, "dist/bundle.zip", body)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"message"} and words in response.json()["message"]
    repo_id = Repository.get(user.name, repo).id
    assert [f.path for f in File.query(repo_id)] == ["keep.txt"]
    assert quota(api, user) == before == 4
    for data in (b"fine", b"first", b"second", b"other"):  # no entry's blob is referenced from here
        found = File.sha256_index.query(hashlib.sha256(data).hexdigest())
        assert [f.path for f in found if f.repo_id == repo_id] == []


def test_a_failure_half_way_takes_back_what_was_written(api, world, monkeypatch):
    """Another upload lands on one of the archive's paths while it is being recorded: 409, and the
    entries recorded before are taken back (the file they replaced restored, the quota as before)."""
    from chalicelib.content import explode as explode_module

    user = world.user()
    repo = world.repo(user.name)
    pkg = world.package(user.name, repo)
    assert (
        api.put(f"/content/{user.name}/{repo}/{pkg}/1.0/a.txt", user.auth, data=b"old a").status_code == 201
    )
    before = quota(api, user)
    original = explode_module.store
    calls: list[str] = []

    def store_then_collide(principal, repository, package, entry, data, replaced):
        calls.append(entry.path)
        if entry.path == "c.txt":
            raise Conflict("'c.txt' was changed by another upload at the same time")
        return original(principal, repository, package, entry, data, replaced)

    monkeypatch.setattr(explode_module, "store", store_then_collide)
    body = make_zip({"a.txt": b"new a", "b.txt": b"new b", "c.txt": b"new c"})
    response = explode(api, user, repo, pkg, "bundle.zip", body, **{"X-Bintray-Publish": "1"})
    assert response.status_code == 409, response.text
    assert calls == ["a.txt", "b.txt", "c.txt"]
    repo_id = Repository.get(user.name, repo).id
    rows = list(File.query(repo_id))
    assert [(r.path, r.sha256, r.published) for r in rows] == [
        ("a.txt", hashlib.sha256(b"old a").hexdigest(), False)
    ]
    assert quota(api, user) == before
