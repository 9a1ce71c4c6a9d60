"""Webhooks (spec: Webhooks): registration, listing, deletion, the test call, and delivery on publish
to a local HTTP listener (reachable through ``SHELF_OUTBOUND_ALLOW_CIDRS=127.0.0.0/8``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pynamodb.exceptions import DoesNotExist

from chalicelib import events
from chalicelib.config import settings
from chalicelib.events import PackageDeleted, RepositoryDeleted, SubjectDeleted, VersionPublished
from chalicelib.repositories.models import Repository
from chalicelib.webhooks import services, subscribers
from chalicelib.webhooks.models import Webhook, WebhookCount
from tests.conftest import ADMIN, assert_message


class _Listener(BaseHTTPRequestHandler):
    """Records every call; answers the statuses of ``answers`` in turn, then ``default``."""

    calls: list[dict] = []
    answers: list[int] = []
    default = 200

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.calls.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status = self.answers.pop(0) if self.answers else self.default
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def allow_loopback(monkeypatch):
    """Outbound calls may reach loopback (the documented local-testing setting)."""
    monkeypatch.setenv("SHELF_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")
    settings.cache_clear()
    yield
    monkeypatch.delenv("SHELF_OUTBOUND_ALLOW_CIDRS", raising=False)
    settings.cache_clear()


@pytest.fixture
def listener(allow_loopback, monkeypatch):
    """(base URL, calls) of a local HTTP listener; retries wait 10 ms instead of seconds. Queued
    subscribers run in-request here (``test_delivered_through_the_events_queue`` takes the queue)."""
    monkeypatch.setattr(services, "RETRY_BACKOFF", 0.01)
    monkeypatch.setattr(events, "sender", None)
    _Listener.calls, _Listener.answers, _Listener.default = [], [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Listener.calls
    server.shutdown()
    server.server_close()


@pytest.fixture
def scene(world):
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    return owner, repo, package


def _register(api, owner, repo, package, url, method=None):
    body = {"url": url} if method is None else {"url": url, "method": method}
    return api.post(f"/webhooks/{owner.name}/{repo}/{package}", owner.auth, json=body)


def _publish(api, owner, repo, package, version, release_notes=None):
    """Upload a file to a new ``version`` and publish it."""
    if release_notes is not None:
        response = api.post(
            f"/packages/{owner.name}/{repo}/{package}/versions", owner.auth, json={"name": version}
        )
        assert response.status_code == 201, response.text
        notes = {"bintray": {"syntax": "markdown", "content": release_notes}}
        path = f"/packages/{owner.name}/{repo}/{package}/versions/{version}/release_notes"
        assert api.post(path, owner.auth, json=notes).status_code == 200
    response = api.put(
        f"/content/{owner.name}/{repo}/{package}/{version}/{version}.txt", owner.auth, data=b"x"
    )
    assert response.status_code == 201, response.text
    response = api.post(f"/content/{owner.name}/{repo}/{package}/{version}/publish", owner.auth, json={})
    assert response.status_code == 200 and response.json() == {"files": 1}, response.text


def _hook(api, owner, package) -> dict:
    (hook,) = [h for h in api.get(f"/webhooks/{owner.name}", owner.auth).json() if h["package"] == package]
    return hook


def test_the_webhooks_module_is_subscribed():
    """Publishing a version reaches the webhooks' queued subscriber (the events table names it)."""
    (sub,) = [
        s for s in events.subscriptions(VersionPublished) if s.target.startswith("chalicelib.webhooks.")
    ]
    assert sub.queued and sub.target == "chalicelib.webhooks.subscribers:version_published"


