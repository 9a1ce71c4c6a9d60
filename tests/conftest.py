"""Test harness: one moto server (the local AWS) and one local API Gateway per test session (per xdist
worker), both on loopback; every test talks HTTP to the gateway, like a real client.

The app's own AWS calls (boto3 and PynamoDB, in the gateway's threads and in fixtures) do not cross the
loopback: ``LocalAws.dispatch_in_process`` (infra/local/aws.py) adds a botocore ``before-send`` handler
that gives each request for the local endpoint to the moto server's WSGI application in the calling
thread. It is the server's own application object (same backends, same DynamoDB lock), so what the app
writes is what HTTP clients of the server read (presigned S3 URLs followed by requests or curl, the
``moto-api/reset`` below) and the other way round (``tests/test_infra.py``). moto itself runs with the
patches of ``infra/local/motofast.py`` (no whole-table copy per transaction, no directory listing per
request). Figures: docs/performance.md, "The test suite".

Tests isolate themselves by unique names (``unique()``). After each test module the local AWS is reset
(moto's reset API) and its resources are created again, so its memory stays bounded by one module's data.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from pynamodb.connection.base import VerboseClientError
from pynamodb.exceptions import CancellationReason, TransactWriteError
from werkzeug.serving import WSGIRequestHandler, make_server

from infra.local.aws import point_at, start_moto

logging.getLogger("werkzeug").setLevel(logging.ERROR)
_moto, AWS_ENDPOINT = start_moto(0)
# The app's own AWS calls skip the loopback HTTP: botocore hands them to the moto server's application
# in the calling thread (same state; presigned URLs and other clients still use the server over HTTP).
IN_PROCESS = _moto.dispatch_in_process()
# API query limits stay on (every request runs the counting code) but far out of the suite's reach;
# tests/test_ratelimits.py lowers them.
os.environ["SHELF_RATE_LIMIT_DAILY"] = os.environ["SHELF_RATE_LIMIT_MONTHLY"] = str(10**9)
# Event stream answers wait 0.3 s for events (25 s deployed), so that routes walked by every test are quick.
os.environ["SHELF_STREAM_WAIT_SECONDS"] = "0.3"
point_at(AWS_ENDPOINT, table_prefix="shelf-test-")

from app import app as chalice_app  # noqa: E402  (the environment must be set first)
from chalicelib.accounts.services import bootstrap_admin  # noqa: E402
from chalicelib.web.routing import API_BINARY_MEDIA_TYPES  # noqa: E402
from infra.local.aws import create_resources  # noqa: E402
from infra.local.gateway import LocalGateway  # noqa: E402

ADMIN = ("admin", "admin-test-key-0123456789")


def fresh_local_aws(reset: bool = True) -> None:
    """Empty the local AWS (every table, object and message), then create Shelf's resources and the
    system administrator again."""
    if reset:
        requests.post(f"{AWS_ENDPOINT}/moto-api/reset", timeout=60).raise_for_status()
        from chalicelib.stats import recording

        recording._marked.clear()  # the pending marks it remembers writing went with the reset
    create_resources(empty=reset)
    bootstrap_admin(*ADMIN)


fresh_local_aws(reset=False)
# What exists now lives as long as the session: keep the collector from walking it again and again.
gc.freeze()


@pytest.fixture(scope="module", autouse=True)
def _local_aws_per_module() -> Iterator[None]:
    """Each test module starts from an empty local AWS (its module fixtures are set up after this)."""
    yield
    fresh_local_aws()


def deliver(queued: list) -> None:
    """Deliver queued lifecycle events (``events.sender`` patched to ``queued.append``) as the events
    queue does: to the consumer in batches of 10; ``queued`` is emptied."""
    from chalicelib import events

    for start in range(0, len(queued), 10):
        batch = queued[start : start + 10]
        events.consume({"Records": [{"messageId": e.id, "body": e.to_json()} for e in batch]})
    queued.clear()


def unique(prefix: str = "n") -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Api:
    """A tiny HTTP client for the local gateway."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def request(
        self, method: str, path: str, auth: tuple[str, str] | None = None, **kwargs
    ) -> requests.Response:
        return self.session.request(method, self.base_url + path, auth=auth, allow_redirects=False, **kwargs)

    def get(self, path: str, auth=None, **kwargs) -> requests.Response:
        return self.request("GET", path, auth, **kwargs)

    def post(self, path: str, auth=None, **kwargs) -> requests.Response:
        return self.request("POST", path, auth, **kwargs)

    def put(self, path: str, auth=None, **kwargs) -> requests.Response:
        return self.request("PUT", path, auth, **kwargs)

    def patch(self, path: str, auth=None, **kwargs) -> requests.Response:
        return self.request("PATCH", path, auth, **kwargs)

    def delete(self, path: str, auth=None, **kwargs) -> requests.Response:
        return self.request("DELETE", path, auth, **kwargs)


@pytest.fixture(scope="session")
def gateway() -> LocalGateway:
    # Tests play clients from other addresses with X-Forwarded-For (make serve does not trust it).
    return LocalGateway(chalice_app, binary_media_types=API_BINARY_MEDIA_TYPES, trust_forwarded_for=True)


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1: the tests' session keeps its connection instead of opening one per request."""

    protocol_version = "HTTP/1.1"


