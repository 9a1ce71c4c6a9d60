"""Blob collection: unreferenced content is deleted once older than the grace period; referenced and
fresh content is kept. (The collector sees the whole shared bucket; each test checks its own blobs.)"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest

from chalicelib import storage
from chalicelib.config import settings
from chalicelib.content import gc, services
from chalicelib.content.gc import collect_unreferenced_blobs


def _exists(sha256: str) -> bool:
    try:
        storage.s3().head_object(Bucket=settings().bucket, Key=storage.blob_key(sha256))
    except storage.s3().exceptions.ClientError:
        return False
    return True


@pytest.fixture
def scene(api, world):
    user = world.user()
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    return user, repo, package


def _upload(api, user, repo, package, path: str, data: bytes):
    return api.put(f"/content/{user.name}/{repo}/{package}/1.0/{path}", user.auth, data=data)


def test_shared_blob_is_kept_until_its_last_file_is_deleted(api, scene):
    user, repo, package = scene
    data = os.urandom(64)
    sha = hashlib.sha256(data).hexdigest()
    assert _upload(api, user, repo, package, "a.bin", data).status_code == 201
    assert _upload(api, user, repo, package, "b.bin", data).status_code == 201
    assert api.delete(f"/content/{user.name}/{repo}/a.bin", user.auth).status_code == 200
    result = collect_unreferenced_blobs(grace=timedelta(0))
    assert sha not in result.blobs
    assert _exists(sha)
    assert api.get(f"/content/{user.name}/{repo}/b.bin", user.auth).status_code == 302
    assert api.delete(f"/content/{user.name}/{repo}/b.bin", user.auth).status_code == 200
    assert sha in collect_unreferenced_blobs(grace=timedelta(0)).blobs
    assert not _exists(sha)
    # Idempotent: a second run finds nothing more of ours to remove.
    assert sha not in collect_unreferenced_blobs(grace=timedelta(0)).blobs


def test_fresh_orphan_blob_is_kept_within_the_grace(scene):
    data = os.urandom(64)
    sha = hashlib.sha256(data).hexdigest()
    storage.put_blob(data, sha)
    assert sha not in collect_unreferenced_blobs(grace=timedelta(hours=1)).blobs
    assert _exists(sha)
    assert sha in collect_unreferenced_blobs(grace=timedelta(0)).blobs
    assert not _exists(sha)


def test_blob_without_record_after_a_failure_between_s3_and_dynamodb_is_collected(api, scene, monkeypatch):
    user, repo, package = scene
    data = os.urandom(64)
    sha = hashlib.sha256(data).hexdigest()

    def failing_store(*args, **kwargs):
        raise RuntimeError("injected: DynamoDB unreachable after the S3 write")

    monkeypatch.setattr(services, "store", failing_store)
    response = _upload(api, user, repo, package, "lost.bin", data)
    assert response.status_code == 500
    monkeypatch.undo()
    assert _exists(sha)  # the bytes reached S3 ...
    assert api.get(f"/content/{user.name}/{repo}/lost.bin", user.auth).status_code == 404  # ... no record
    assert sha in collect_unreferenced_blobs(grace=timedelta(0)).blobs
    assert not _exists(sha)
    # The upload, retried, works again from scratch.
    assert _upload(api, user, repo, package, "lost.bin", data).status_code == 201
    assert _exists(sha)
    assert api.get(f"/content/{user.name}/{repo}/lost.bin", user.auth).status_code == 302


def test_referenced_blob_is_never_collected(api, scene):
    user, repo, package = scene
    data = os.urandom(64)
    sha = hashlib.sha256(data).hexdigest()
    assert _upload(api, user, repo, package, "kept.bin", data).status_code == 201
    assert sha not in collect_unreferenced_blobs(grace=timedelta(0)).blobs
    assert _exists(sha)


def test_staged_upload_is_removed_only_after_a_day(scene, monkeypatch):
    client, bucket = storage.s3(), settings().bucket
    key = f"{storage.UPLOAD_PREFIX}gc-test/{os.urandom(6).hex()}"
    client.put_object(Bucket=bucket, Key=key, Body=b"partial")
    assert key not in collect_unreferenced_blobs(grace=timedelta(0)).staged  # younger than a day
    client.head_object(Bucket=bucket, Key=key)
    later = gc.now() + timedelta(days=1, minutes=1)
    monkeypatch.setattr(gc, "now", lambda: later)
    assert key in collect_unreferenced_blobs(grace=timedelta(hours=1)).staged
    with pytest.raises(client.exceptions.ClientError):
        client.head_object(Bucket=bucket, Key=key)