def test_a_publish_is_delivered_with_the_spec_payload_and_a_verifiable_hmac(api, scene, listener):
    owner, repo, package = scene
    base, calls = listener
    response = _register(api, owner, repo, package, base + "/hooks/%r/%p?x=1")
    assert response.status_code == 201, response.text
    assert response.headers["X-Bintray-WebHookLimit-Limit"] == "10"
    assert response.headers["X-Bintray-WebHookLimit-Remaining"] == "9"
    registered = response.json()
    secret = registered.pop("secret")
    assert len(secret) >= 32
    assert registered["package"] == package and registered["method"] == "post" and registered["active"]
    assert calls == []  # registering calls nothing
    _publish(api, owner, repo, package, "1.0", release_notes="Fixes everything")
    (call,) = calls
    assert call["method"] == "POST" and call["path"] == f"/hooks/{repo}/{package}?x=1"
    payload = json.loads(call["body"])
    assert set(payload) == {"package", "version", "released", "release_notes"}
    assert payload["package"] == package and payload["version"] == "1.0"
    assert payload["release_notes"] == "Fixes everything"
    version = api.get(f"/packages/{owner.name}/{repo}/{package}/versions/1.0").json()
    assert payload["released"] == version["released"] and payload["released"].endswith("Z")
    want = base64.b64encode(hmac.new(secret.encode(), package.encode(), hashlib.sha256).digest()).decode()
    assert call["headers"]["X-Bintray-Hook-Hmac"] == want
    assert call["headers"]["Content-Type"] == "application/json"
    # The secret is shown once: never in the listing.
    listed = api.get(f"/webhooks/{owner.name}", owner.auth).json()
    assert listed == [{key: value for key, value in registered.items()}]
    assert "secret" not in listed[0] and listed[0]["failure_count"] == 0


def test_get_and_put_methods(api, scene, listener):
    owner, repo, package = scene
    base, calls = listener
    assert _register(api, owner, repo, package, base + "/g", "GET").status_code == 201
    _publish(api, owner, repo, package, "1.0")
    assert [(c["method"], c["path"], c["body"]) for c in calls] == [("GET", "/g", b"")]
    assert "X-Bintray-Hook-Hmac" in calls[0]["headers"]
    assert _register(api, owner, repo, package, base + "/p", "put").status_code == 201  # replaces it
    _publish(api, owner, repo, package, "2.0")
    assert [(c["method"], c["path"]) for c in calls[1:]] == [("PUT", "/p")]
    assert json.loads(calls[1]["body"])["version"] == "2.0"
    assert [h["method"] for h in api.get(f"/webhooks/{owner.name}", owner.auth).json()] == ["put"]


def test_failures_are_retried_and_a_success_resets_the_count(api, scene, listener):
    owner, repo, package = scene
    base, calls = listener
    assert _register(api, owner, repo, package, base + "/h").status_code == 201
    _Listener.answers = [500, 503]  # two failed attempts, then the retry succeeds
    _publish(api, owner, repo, package, "1.0")
    assert len(calls) == 3 and {json.loads(c["body"])["version"] for c in calls} == {"1.0"}
    assert _hook(api, owner, package)["failure_count"] == 0
    _Listener.default = 500  # every attempt of the next release fails
    _publish(api, owner, repo, package, "2.0")
    assert len(calls) == 3 + services.MAX_ATTEMPTS
    hook = _hook(api, owner, package)
    assert hook["failure_count"] == services.MAX_ATTEMPTS and hook["active"] is True
    _Listener.default = 200
    _publish(api, owner, repo, package, "3.0")
    assert len(calls) == 4 + services.MAX_ATTEMPTS
    assert _hook(api, owner, package)["failure_count"] == 0


def test_seven_consecutive_failures_deactivate_the_webhook(api, scene, listener):
    owner, repo, package = scene
    base, calls = listener
    assert _register(api, owner, repo, package, base + "/h").status_code == 201
    _Listener.default = 500
    for version in ("1", "2", "3"):
        _publish(api, owner, repo, package, version)
    assert len(calls) == 7  # 3 + 3 attempts, then the 7th failure deactivates it
    hook = _hook(api, owner, package)
    assert hook["failure_count"] == 7 and hook["active"] is False
    _Listener.default = 200
    _publish(api, owner, repo, package, "4")
    assert len(calls) == 7  # deactivated: not called any more
    # Registering again reactivates it.
    assert _register(api, owner, repo, package, base + "/h").status_code == 201
    assert _hook(api, owner, package)["active"] is True and _hook(api, owner, package)["failure_count"] == 0
    _publish(api, owner, repo, package, "5")
    assert len(calls) == 8