@pytest.fixture(scope="session")
def api(gateway: LocalGateway) -> Iterator[Api]:
    server = make_server("127.0.0.1", 0, gateway, threaded=True, request_handler=KeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Api(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


@pytest.fixture(scope="session")
def admin() -> tuple[str, str]:
    return ADMIN


@dataclass
class User:
    name: str
    key: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.name, self.key)


class World:
    """Builders for users, organisations, repositories, packages and versions over the API."""

    def __init__(self, api: Api):
        self.api = api

    def user(self, plan: str = "oss", admin: bool = False) -> User:
        name = unique("u")
        body = {"email": f"{name}@example.com", "plan": plan, "admin": admin}
        response = self.api.put(f"/api/security/users/{name}", ADMIN, json=body)
        assert response.status_code == 201, response.text
        return User(name, response.json()["api_key"])

    def org(self, owner: User, plan: str = "oss") -> str:
        name = unique("o")
        response = self.api.put(f"/orgs/{name}", ADMIN, json={"owner": owner.name, "plan": plan})
        assert response.status_code == 201, response.text
        return name

    def member(self, org: str, user: User, type_: str = "member") -> None:
        response = self.api.put(f"/orgs/{org}/members/{user.name}", ADMIN, json={"type": type_})
        assert response.status_code == 200, response.text

    def repo(self, subject: str, private: bool = False, **fields) -> str:
        name = unique("r")
        body = {"type": "generic", "private": private, **fields}
        response = self.api.post(f"/repos/{subject}/{name}", ADMIN, json=body)
        assert response.status_code == 201, response.text
        return name

    def package(self, subject: str, repo: str, **fields) -> str:
        name = fields.pop("name", None) or unique("p")
        body = {"name": name, "licenses": ["MIT"], "vcs_url": "https://example.com/x.git", **fields}
        response = self.api.post(f"/packages/{subject}/{repo}", ADMIN, json=body)
        assert response.status_code == 201, response.text
        return name

    def version(self, subject: str, repo: str, package: str, name: str | None = None, **fields) -> str:
        name = name or unique("v")
        response = self.api.post(
            f"/packages/{subject}/{repo}/{package}/versions", ADMIN, json={"name": name, **fields}
        )
        assert response.status_code == 201, response.text
        return name

    def team(
        self, subject: str, members: list[User], permissions: dict[str, str] | None = None, **fields
    ) -> str:
        """A new team of ``subject`` (an org or a user, Premium or above; an org's team members must
        be its members) with ``permissions`` ``{repo: "read"|"publish"|"admin"}``. Org members
        publish only through teams."""
        name = unique("t")
        body = {"name": name, "members": [member.name for member in members], **fields}
        response = self.api.post(f"/orgs/{subject}/teams", ADMIN, json=body)
        if response.status_code == 404:
            response = self.api.post(f"/users/{subject}/teams", ADMIN, json=body)
        assert response.status_code == 201, response.text
        for repo, permission in (permissions or {}).items():
            body = {"team": name, "permission": permission}
            response = self.api.put(f"/repos/{subject}/{repo}/permissions", ADMIN, json=body)
            assert response.status_code == 200, response.text
        return name

    def publishing_org(self) -> tuple[User, str, User, str, str]:
        """(owner, org, member, public repo, private repo): a Premium organisation whose member
        publishes to both repositories through a team."""
        owner = self.user()
        org = self.org(owner, plan="premium")
        member = self.user()
        self.member(org, member, "member")
        public = self.repo(org)
        private = self.repo(org, private=True)
        self.team(org, [member], {public: "publish", private: "publish"})
        return owner, org, member, public, private


@pytest.fixture
def queued_events(monkeypatch) -> list:
    """Queued subscribers (e.g. the event stream) run from the events queue after the request, as
    deployed, not in it: the events the requests queue meanwhile (for tests counting a request's work)."""
    from chalicelib import events

    queued: list[events.Event] = []
    monkeypatch.setattr(events, "sender", queued.append)
    return queued


@pytest.fixture
def world(api: Api) -> World:
    return World(api)


def assert_message(response, *words: str) -> None:
    """The response is a JSON error whose message contains ``words``."""
    body = response.json()
    assert set(body) == {"message"}, body
    for word in words:
        assert word in body["message"], body


@pytest.fixture
def owner(world):
    return world.user()


@pytest.fixture
def repo(world, owner):
    return world.repo(owner.name)


# --- DynamoDB transaction conflicts ------------------------------------------------------------


class _ConflictingTransaction:
    """A transaction DynamoDB cancels with ``TransactionConflict`` (another transaction was writing
    one of its items at the same moment, e.g. the repository's package count); moto never does that,
    so tests inject it."""

    def __enter__(self):
        return self

    def save(self, *args, **kwargs) -> None:
        pass

    update = delete = condition_check = save

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            cause = VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}},
                "TransactWriteItems",
                cancellation_reasons=[None, CancellationReason(code="TransactionConflict")],
            )
            raise TransactWriteError("Failed to write transaction items", cause=cause)
        return False


@pytest.fixture
def conflicts(monkeypatch):
    """``conflicts(n)``: the next ``n`` DynamoDB transactions of the app are cancelled by a conflict."""
    from chalicelib import db

    real = db.transaction
    left = [0]

    def transaction():
        if left[0] > 0:
            left[0] -= 1
            return _ConflictingTransaction()
        return real()

    monkeypatch.setattr(db, "transaction", transaction)

    def arm(n: int) -> None:
        left[0] = n

    return arm
