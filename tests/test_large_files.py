"""Large files: a body above the Lambda payload limit never passes through the function. The upload
answers 307 to a presigned S3 PUT that clients following redirects resend to; S3 reports the object
through SQS and the upload-events function records the file; downloads are 302s to S3."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from pynamodb.exceptions import DoesNotExist
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import app as app_module
from chalicelib import queues, storage
from chalicelib.accounts.models import Subject
from chalicelib.content.large import LEASE, MAX_INLINE_UPLOAD, UploadInProgress
from chalicelib.content.models import File, PendingUpload
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import now
from infra.local.events import EventPump, _Context
from infra.local.gateway import LocalGateway
from tests.conftest import AWS_ENDPOINT, chalice_app

MIB = 1024 * 1024


@pytest.fixture
def pump() -> EventPump:
    pump = EventPump({queues.UPLOAD_EVENTS: app_module.upload_events})
    pump.drain()  # start from an empty queue
    return pump


@pytest.fixture
def target(world):
    """(user, repo, package) with publish rights; versions are created by the uploads."""
    user = world.user()
    repo = world.repo(user.name)
    return user, repo, world.package(user.name, repo)


def _random_file(folder: Path, mib: int) -> tuple[Path, str]:
    """A file of ``mib`` MiB of random bytes, written in 1 MiB chunks; returns (path, sha256)."""
    path = folder / f"blob-{mib}.bin"
    sha256 = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(mib):
            chunk = os.urandom(MIB)
            sha256.update(chunk)
            out.write(chunk)
    return path, sha256.hexdigest()


def _file(owner: str, repo: str, path: str) -> File | None:
    try:
        return File.get(Repository.get(owner, repo).id, path)
    except DoesNotExist:
        return None


def _upload_id(location: str) -> str:
    """The pending upload id of a presigned PUT URL (``.../uploads/<id>?...``)."""
    return urlsplit(location).path.rsplit("/", 1)[-1]


def _sha256_of_download(url: str) -> tuple[str, int]:
    sha256, size = hashlib.sha256(), 0
    with requests.get(url, stream=True, timeout=60) as response:
        assert response.status_code == 200
        for chunk in response.iter_content(MIB):
            sha256.update(chunk)
            size += len(chunk)
    return sha256.hexdigest(), size


class _Spy:
    """Stands for the Chalice app behind the gateway and keeps every event it was given."""

    def __init__(self, app):
        self.app, self.events = app, []

    def __getattr__(self, name):
        return getattr(self.app, name)

    def __call__(self, event, context):
        self.events.append(event)
        return self.app(event, context)


def test_64_mib_upload_with_requests_follows_307_and_downloads_through_302(api, target, pump, tmp_path):
    user, repo, package = target
    path, sha256 = _random_file(tmp_path, 64)
    url = f"{api.base_url}/content/{user.name}/{repo}/{package}/1.0/big/data.bin;publish=1"
    with path.open("rb") as body:
        response = requests.put(
            url, data=body, auth=user.auth, headers={"X-Checksum-Sha2": sha256}, timeout=120
        )
    assert [r.status_code for r in response.history] == [307]
    assert response.status_code == 200  # S3's answer to the resent PUT
    assert response.history[0].headers["Location"].startswith(f"{AWS_ENDPOINT}/")
    assert _file(user.name, repo, "big/data.bin") is None  # recorded by the event, not the request

    assert pump.drain() >= 1
    files = api.get(f"/packages/{user.name}/{repo}/{package}/versions/1.0/files").json()
    assert [(f["path"], f["size"], f["sha256"]) for f in files] == [("big/data.bin", 64 * MIB, sha256)]
    assert not storage.object_exists(storage.staged_key(_upload_id(response.history[0].headers["Location"])))

    download = api.get(f"/dl/{user.name}/{repo}/big/data.bin")
    assert download.status_code == 302
    assert _sha256_of_download(download.headers["Location"]) == (sha256, 64 * MIB)


def test_curl_upload_follows_307(api, target, pump, tmp_path):
    user, repo, package = target
    path, sha256 = _random_file(tmp_path, 6)
    url = f"{api.base_url}/content/{user.name}/{repo}/{package}/2.0/tool.tar.gz"
    result = subprocess.run(
        ["curl", "-sS", "-L", "-T", str(path), "-u", f"{user.name}:{user.key}", "-w", "%{http_code}", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("200")  # the last answer is S3's

    pump.drain()
    record = _file(user.name, repo, "tool.tar.gz")
    assert record is not None
    assert (int(record.size), record.sha256) == (6 * MIB, sha256)
    assert (record.version, record.published) == ("2.0", False)


def test_client_not_following_gets_307_with_a_message_and_nothing_is_stored(
    api, gateway, target, pump, monkeypatch
):
    user, repo, package = target
    spy = _Spy(gateway.app)
    monkeypatch.setattr(gateway, "app", spy)
    body = b"x" * (MAX_INLINE_UPLOAD + 1)
    response = api.put(f"/content/{user.name}/{repo}/{package}/1.0/a.bin", user.auth, data=body)

    assert response.status_code == 307
    assert "Upload the content to the Location URL" in response.json()["message"]
    assert "curl -L" in response.json()["message"]
    location = response.headers["Location"]
    assert urlsplit(location).path.endswith(f"/uploads/{_upload_id(location)}")
    # The function got the headers, never the body (as behind the Lambda payload limit).
    (event,) = spy.events
    assert event["body"] is None
    headers = {name.lower(): value for name, value in event["headers"].items()}  # HTTP API: lowercase
    assert int(headers["content-length"]) == len(body)

    assert pump.drain() == 0
    assert _file(user.name, repo, "a.bin") is None
    assert not storage.object_exists(storage.staged_key(_upload_id(location)))
    # The version exists (a publish right after the 307 must find it) and has no file.
    versions = api.get(f"/packages/{user.name}/{repo}/{package}/versions/1.0", user.auth)
    assert versions.status_code == 200
    files = api.get(
        f"/packages/{user.name}/{repo}/{package}/versions/1.0/files?include_unpublished=1", user.auth
    )
    assert files.json() == []
    assert PendingUpload.get(_upload_id(location)).state == "pending"


def test_small_upload_still_goes_through_the_function(api, gateway, target, monkeypatch):
    user, repo, package = target
    spy = _Spy(gateway.app)
    monkeypatch.setattr(gateway, "app", spy)
    body = b"y" * MAX_INLINE_UPLOAD
    response = api.put(f"/content/{user.name}/{repo}/{package}/1.0/small.bin", user.auth, data=body)
    assert response.status_code == 201
    assert spy.events[0]["body"] is not None
    assert int(_file(user.name, repo, "small.bin").size) == MAX_INLINE_UPLOAD


@pytest.mark.parametrize(
    ("who", "package", "status"),
    [("owner", "missing", 404), ("anonymous", None, 401), ("stranger", None, 403)],
)
def test_large_upload_is_validated_before_the_redirect(api, world, target, who, package, status):
    user, repo, existing = target
    auth = {"owner": user.auth, "anonymous": None, "stranger": world.user().auth}[who]
    body = b"z" * (MAX_INLINE_UPLOAD + 1)
    response = api.put(f"/content/{user.name}/{repo}/{package or existing}/1.0/v.bin", auth, data=body)
    assert response.status_code == status
    assert "Location" not in response.headers
    assert isinstance(response.json()["message"], str)


def test_large_upload_over_a_published_file_needs_override(api, target):
    user, repo, package = target
    small = api.put(f"/content/{user.name}/{repo}/{package}/1.0/p.bin;publish=1", user.auth, data=b"1")
    assert small.status_code == 201
    body = b"z" * (MAX_INLINE_UPLOAD + 1)
    response = api.put(f"/content/{user.name}/{repo}/{package}/1.0/p.bin", user.auth, data=body)
    assert response.status_code == 409
    assert "override" in response.json()["message"]
    override = api.put(f"/content/{user.name}/{repo}/{package}/1.0/p.bin;override=1", user.auth, data=body)
    assert override.status_code == 307


def test_wrong_checksum_records_nothing_and_removes_the_staged_object(api, target, pump):
    user, repo, package = target
    body = os.urandom(5 * MIB)
    url = f"{api.base_url}/content/{user.name}/{repo}/{package}/1.0/bad.bin"
    response = requests.put(url, data=body, auth=user.auth, headers={"X-Checksum-Sha2": "0" * 64}, timeout=60)
    assert response.status_code == 200  # S3 took it (local S3 checks no checksum; Shelf does)
    upload_id = _upload_id(response.history[0].headers["Location"])

    pump.drain()
    assert _file(user.name, repo, "bad.bin") is None
    assert not storage.object_exists(storage.staged_key(upload_id))
    pending = PendingUpload.get(upload_id)
    assert pending.state == "failed"
    assert "Checksum mismatch" in pending.reason


def _queued_upload_event(upload_id: str) -> dict:
    """The SQS event carrying S3's notification of ``uploads/<upload_id>`` (taken off the queue)."""
    client = queues.sqs()
    url = queues.queue_url(queues.UPLOAD_EVENTS)
    messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ours = [m for m in messages if upload_id in m["Body"]]  # the key is URL-encoded: uploads%2F<id>
    assert len(ours) == 1
    for message in messages:
        client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return {
        "Records": [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
            for m in ours
        ]
    }