def test_an_event_delivered_again_after_a_success_is_not_sent_twice(api, scene, listener, monkeypatch):
    owner, repo, package = scene
    base, calls = listener
    assert _register(api, owner, repo, package, base + "/h").status_code == 201
    _publish(api, owner, repo, package, "1.0")
    assert len(calls) == 1
    repo_id = Repository.get(owner.name, repo).id
    event = VersionPublished(owner=owner.name, repo=repo, repo_id=repo_id, package=package, version="1.0")
    message = {"Records": [{"body": event.to_json()}]}
    assert events.consume(message) == 1
    assert len(calls) == 2  # a new event is delivered
    assert events.consume(message) == 1  # SQS delivers the same message again
    assert len(calls) == 2
    # From the queue a failed attempt raises (SQS delivers it again later); the retry is the same event.
    monkeypatch.setattr(events, "sender", lambda event: None)
    _Listener.answers = [500]
    failing = VersionPublished(owner=owner.name, repo=repo, repo_id=repo_id, package=package, version="1.0")
    with pytest.raises(subscribers.DeliveryFailed):
        events.deliver(failing)
    events.deliver(failing)
    events.deliver(failing)
    assert len(calls) == 4 and _hook(api, owner, package)["failure_count"] == 0


def test_delivered_through_the_events_queue(api, scene, listener, monkeypatch):
    """As deployed: the publish leaves one message on the events queue; its consumer calls the hook."""
    from chalicelib import eventbus, queues
    from infra.local.events import EventPump

    monkeypatch.setattr(events, "sender", eventbus.send)
    pump = EventPump({queues.EVENTS: eventbus.lifecycle_events})
    pump.drain()
    owner, repo, package = scene
    base, calls = listener
    registered = _register(api, owner, repo, package, base + "/queued")
    assert registered.status_code == 201, registered.text
    _publish(api, owner, repo, package, "2.0")
    assert calls == []  # not called by the request
    assert pump.drain() >= 1
    (call,) = calls
    assert call["path"] == "/queued" and json.loads(call["body"])["version"] == "2.0"
    digest = hmac.new(registered.json()["secret"].encode(), package.encode(), hashlib.sha256).digest()
    assert call["headers"]["X-Bintray-Hook-Hmac"] == base64.b64encode(digest).decode()


def test_the_test_call_answers_what_the_target_answered(api, scene, listener):
    owner, repo, package = scene
    base, calls = listener
    response = api.post(f"/packages/{owner.name}/{repo}/{package}/versions", owner.auth, json={"name": "1.0"})
    assert response.status_code == 201
    path = f"/webhooks/{owner.name}/{repo}/{package}/1.0"
    response = api.post(path, owner.auth)
    assert response.status_code == 404
    assert_message(response, "Webhook for package")
    registered = _register(api, owner, repo, package, base + "/h").json()
    response = api.post(path, owner.auth)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "package": package,
        "version": "1.0",
        "released": None,
        "release_notes": None,
        "status": 200,
    }
    assert len(calls) == 1 and calls[0]["method"] == "POST"
    want = base64.b64encode(
        hmac.new(registered["secret"].encode(), package.encode(), hashlib.sha256).digest()
    )
    assert calls[0]["headers"]["X-Bintray-Hook-Hmac"] == want.decode()
    # Another URL and method (the spec's body); a failing target is reported, and counts nothing.
    _Listener.default = 502
    response = api.post(path, owner.auth, json={"url": base + "/other", "method": "GET"})
    assert response.status_code == 200 and response.json()["status"] == 502
    assert (calls[1]["method"], calls[1]["path"]) == ("GET", "/other")
    assert _hook(api, owner, package)["failure_count"] == 0
    assert api.post(f"/webhooks/{owner.name}/{repo}/{package}/9.9", owner.auth).status_code == 404


