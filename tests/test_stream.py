"""The event stream (GET /stream/:subject, the spec's Stream API), served by long polling: every event
once and in order, reconnect ids, keep-alive lines, gzip, at most 3 readers, the subject's admins only."""

from __future__ import annotations

import dataclasses
import gzip
import json
import threading
import time

import pytest

from chalicelib import events
from chalicelib.config import settings
from chalicelib.stream import services, views
from tests.conftest import ADMIN, assert_message

RECONNECT = "X-Bintray-Stream-Reconnect-Id"


def poll(api, subject: str, auth, reconnect: str | None = None) -> tuple[list[dict], str]:
    """One answer of the stream: its events and the id to reconnect with."""
    headers = {RECONNECT: reconnect} if reconnect else {}
    response = api.get(f"/stream/{subject}", auth, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/x-ndjson"
    assert response.text.endswith("\r\n")
    lines = response.text.split("\r\n")[:-1]
    assert lines == [""] or "" not in lines, response.text  # a keep-alive, or events
    return [json.loads(line) for line in lines if line], response.headers[RECONNECT]


@pytest.fixture(autouse=True)
def in_request_events(monkeypatch):
    """Queued subscribers run in the request here, so that what a test does is in the stream when
    the next request starts (``test_events_arrive_through_the_events_queue`` takes the queue)."""
    monkeypatch.setattr(events, "sender", None)


@pytest.fixture
def scene(world):
    """An organisation with a public repository and a package version; its owner publishes, an
    organisation admin reads the stream."""
    owner = world.user()
    org = world.org(owner)
    reader = world.user()
    world.member(org, reader, "admin")
    repo = world.repo(org)
    package = world.package(org, repo)
    version = world.version(org, repo, package)
    return {
        "owner": owner,
        "org": org,
        "reader": reader,
        "repo": repo,
        "package": package,
        "version": version,
    }


def activity(api, scene) -> list[dict]:
    """Upload, download (anonymous and the owner), delete and a wrong key; the events expected."""
    owner, org, repo = scene["owner"], scene["org"], scene["repo"]
    path = f"/{org}/{repo}/f.txt"
    base = f"/content/{org}/{repo}/{scene['package']}/{scene['version']}"
    assert api.put(f"{base}/f.txt?publish=1", owner.auth, data=b"x").status_code == 201
    assert api.get(f"/dl/{org}/{repo}/f.txt").status_code == 302
    assert api.get(f"/dl/{org}/{repo}/f.txt", owner.auth).status_code == 302
    assert api.delete(f"/content/{org}/{repo}/f.txt", owner.auth).status_code == 200
    assert api.get(f"/repos/{org}/{repo}", (owner.name, "wrong-key")).status_code == 401
    return [
        {"type": "login_success", "subject": owner.name, "ip_address": "127.0.0.1"},
        {"type": "upload", "path": path, "subject": owner.name},
        {"type": "download", "path": path, "subject": None},
        {"type": "download", "path": path, "subject": owner.name},
        {"type": "delete", "path": path, "subject": owner.name},
        {"type": "login_failure", "subject": owner.name, "ip_address": "127.0.0.1"},
    ]


def without_time(lines: list[dict]) -> list[dict]:
    for line in lines:
        assert line["time"].endswith("Z") and len(line["time"]) == 24, line
    assert [line["time"] for line in lines] == sorted(line["time"] for line in lines)
    return [{k: v for k, v in line.items() if k != "time"} for line in lines]


def test_a_reader_in_a_loop_gets_every_event_once_in_order(api, scene):
    org, reader = scene["org"], scene["reader"]
    got, reconnect = poll(api, org, reader.auth)  # connected: the stream starts now
    assert got == []
    stop = threading.Event()
    answers: list[list[dict]] = []

    def loop() -> None:
        nonlocal reconnect
        while not stop.is_set():
            lines, reconnect = poll(api, org, reader.auth, reconnect)
            answers.append(lines)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        expected = activity(api, scene)
        deadline = time.monotonic() + 20
        while sum(len(a) for a in answers) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    got = [line for answer in answers for line in answer]
    assert without_time(got) == expected
    # Field names and order as in the spec's samples.
    assert list(got[0]) == ["type", "time", "subject", "ip_address"]
    assert list(got[1]) == ["type", "path", "subject", "time"]
    assert any(a == [] for a in answers) or len(answers) <= len(expected)  # keep-alives between events
    # Nothing more, however often the reader asks.
    assert poll(api, org, reader.auth, reconnect)[0] == []


def test_reconnecting_with_the_id_gets_the_rest(api, scene):
    org, reader = scene["org"], scene["reader"]
    _, reconnect = poll(api, org, reader.auth)
    expected = activity(api, scene)  # the reader is away meanwhile
    got, again = poll(api, org, reader.auth, reconnect)
    assert without_time(got) == expected
    # The same id again gets the same events (the id names what the reader got); the new one none.
    assert without_time(poll(api, org, reader.auth, reconnect)[0]) == expected
    assert poll(api, org, reader.auth, again)[0] == []


def test_events_arrive_through_the_events_queue(api, scene, monkeypatch):
    """As deployed: the requests leave their events on the events queue; its consumer records them."""
    from chalicelib import eventbus, queues
    from infra.local.events import EventPump

    monkeypatch.setattr(events, "sender", eventbus.send)
    pump = EventPump({queues.EVENTS: eventbus.lifecycle_events})
    pump.drain()
    org, reader = scene["org"], scene["reader"]
    _, reconnect = poll(api, org, reader.auth)
    pump.drain()  # the reader's own login
    _, reconnect = poll(api, org, reader.auth, reconnect)
    expected = activity(api, scene)
    assert pump.drain() >= len(expected)
    got, _ = poll(api, org, reader.auth, reconnect)
    assert without_time(got) == expected


def test_an_answer_returns_when_events_arrive(api, scene, monkeypatch):
    monkeypatch.setattr(views, "settings", lambda: dataclasses.replace(settings(), stream_wait_seconds=15))
    org, reader, owner = scene["org"], scene["reader"], scene["owner"]
    _, reconnect = poll(api, org, reader.auth)
    result: dict = {}

    def wait() -> None:
        started = time.monotonic()
        result["lines"], _ = poll(api, org, reader.auth, reconnect)
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.5)
    base = f"/content/{org}/{scene['repo']}/{scene['package']}/{scene['version']}"
    assert api.put(f"{base}/g.txt", owner.auth, data=b"x").status_code == 201
    thread.join(timeout=20)
    assert [line["type"] for line in result["lines"]] == ["login_success", "upload"]
    assert result["seconds"] < 10