def test_the_same_s3_event_twice_records_one_file(api, target, pump):
    user, repo, package = target
    body = os.urandom(5 * MIB)
    redirect = api.put(f"/content/{user.name}/{repo}/{package}/3.0/twice.bin", user.auth, data=body)
    assert redirect.status_code == 307
    upload_id = _upload_id(redirect.headers["Location"])
    assert requests.put(redirect.headers["Location"], data=body, timeout=60).status_code == 200
    event = _queued_upload_event(upload_id)
    assert json.loads(event["Records"][0]["body"])["Records"][0]["eventName"].startswith("ObjectCreated")
    quota_before = int(Subject.get(user.name).quota_used_bytes or 0)

    app_module.upload_events(event, _Context())
    first = _file(user.name, repo, "twice.bin")
    app_module.upload_events(event, _Context())
    second = _file(user.name, repo, "twice.bin")

    assert first is not None and second is not None
    assert (second.sha256, second.created) == (first.sha256, first.created)
    assert second.sha256 == hashlib.sha256(body).hexdigest()
    assert int(Subject.get(user.name).quota_used_bytes) == quota_before + len(body)
    assert PendingUpload.get(upload_id).state == "done"
    files = api.get(f"/packages/{user.name}/{repo}/{package}/files?include_unpublished=1", user.auth).json()
    assert [f["path"] for f in files] == ["twice.bin"]


