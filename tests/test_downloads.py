"""Download events: every download is recorded exactly once (with daily aggregates), even when SQS
delivers a message twice."""

from __future__ import annotations

import json
import uuid

import pytest

import app as app_module
from chalicelib import queues
from chalicelib.repositories.models import Repository
from chalicelib.stats.downloads import consume
from chalicelib.stats.models import DailyDownloads, DownloadEvent, file_key, version_key
from infra.local.events import EventPump


@pytest.fixture
def pump() -> EventPump:
    pump = EventPump({queues.DOWNLOAD_EVENTS: app_module.download_events})
    pump.drain()  # start from an empty queue
    return pump


@pytest.fixture
def published(api, world):
    """A published file in a public repository: (user, repo, package, version, path)."""
    user = world.user()
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    path = f"dir/{uuid.uuid4().hex[:8]}.bin"
    response = api.put(
        f"/content/{user.name}/{repo}/{package}/1.0/{path};publish=1", user.auth, data=b"x" * 1000
    )
    assert response.status_code == 201, response.text
    return user, repo, package, "1.0", path


def _events(path: str) -> list[DownloadEvent]:
    return list(DownloadEvent.scan(DownloadEvent.path == path))


def _repo_id(owner: str, repo: str) -> str:
    return Repository.get(owner, repo).id


def _daily(key: str, date: str) -> DailyDownloads:
    return DailyDownloads.get(key, date)


def _queued_event() -> tuple[dict, list[dict]]:
    """Every message queued for the download consumer, as one Lambda SQS event (not deleted)."""
    client = queues.sqs()
    url = queues.queue_url(queues.DOWNLOAD_EVENTS)
    messages: list[dict] = []
    while True:
        batch = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        messages += batch
    records = [
        {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
        for m in messages
    ]
    return {"Records": records}, messages


def _delete(messages: list[dict]) -> None:
    client = queues.sqs()
    url = queues.queue_url(queues.DOWNLOAD_EVENTS)
    for message in messages:
        client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_anonymous_download_is_recorded_once_with_its_daily_count(api, published, pump):
    user, repo, package, version, path = published
    response = api.get(f"/dl/{user.name}/{repo}/{path}")
    assert response.status_code == 302
    assert _events(path) == []  # nothing written synchronously by the request
    assert pump.drain() >= 1
    [event] = _events(path)
    assert event.user is None
    assert event.access_key is None
    assert event.callback_id is None
    assert event.ip == "127.0.0.1"
    assert (event.owner, event.repo, event.package, event.version, event.path) == (
        user.name,
        repo,
        package,
        version,
        path,
    )
    assert event.size == 1000
    date = event.at.strftime("%Y-%m-%d")
    repo_id = _repo_id(user.name, repo)
    daily_file = _daily(file_key(repo_id, path), date)
    assert (daily_file.downloads, daily_file.bytes, daily_file.path) == (1, 1000, path)
    daily_version = _daily(version_key(repo_id, package, version), date)
    assert (daily_version.downloads, daily_version.version) == (1, version)
    assert pump.drain() == 0


def test_a_redelivered_message_changes_nothing(api, published, pump):
    user, repo, package, version, path = published
    assert api.get(f"/dl/{user.name}/{repo}/{path}").status_code == 302
    event, messages = _queued_event()
    assert len(event["Records"]) == 1
    app_module.download_events(event, None)
    app_module.download_events(event, None)  # SQS delivers at least once
    _delete(messages)
    [recorded] = _events(path)
    date = recorded.at.strftime("%Y-%m-%d")
    repo_id = _repo_id(user.name, repo)
    assert _daily(file_key(repo_id, path), date).downloads == 1
    assert _daily(version_key(repo_id, package, version), date).downloads == 1


def test_a_batch_mixing_new_and_redelivered_events_counts_only_the_new(api, published, pump):
    user, repo, package, version, path = published
    assert api.get(f"/dl/{user.name}/{repo}/{path}").status_code == 302
    first, first_messages = _queued_event()
    assert consume(first) == 1
    for _ in range(2):
        assert api.get(f"/dl/{user.name}/{repo}/{path}").status_code == 302
    second, second_messages = _queued_event()
    # The old message again, twice in one batch, with the two new ones.
    mixed = {"Records": first["Records"] * 2 + second["Records"]}
    assert consume(mixed) == 2
    assert consume(mixed) == 0
    _delete(first_messages + second_messages)
    assert len(_events(path)) == 3
    date = _events(path)[0].at.strftime("%Y-%m-%d")
    daily = _daily(file_key(_repo_id(user.name, repo), path), date)
    assert (daily.downloads, daily.bytes) == (3, 3000)


def test_n_downloads_count_n(api, published, pump):
    user, repo, package, version, path = published
    for _ in range(13):
        assert api.get(f"/dl/{user.name}/{repo}/{path}").status_code == 302
    assert pump.drain() == 13
    events = _events(path)
    assert len(events) == 13
    assert len({e.id for e in events}) == 13
    date = events[0].at.strftime("%Y-%m-%d")
    repo_id = _repo_id(user.name, repo)
    assert _daily(file_key(repo_id, path), date).downloads == 13
    assert _daily(version_key(repo_id, package, version), date).downloads == 13


def test_authenticated_download_records_the_user(api, world, published, pump):
    user, repo, package, version, path = published
    reader = world.user()
    assert api.get(f"/dl/{user.name}/{repo}/{path}", reader.auth).status_code == 302
    assert api.get(f"/content/{user.name}/{repo}/{path}", user.auth).status_code == 302
    pump.drain()
    users = sorted(e.user for e in _events(path))
    assert users == sorted([reader.name, user.name])


def test_a_refused_download_records_nothing(api, published, pump):
    user, repo, package, version, path = published
    assert api.get(f"/dl/{user.name}/{repo}/{path}.missing").status_code == 404
    pump.drain()
    assert _events(path + ".missing") == []


def test_the_callback_of_a_signed_download_is_called_once(published, monkeypatch):
    signing = pytest.importorskip("chalicelib.content.signing")
    user, repo, package, version, path = published
    calls: list[dict] = []
    monkeypatch.setattr(signing, "perform_callback", lambda event: calls.append(dict(event)))
    body = {
        "id": f"req-{uuid.uuid4().hex}",
        "at": "2026-11-24T10:00:00.000Z",
        "user": None,
        "callback_id": "cb-7",
        "callback_url": "https://hooks.example.com/%callback_id",
        "ip": "10.1.2.3",
        "owner": user.name,
        "repo": repo,
        "repo_id": _repo_id(user.name, repo),
        "package": package,
        "version": version,
        "path": path,
        "size": 1000,
    }
    event = {"Records": [{"messageId": "m-1", "body": json.dumps(body)}]}
    assert consume(event) == 1
    assert consume(event) == 0
    assert [(c["callback_id"], c["callback_url"], c["path"]) for c in calls] == [
        ("cb-7", "https://hooks.example.com/%callback_id", path)
    ]
    assert DownloadEvent.get(body["id"]).callback_id == "cb-7"