def test_redelivered_events_are_written_once(api, scene):
    org, reader = scene["org"], scene["reader"]
    _, reconnect = poll(api, org, reader.auth)
    event = events.FileDeleted(
        owner=org, repo=scene["repo"], repo_id="r", package="p", version="1", path="a.txt", size=1, by="x"
    )
    events.deliver(event)
    events.deliver(event)  # SQS delivers at least once
    lines, reconnect = poll(api, org, reader.auth, reconnect)
    assert [line["path"] for line in lines] == [f"/{org}/{scene['repo']}/a.txt"]
    # A successful login is one event per user and address in a window, however many requests.
    for _ in range(3):
        events.deliver(events.LoginSucceeded(subject=org, user="someone", ip="192.0.2.1"))
    events.deliver(events.LoginFailed(subject="not a name!", user="someone"))  # no stream: nothing
    lines, _ = poll(api, org, reader.auth, reconnect)
    assert [(line["type"], line["subject"]) for line in lines] == [("login_success", "someone")]


def test_events_without_a_reader_are_not_kept(api, scene):
    org, reader, owner = scene["org"], scene["reader"], scene["owner"]
    base = f"/content/{org}/{scene['repo']}/{scene['package']}/{scene['version']}"
    assert api.put(f"{base}/early.txt", owner.auth, data=b"x").status_code == 201
    assert poll(api, org, reader.auth)[0] == []  # a new reader starts at the head