def test_large_maven_upload_records_the_file_and_the_maven_coordinates(api, target, pump):
    user, repo, package = target
    body = os.urandom(5 * MIB)
    path = "org/example/big-lib/1.2/big-lib-1.2.jar"
    url = f"{api.base_url}/maven/{user.name}/{repo}/{package}/{path};publish=1"
    response = requests.put(url, data=body, auth=user.auth, timeout=60)
    assert [r.status_code for r in response.history] == [307]

    pump.drain()
    record = _file(user.name, repo, path)
    assert record is not None
    assert (record.version, record.published) == ("1.2", True)
    assert record.sha256 == hashlib.sha256(body).hexdigest()
    described = api.get(f"/packages/{user.name}/{repo}/{package}").json()
    assert "org.example:big-lib" in described["system_ids"]


def _gateway_request(data: bytes, with_length: bool) -> Request:
    environ = EnvironBuilder(method="PUT", path="/content/s/r/p/1/f.bin", data=data).get_environ()
    if not with_length:  # a chunked body: the gateway learns its size only by reading it
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True
    return Request(environ)


def test_gateway_drops_bodies_over_its_limit_and_refuses_unbounded_ones():
    gateway = LocalGateway(chalice_app, binary_media_types=["*/*"], max_body=10)
    event = gateway.event(_gateway_request(b"x" * 11, True), "/r", {})
    assert (event["body"], event["headers"]["Content-Length"]) == (None, "11")
    assert base64.b64decode(gateway.event(_gateway_request(b"x" * 10, True), "/r", {})["body"]) == b"x" * 10
    assert base64.b64decode(gateway.event(_gateway_request(b"x" * 10, False), "/r", {})["body"]) == b"x" * 10
    response = gateway.handle(_gateway_request(b"x" * 11, False))
    assert response.status_code == 413
    assert "Content-Length" in json.loads(response.get_data())["message"]
    assert LocalGateway(chalice_app).max_body == MAX_INLINE_UPLOAD  # the app redirects above the same size


def _staged(api, user, repo, package, name: str) -> tuple[str, dict, bytes]:
    """A large upload whose bytes are in S3: (upload id, the SQS event S3 sent, the bytes)."""
    body = os.urandom(5 * MIB)
    redirect = api.put(f"/content/{user.name}/{repo}/{package}/4.0/{name}", user.auth, data=body)
    assert redirect.status_code == 307
    upload_id = _upload_id(redirect.headers["Location"])
    assert requests.put(redirect.headers["Location"], data=body, timeout=60).status_code == 200
    return upload_id, _queued_upload_event(upload_id), body


