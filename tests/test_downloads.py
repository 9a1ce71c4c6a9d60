"""Download events: a download publishes one ``Downloaded`` event (one SQS message, nothing written by
the request); the statistics recorder writes each event exactly once, even when SQS delivers a
message twice, with its country, ingest bucket and expiry."""

from __future__ import annotations

import uuid

import pytest

from chalicelib import events
from chalicelib.events import Downloaded
from chalicelib.stats.models import PENDING_KEY, SHARDS, DownloadEvent, Stat
from chalicelib.timefmt import now


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


def _batch(queued: list[events.Event]) -> dict:
    """The queued events as one SQS batch of the events queue."""
    return {"Records": [{"messageId": e.id, "body": e.to_json()} for e in queued]}


def _downloads(queued: list[events.Event]) -> list[Downloaded]:
    return [e for e in queued if isinstance(e, Downloaded)]


def test_a_download_publishes_one_event_and_writes_nothing(api, published, queued_events):
    user, repo, package, version, path = published
    queued_events.clear()
    headers = {"X-Forwarded-For": "81.2.69.160"}  # GB in the offline database
    assert api.get(f"/dl/{user.name}/{repo}/{path}", headers=headers).status_code == 302
    [event] = queued_events
    assert isinstance(event, Downloaded)
    assert (event.owner, event.repo, event.package, event.version, event.path, event.size) == (
        user.name,
        repo,
        package,
        version,
        path,
        1000,
    )
    assert event.user is None and event.ip == "81.2.69.160" and event.repo_id
    with pytest.raises(DownloadEvent.DoesNotExist):
        DownloadEvent.get(event.id)  # nothing written synchronously by the request
    assert events.consume(_batch(queued_events)) == 1
    row = DownloadEvent.get(event.id)
    assert row.country == "GB"
    assert row.user is None and row.access_key is None and row.size == 1000
    bucket, shard = row.bucket.split("#")
    assert 0 <= int(shard) < SHARDS
    assert Stat.get(PENDING_KEY, row.bucket)  # the rollup will find the bucket
    assert row.expires_at > now()


def test_a_redelivered_batch_changes_nothing(api, world, published, queued_events):
    user, repo, package, version, path = published
    reader = world.user()
    queued_events.clear()
    assert api.get(f"/dl/{user.name}/{repo}/{path}", reader.auth).status_code == 302
    assert api.get(f"/content/{user.name}/{repo}/{path}", user.auth).status_code == 302
    batch = _batch(queued_events)
    ids = [e.id for e in _downloads(queued_events)]
    events.consume(batch)
    first = {i: DownloadEvent.get(i).bucket for i in ids}
    # Delivered again, and once more mixed with itself: same rows, same buckets.
    events.consume({"Records": batch["Records"] * 2})
    assert {i: DownloadEvent.get(i).bucket for i in ids} == first
    assert sorted(DownloadEvent.get(i).user for i in ids) == sorted([reader.name, user.name])


def test_a_refused_download_publishes_nothing(api, published, queued_events):
    user, repo, package, version, path = published
    queued_events.clear()
    assert api.get(f"/dl/{user.name}/{repo}/{path}.missing").status_code == 404
    assert _downloads(queued_events) == []


def test_the_callback_of_a_signed_download_is_called_once(published, monkeypatch):
    from chalicelib.content import signing
    from chalicelib.repositories.models import Repository
    from chalicelib.stats import recording

    user, repo, package, version, path = published
    calls: list[dict] = []
    monkeypatch.setattr(signing, "perform_callback", lambda event: calls.append(dict(event)))
    event = Downloaded(
        owner=user.name,
        repo=repo,
        repo_id=Repository.get(user.name, repo).id,
        package=package,
        version=version,
        path=path,
        size=1000,
        ip="10.1.2.3",
        callback_id="cb-7",
        callback_url="https://hooks.example.com/%callback_id",
    )
    assert recording.record([event]) == 1
    assert recording.record([event]) == 0
    assert [(c["callback_id"], c["callback_url"], c["path"]) for c in calls] == [
        ("cb-7", "https://hooks.example.com/%callback_id", path)
    ]
    row = DownloadEvent.get(event.id)
    assert row.callback_id == "cb-7" and row.country is None  # a private address has no country