def test_listing_by_repository_and_deleting(api, world, scene, listener):
    owner, repo, package = scene
    base, calls = listener
    other_repo = world.repo(owner.name)
    other_package = world.package(owner.name, other_repo)
    assert _register(api, owner, repo, package, base + "/a").status_code == 201
    response = _register(api, owner, other_repo, other_package, base + "/b")
    assert response.headers["X-Bintray-WebHookLimit-Remaining"] == "8"
    assert {h["repo"] for h in api.get(f"/webhooks/{owner.name}", owner.auth).json()} == {repo, other_repo}
    listed = api.get(f"/webhooks/{owner.name}/{repo}", owner.auth).json()
    assert [(h["repo"], h["package"], h["url"]) for h in listed] == [(repo, package, base + "/a")]
    response = api.delete(f"/webhooks/{owner.name}/{repo}/{package}", owner.auth)
    assert response.status_code == 200 and response.json() == {"message": "success"}
    assert api.get(f"/webhooks/{owner.name}/{repo}", owner.auth).json() == []
    response = api.delete(f"/webhooks/{owner.name}/{repo}/{package}", owner.auth)
    assert response.status_code == 404
    assert_message(response, f"Webhook for package '{package}' was not found")
    _publish(api, owner, repo, package, "1.0")
    assert calls == []  # deleted: nothing is called
    # The freed place counts again.
    response = _register(api, owner, repo, package, base + "/a")
    assert response.headers["X-Bintray-WebHookLimit-Remaining"] == "8"


def test_at_most_ten_webhooks_per_subject(api, world, listener):
    base, _ = listener
    owner = world.user()
    repo = world.repo(owner.name)
    packages = [world.package(owner.name, repo) for _ in range(11)]
    for index, package in enumerate(packages[:10]):
        response = _register(api, owner, repo, package, base + "/h")
        assert response.status_code == 201, response.text
        assert response.headers["X-Bintray-WebHookLimit-Remaining"] == str(9 - index)
    response = _register(api, owner, repo, packages[0], base + "/again")  # replacing one is allowed
    assert response.status_code == 201 and response.headers["X-Bintray-WebHookLimit-Remaining"] == "0"
    response = _register(api, owner, repo, packages[10], base + "/h")
    assert response.status_code == 400
    assert_message(response, "Webhook limit reached", "10")
    assert response.headers["X-Bintray-WebHookLimit-Remaining"] == "0"
    assert len(api.get(f"/webhooks/{owner.name}", owner.auth).json()) == 10
    assert api.delete(f"/webhooks/{owner.name}/{repo}/{packages[3]}", owner.auth).status_code == 200
    assert _register(api, owner, repo, packages[10], base + "/h").status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://[::1]/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_forbidden_targets_are_refused(api, scene, url):
    owner, repo, package = scene
    response = _register(api, owner, repo, package, url)
    assert response.status_code == 400, response.text
    assert_message(response, "Invalid value for 'url'")
    assert api.get(f"/webhooks/{owner.name}", owner.auth).json() == []


def test_the_allow_setting_opens_only_its_networks(api, scene, allow_loopback):
    owner, repo, package = scene
    assert _register(api, owner, repo, package, "http://127.0.0.1:9/hook").status_code == 201
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/hook"):
        assert _register(api, owner, repo, package, url).status_code == 400


def test_a_target_that_became_unsafe_is_not_called(api, scene, listener, monkeypatch):
    """The target is checked again at delivery: without the allow setting, loopback is refused."""
    owner, repo, package = scene
    base, calls = listener
    assert _register(api, owner, repo, package, base + "/h").status_code == 201
    monkeypatch.delenv("SHELF_OUTBOUND_ALLOW_CIDRS")
    settings.cache_clear()
    _publish(api, owner, repo, package, "1.0")
    assert calls == []
    assert _hook(api, owner, package)["failure_count"] == services.MAX_ATTEMPTS


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (None, ("Missing required field 'url'",)),
        ({}, ("Missing required field 'url'",)),
        ({"url": "https://93.184.216.34/h", "method": "delete"}, ("Invalid value for 'method'",)),
        ({"url": "https://93.184.216.34/h", "method": 1}, ("Invalid value for 'method'",)),
        ({"url": 5}, ("Invalid value for 'url'",)),
        ({"url": ""}, ("Invalid value for 'url'",)),
        ({"url": "https://93.184.216.34/" + "a" * 3000}, ("Invalid value for 'url'",)),
    ],
)
def test_bad_registrations_are_400(api, scene, body, words):
    owner, repo, package = scene
    path = f"/webhooks/{owner.name}/{repo}/{package}"
    response = api.post(path, owner.auth) if body is None else api.post(path, owner.auth, json=body)
    assert response.status_code == 400, response.text
    assert_message(response, *words)