def test_a_fourth_reader_gets_429(api, scene):
    org, reader = scene["org"], scene["reader"]
    ids = [poll(api, org, auth)[1] for auth in (reader.auth, scene["owner"].auth, ADMIN)]
    response = api.get(f"/stream/{org}", reader.auth)
    assert response.status_code == 429
    assert_message(response, "3 readers")
    # The readers holding a slot reconnect; their ids are their own.
    for reconnect in ids:
        poll(api, org, reader.auth, reconnect)
    assert len({reconnect.split("-")[0] for reconnect in ids}) == 3


def test_expired_leases_free_their_slot(api, scene, monkeypatch):
    """A reader that stops asking (crashed) holds its slot for the reconnect window only."""
    monkeypatch.setattr(services, "RECONNECT_SECONDS", 0.0)
    org, reader = scene["org"], scene["reader"]
    for _ in range(services.READERS):
        poll(api, org, reader.auth)  # each answer's lease ends with it
    time.sleep(0.2)
    poll(api, org, reader.auth)


def test_gzip(api, scene):
    org, reader, owner = scene["org"], scene["reader"], scene["owner"]
    response = api.get(f"/stream/{org}", reader.auth, headers={"Accept-Encoding": "gzip"}, stream=True)
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.raw.read(decode_content=False)) == b"\r\n"
    base = f"/content/{org}/{scene['repo']}/{scene['package']}/{scene['version']}"
    assert api.put(f"{base}/z.txt", owner.auth, data=b"x").status_code == 201
    headers = {"Accept-Encoding": "gzip", RECONNECT: response.headers[RECONNECT]}
    response = api.get(f"/stream/{org}", reader.auth, headers=headers, stream=True)
    text = gzip.decompress(response.raw.read(decode_content=False)).decode()
    assert [json.loads(line)["type"] for line in text.split("\r\n")[:-1]] == ["login_success", "upload"]
    plain = api.get(f"/stream/{org}", reader.auth, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.text == "\r\n"


def test_only_the_subjects_admins_read_it(api, world, scene):
    org, owner = scene["org"], scene["owner"]
    member, stranger = world.user(), world.user()
    world.member(org, member, "member")
    for auth in (member.auth, stranger.auth):
        response = api.get(f"/stream/{org}", auth)
        assert response.status_code == 403 and response.json() == {"message": "Forbidden"}
    response = api.get(f"/stream/{org}")
    assert response.status_code == 401
    assert_message(response, "This resource requires authentication")
    assert api.get(f"/stream/{org}", (owner.name, "wrong")).status_code == 401
    poll(api, owner.name, owner.auth)  # a user's own stream
    response = api.get(f"/stream/{stranger.name}", owner.auth)
    assert response.status_code == 403 and response.json() == {"message": "Forbidden"}
    assert api.get("/stream/nobody-here-x", owner.auth).status_code == 404


def test_bad_reconnect_ids_are_400(api, scene):
    org, reader = scene["org"], scene["reader"]
    _, reconnect = poll(api, org, reader.auth)
    token, seq = reconnect.split("-")
    for bad in ("garbage", f"{token}-x", f"{token}-{int(seq) + 5}", f"{token}-{'9' * 19}"):
        response = api.get(f"/stream/{org}", reader.auth, headers={RECONNECT: bad})
        assert response.status_code == 400, bad
        assert_message(response, "X-Bintray-Stream-Reconnect-Id")


def test_concurrent_writers_lose_nothing(api, scene):
    """Writers racing for the head: a reader polling meanwhile gets every event once, each writer's
    in the order it wrote them."""
    org, reader = scene["org"], scene["reader"]
    _, reconnect = poll(api, org, reader.auth)
    writers, each = 4, 6

    def write(n: int) -> None:
        for i in range(each):
            events.deliver(
                events.FileDeleted(
                    owner=org, repo="r", repo_id="r", package="p", version="1", path=f"{n}/{i}", size=1
                )
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    got: list[str] = []
    deadline = time.monotonic() + 30
    while len(got) < writers * each and time.monotonic() < deadline:
        lines, reconnect = poll(api, org, reader.auth, reconnect)
        got.extend(line["path"].removeprefix(f"/{org}/r/") for line in lines)
    for thread in threads:
        thread.join()
    assert sorted(got) == sorted(f"{n}/{i}" for n in range(writers) for i in range(each))
    for n in range(writers):
        assert [p for p in got if p.startswith(f"{n}/")] == [f"{n}/{i}" for i in range(each)]


def test_cdn_downloads_are_download_lines(api, scene, monkeypatch):
    """CloudFront's downloads (read from its log files, one ``DownloadsLogged`` per part) appear as the
    API path's downloads do: one anonymous ``download`` line each, in the file owner's stream, once
    however often the part is delivered; a part's downloads are appended in batches."""
    from chalicelib.cdn import logs
    from tests.test_cdn import _line, _log_file

    org, reader, owner, repo = scene["org"], scene["reader"], scene["owner"], scene["repo"]
    base = f"/content/{org}/{repo}/{scene['package']}/{scene['version']}"
    assert api.put(f"{base}/f.txt?publish=1", owner.auth, data=b"x").status_code == 201
    _, reconnect = poll(api, org, reader.auth)
    lines = [_line("GET", f"/dl/{org}/{repo}/f.txt", 200, f"req-{i}==") for i in range(5)]
    data = _log_file(*lines, _line("HEAD", f"/dl/{org}/{repo}/f.txt", 200, "head=="))
    monkeypatch.setattr(services, "BATCH", 2)
    [part] = logs.parts("cloudfront/E1.2026-12-01-23.x.gz", data)
    events.deliver(part)
    events.deliver(part)  # delivered again: each batch finds its marks, entries one by one: nothing
    got, _ = poll(api, org, reader.auth, reconnect)
    expected = {"type": "download", "path": f"/{org}/{repo}/f.txt", "subject": None}
    assert [{k: v for k, v in line.items() if k != "time"} for line in got if line["type"] == "download"] == [
        expected
    ] * 5
    assert {line["time"] for line in got if line["type"] == "download"} == {"2026-12-01T23:59:58.000Z"}


def test_a_failing_login_event_send_does_not_fail_the_request(api, world, monkeypatch):
    """The login event is best effort: an authenticated request succeeds while SQS fails to take it,
    and the next request sends it (nothing remembered the failed send as done)."""
    from botocore.exceptions import ClientError

    from chalicelib.web import logins

    user = world.user()
    sent = []

    def failing(event):
        if isinstance(event, events.LoginSucceeded):
            sent.append(event)
            if len(sent) == 1:
                raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "SendMessage")

    monkeypatch.setattr(logins.events, "publish", failing)
    assert api.get(f"/users/{user.name}", user.auth).status_code == 200
    assert api.get(f"/users/{user.name}", user.auth).status_code == 200
    assert [e.user for e in sent] == [user.name, user.name]  # tried again after the failure


def test_a_batch_looks_up_each_subjects_readers_once(api, scene):
    """The queued subscriber takes an SQS batch: one ``stream_readers`` Query per subject of the batch
    (not per event), its entries appended in order, a redelivery within the batch written once."""
    from infra.local.opcount import count_operations

    org, reader, repo = scene["org"], scene["reader"], scene["repo"]
    _, reconnect = poll(api, org, reader.auth)

    def deleted(path: str) -> events.FileDeleted:
        return events.FileDeleted(
            owner=org, repo=repo, repo_id="r", package="p", version="1", path=path, size=1
        )

    batch = [deleted("a.txt"), deleted("b.txt"), deleted("c.txt")]
    others = [
        events.FileDeleted(
            owner="nobody-here", repo="x", repo_id="r", package="p", version="1", path="z", size=1
        )
    ]
    # Logins of one user and address in one window share a dedup key: one line.
    logins = [events.LoginSucceeded(subject=org, user="someone", ip="192.0.2.7") for _ in range(2)]
    records = [{"messageId": e.id, "body": e.to_json()} for e in [*batch, batch[0], *logins, *others]]
    with count_operations() as operations:
        assert events.consume({"Records": records}) == 7
    assert operations["Query"] == 2  # one per subject: the organisation and nobody-here
    lines, _ = poll(api, org, reader.auth, reconnect)
    paths = [f"/{org}/{repo}/{p}" for p in ("a.txt", "b.txt", "c.txt")]
    assert [line.get("path", line["type"]) for line in lines] == [*paths, "login_success"]