def test_a_crash_while_finishing_loses_nothing_and_the_retry_records_the_file(api, target, pump, monkeypatch):
    user, repo, package = target
    upload_id, event, body = _staged(api, user, repo, package, "crash.bin")

    def broken_copy(key: str, sha256: str) -> str:
        raise RuntimeError("S3 copy failed")

    with monkeypatch.context() as patch:
        patch.setattr(storage, "adopt_staged", broken_copy)
        with pytest.raises(RuntimeError):
            app_module.upload_events(event, _Context())
    assert _file(user.name, repo, "crash.bin") is None
    assert PendingUpload.get(upload_id).state == "pending"  # given back for the retry
    assert storage.object_exists(storage.staged_key(upload_id))

    app_module.upload_events(event, _Context())  # SQS delivers the event again
    record = _file(user.name, repo, "crash.bin")
    assert record is not None and record.sha256 == hashlib.sha256(body).hexdigest()
    assert storage.object_exists(storage.blob_key(record.sha256))


def test_an_upload_being_finished_elsewhere_is_retried_later(api, target, pump):
    user, repo, package = target
    upload_id, event, _ = _staged(api, user, repo, package, "busy.bin")
    PendingUpload.get(upload_id).update(
        actions=[PendingUpload.state.set("processing"), PendingUpload.lease_until.set(now() + LEASE)]
    )
    with pytest.raises(UploadInProgress):  # Lambda leaves the message on the queue for a later try
        app_module.upload_events(event, _Context())
    assert _file(user.name, repo, "busy.bin") is None


# --- publishing covers pending large uploads; their state is visible -----------------------------