def test_unknown_package_is_404(api, scene):
    owner, repo, _ = scene
    response = _register(api, owner, repo, "nope", "https://93.184.216.34/h")
    assert response.status_code == 404
    assert_message(response, "Package 'nope' was not found")


def test_permissions(api, world, scene):
    owner, repo, package = scene
    stranger = world.user()
    private = world.repo(owner.name, private=True)
    world.package(owner.name, private, name="pkg")
    body = {"url": "https://93.184.216.34/h"}
    assert api.get(f"/webhooks/{owner.name}").status_code == 401
    assert api.post(f"/webhooks/{owner.name}/{repo}/{package}", json=body).status_code == 401
    response = api.get(f"/webhooks/{owner.name}", stranger.auth)
    assert response.status_code == 403 and response.json() == {"message": "forbidden"}
    assert api.get(f"/webhooks/{owner.name}/{repo}", stranger.auth).status_code == 403
    response = api.post(f"/webhooks/{owner.name}/{repo}/{package}", stranger.auth, json=body)
    assert response.status_code == 403
    assert_message(response, "You do not have 'publish' permission")
    assert api.delete(f"/webhooks/{owner.name}/{repo}/{package}", stranger.auth).status_code == 403
    response = api.post(f"/webhooks/{owner.name}/{private}/pkg", stranger.auth, json=body)
    assert response.status_code == 404  # a private repository does not exist for them
    assert api.get(f"/webhooks/{owner.name}/{private}", stranger.auth).status_code == 404
    # The system administrator may do everything.
    assert api.post(f"/webhooks/{owner.name}/{private}/pkg", ADMIN, json=body).status_code == 201
    assert len(api.get(f"/webhooks/{owner.name}", ADMIN).json()) == 1


def test_deleted_packages_repositories_and_subjects_take_their_webhooks_along(api, world, listener):
    """The cascade subscribers (the deleting services publish these events)."""
    base, _ = listener
    owner = world.user()
    repos = [world.repo(owner.name) for _ in range(2)]
    packages = [world.package(owner.name, repo) for repo in repos]
    other = world.package(owner.name, repos[1])
    for repo, package in [*zip(repos, packages, strict=True), (repos[1], other)]:
        assert _register(api, owner, repo, package, base + "/h").status_code == 201
    ids = [Repository.get(owner.name, repo).id for repo in repos]
    assert api.delete(f"/repos/{owner.name}/{repos[0]}", ADMIN).status_code == 200
    events.publish(RepositoryDeleted(owner=owner.name, repo=repos[0], repo_id=ids[0]))
    assert api.delete(f"/packages/{owner.name}/{repos[1]}/{other}", ADMIN).status_code == 200
    events.publish(
        PackageDeleted(owner=owner.name, repo=repos[1], repo_id=ids[1], package=other, package_id="x")
    )
    listed = api.get(f"/webhooks/{owner.name}", owner.auth).json()
    assert [(h["repo"], h["package"]) for h in listed] == [(repos[1], packages[1])]
    response = _register(api, owner, repos[1], world.package(owner.name, repos[1]), base + "/h")
    assert response.headers["X-Bintray-WebHookLimit-Remaining"] == "8"  # the places were freed
    events.publish(SubjectDeleted(name=owner.name, kind_of_subject="user"))
    assert list(Webhook.query(owner.name)) == []
    with pytest.raises(DoesNotExist):
        WebhookCount.get(owner.name)