def _uploads(api, user, repo, package, version: str, **params) -> list[dict]:
    url = f"/packages/{user.name}/{repo}/{package}/versions/{version}/uploads"
    response = api.get(url, user.auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _published_paths(api, user, repo, package, version: str) -> list[str]:
    """What anyone sees of the version (published files only)."""
    return [
        f["path"] for f in api.get(f"/packages/{user.name}/{repo}/{package}/versions/{version}/files").json()
    ]


def _publish(api, user, repo, package, version: str, **body):
    return api.post(f"/content/{user.name}/{repo}/{package}/{version}/publish", user.auth, json=body)


def _stage_only(api, user, repo, package, version: str, name: str, size: int = 5 * MIB) -> tuple[str, bytes]:
    """A large upload answered with its 307 whose bytes are not sent yet: (Location, the bytes)."""
    body = os.urandom(size)
    redirect = api.put(f"/content/{user.name}/{repo}/{package}/{version}/{name}", user.auth, data=body)
    assert redirect.status_code == 307, redirect.text
    return redirect.headers["Location"], body


def test_publish_right_after_a_large_upload_publishes_it_when_it_finishes(api, target, pump):
    user, repo, package = target
    assert (
        api.put(f"/content/{user.name}/{repo}/{package}/5.0/small.txt", user.auth, data=b"s").status_code
        == 201
    )
    body = os.urandom(5 * MIB)
    url = f"{api.base_url}/content/{user.name}/{repo}/{package}/5.0/big.bin"
    assert requests.put(url, data=body, auth=user.auth, timeout=60).status_code == 200
    (upload,) = _uploads(api, user, repo, package, "5.0")
    assert (upload["path"], upload["state"], upload["size"], upload["reason"]) == (
        "big.bin",
        "pending",
        len(body),
        None,
    )

    response = _publish(api, user, repo, package, "5.0")  # no wait: the large file is still on its way
    assert response.status_code == 200, response.text
    assert response.json() == {"files": 2}
    assert _published_paths(api, user, repo, package, "5.0") == ["small.txt"]

    assert pump.drain() >= 1
    assert _published_paths(api, user, repo, package, "5.0") == ["big.bin", "small.txt"]
    assert api.get(f"/dl/{user.name}/{repo}/big.bin").status_code == 302  # anonymous: it is published
    assert [u["state"] for u in _uploads(api, user, repo, package, "5.0", path="big.bin")] == ["done"]
    assert _uploads(api, user, repo, package, "5.0", path="other.bin") == []


def test_a_large_upload_begun_after_a_publish_stays_unpublished(api, target, pump):
    user, repo, package = target
    assert (
        api.put(f"/content/{user.name}/{repo}/{package}/5.1/a.txt", user.auth, data=b"a").status_code == 201
    )
    assert _publish(api, user, repo, package, "5.1").json() == {"files": 1}
    location, body = _stage_only(api, user, repo, package, "5.1", "later.bin")
    assert requests.put(location, data=body, timeout=60).status_code == 200
    pump.drain()
    assert _published_paths(api, user, repo, package, "5.1") == ["a.txt"]
    assert _file(user.name, repo, "later.bin").published is False


def test_publish_with_wait_returns_once_the_pending_upload_is_published(api, target, pump):
    user, repo, package = target
    location, body = _stage_only(api, user, repo, package, "6.0", "waited.bin")
    assert requests.put(location, data=body, timeout=60).status_code == 200

    def finish_soon() -> None:
        import time

        time.sleep(0.5)
        pump.drain()

    finisher = threading.Thread(target=finish_soon)
    finisher.start()
    response = _publish(api, user, repo, package, "6.0", publish_wait_for_secs=20)
    finisher.join(30)
    assert response.status_code == 200, response.text
    assert response.json() == {"files": 1}
    assert _published_paths(api, user, repo, package, "6.0") == ["waited.bin"]


def test_publish_wait_times_out_with_408_and_the_upload_is_still_published_later(api, target, pump):
    user, repo, package = target
    assert (
        api.put(f"/content/{user.name}/{repo}/{package}/6.1/a.txt", user.auth, data=b"a").status_code == 201
    )
    location, body = _stage_only(api, user, repo, package, "6.1", "slow.bin")
    response = _publish(api, user, repo, package, "6.1", publish_wait_for_secs=1)
    assert response.status_code == 408, response.text
    assert "1 of 2 files" in response.json()["message"]
    assert "1 large upload" in response.json()["message"]
    assert _published_paths(api, user, repo, package, "6.1") == ["a.txt"]

    assert requests.put(location, data=body, timeout=60).status_code == 200  # the bytes come late
    pump.drain()
    assert _published_paths(api, user, repo, package, "6.1") == ["a.txt", "slow.bin"]


def test_a_failed_large_upload_is_not_waited_for_nor_counted(api, target, pump):
    user, repo, package = target
    body = os.urandom(5 * MIB)
    url = f"{api.base_url}/content/{user.name}/{repo}/{package}/6.2/bad.bin"
    response = requests.put(url, data=body, auth=user.auth, headers={"X-Checksum-Sha2": "0" * 64}, timeout=60)
    assert response.status_code == 200
    pump.drain()
    (upload,) = _uploads(api, user, repo, package, "6.2")
    assert upload["state"] == "failed" and "Checksum mismatch" in upload["reason"]
    response = _publish(api, user, repo, package, "6.2", publish_wait_for_secs=5)
    assert response.status_code == 200 and response.json() == {"files": 0}


def test_size_mismatch_is_refused_visibly(api, target, pump):
    user, repo, package = target
    location, body = _stage_only(api, user, repo, package, "6.3", "short.bin")
    sent = requests.put(location, data=body[:-1024], timeout=60)
    # Deployed, S3 refuses a length other than the signed one; the local S3 takes it and Shelf checks.
    assert sent.status_code == 200
    pump.drain()
    (upload,) = _uploads(api, user, repo, package, "6.3")
    assert upload["state"] == "failed"
    assert (
        upload["reason"]
        == f"Size mismatch: Content-Length was {len(body)} but {len(body) - 1024} bytes arrived"
    )
    assert _file(user.name, repo, "short.bin") is None


def test_uploads_of_a_version_need_the_publish_right(api, world, target):
    user, repo, package = target
    _stage_only(api, user, repo, package, "6.4", "x.bin")
    url = f"/packages/{user.name}/{repo}/{package}/versions/6.4/uploads"
    assert api.get(url).status_code == 401
    assert api.get(url, world.user().auth).status_code == 403
    missing = api.get(f"/packages/{user.name}/{repo}/{package}/versions/none/uploads", user.auth)
    assert missing.status_code == 404 and set(missing.json()) == {"message"}


def _publish_counted(api, user, repo, package, version: str, answers: list) -> None:
    response = _publish(api, user, repo, package, version)
    answers.append((response.status_code, response.json()))


def test_publish_between_recording_and_settling_the_upload_keeps_it_published(api, target, pump, monkeypatch):
    """The finisher has recorded the (unpublished) file; the publish runs before the finisher takes
    the upload off its version: the file ends published, counted once."""
    from chalicelib.content import services as content_services

    user, repo, package = target
    upload_id, event, _ = _staged(api, user, repo, package, "race-a.bin")
    answers: list = []
    original = content_services.end_pending_upload

    def publish_first(version_key: str, pending_id: str):
        _publish_counted(api, user, repo, package, "4.0", answers)
        return original(version_key, pending_id)

    monkeypatch.setattr(content_services, "end_pending_upload", publish_first)
    app_module.upload_events(event, _Context())
    assert answers == [(200, {"files": 1})]
    assert _published_paths(api, user, repo, package, "4.0") == ["race-a.bin"]
    assert PendingUpload.get(upload_id).state == "done"


def test_upload_finishing_while_a_publish_runs_keeps_it_published(api, target, pump, monkeypatch):
    """The publish has counted itself on the version and read its files (the large one not among them
    yet); the whole finisher runs before the publish goes on: the finisher publishes the file, and the
    publish counts it."""
    from chalicelib.content import services as content_services

    user, repo, package = target
    upload_id, event, _ = _staged(api, user, repo, package, "race-b.bin")
    original = content_services.unpublished_files
    seen: list[list[str]] = []

    def finish_after_reading(found, version):
        files = original(found, version)
        if not seen:
            seen.append([f.path for f in files])
            app_module.upload_events(event, _Context())
        return files

    monkeypatch.setattr(content_services, "unpublished_files", finish_after_reading)
    response = _publish(api, user, repo, package, "4.0")
    assert seen == [[]]  # the publish did not see the file: only the finisher can publish it
    assert response.status_code == 200, response.text
    assert response.json() == {"files": 1}
    assert _published_paths(api, user, repo, package, "4.0") == ["race-b.bin"]
    assert PendingUpload.get(upload_id).state == "done"


def test_large_jar_with_publish_publishes_the_versions_pom_too(api, world, pump):
    user = world.user()
    repo = world.repo(user.name, type="maven")
    package = world.package(user.name, repo)
    base = "org/example/lib/2.0"
    pom = api.put(f"/maven/{user.name}/{repo}/{package}/{base}/lib-2.0.pom", user.auth, data=b"<project/>")
    assert pom.status_code == 201
    url = f"{api.base_url}/maven/{user.name}/{repo}/{package}/{base}/lib-2.0.jar;publish=1"
    assert requests.put(url, data=os.urandom(5 * MIB), auth=user.auth, timeout=60).status_code == 200
    assert _published_paths(api, user, repo, package, "2.0") == []
    pump.drain()
    assert _published_paths(api, user, repo, package, "2.0") == [f"{base}/lib-2.0.jar", f"{base}/lib-2.0.pom"]
    for name in ("lib-2.0.jar", "lib-2.0.pom"):
        assert api.get(f"/dl/{user.name}/{repo}/{base}/{name}").status_code == 302


def test_quota_counts_large_uploads_once_and_not_failed_ones(api, target, pump):
    from tests.test_content import quota, stored_bytes

    user, repo, package = target
    url = f"{api.base_url}/content/{user.name}/{repo}/{package}/8.0/q.bin"
    assert requests.put(url, data=os.urandom(5 * MIB), auth=user.auth, timeout=60).status_code == 200
    pump.drain()
    assert quota(api, user) == stored_bytes(api, user) == 5 * MIB
    replacement = os.urandom(5 * MIB + 7)  # an unpublished file is replaced freely: counted once
    assert requests.put(url, data=replacement, auth=user.auth, timeout=60).status_code == 200
    failed = requests.put(
        url, data=replacement, auth=user.auth, headers={"X-Checksum-Sha2": "0" * 64}, timeout=60
    )
    assert failed.status_code == 200
    pump.drain()
    assert quota(api, user) == stored_bytes(api, user) == 5 * MIB + 7
    assert api.delete(f"/packages/{user.name}/{repo}/{package}/versions/8.0", user.auth).status_code == 200
    assert quota(api, user) == stored_bytes(api, user) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5000000", 5000000),
        (" 12 ", 12),
        ("²", None),
        ("١٢", None),
        ("9" * 5000, None),
        ("", None),
        ("-1", None),
    ],
)
def test_content_length_takes_plain_ascii_numbers_only(value, expected):
    """A header ``str.isdigit`` accepts but ``int`` refuses (or a huge one) is no Content-Length."""
    from chalicelib.content.large import content_length

    assert content_length({"content-length": value}) == expected
