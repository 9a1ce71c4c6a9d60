"""URL signing, signed downloads, callbacks, key regeneration and dynamic ($latest) downloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from chalicelib import netsafety
from chalicelib.accounts.models import Subject
from chalicelib.auth import signed_urls
from chalicelib.content import signing
from chalicelib.errors import BadRequest
from tests.conftest import unique

PUBLIC_CALLBACK = "http://93.184.216.34/hook?cb=%callback_id"


def upload(api, owner, repo, package, version, path, data=b"data", publish=True):
    flag = "?publish=1" if publish else ""
    response = api.put(
        f"/content/{owner.name}/{repo}/{package}/{version}/{path}{flag}", owner.auth, data=data
    )
    assert response.status_code == 201, response.text
    return path


@pytest.fixture
def scene(api, world):
    """A premium user with a private repository holding a published and an unpublished file."""
    owner = world.user(plan="premium")
    repo = world.repo(owner.name, private=True)
    package = world.package(owner.name, repo)
    upload(api, owner, repo, package, "1.0", "a/one.bin", b"one")
    upload(api, owner, repo, package, "1.0", "a/two.bin", b"two")
    upload(api, owner, repo, package, "1.1", "a/draft.bin", b"draft", publish=False)
    return {"owner": owner, "repo": repo, "package": package}


def sign(api, scene, path="a/one.bin", auth=None, params=None, **body):
    owner = scene["owner"]
    return api.post(
        f"/signed_url/{owner.name}/{scene['repo']}/{path}", auth or owner.auth, json=body, params=params
    )


def signed(api, scene, path="a/one.bin", **body) -> str:
    """The signed URL, relative to the test server."""
    response = sign(api, scene, path, **body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"url"}
    url = response.json()["url"]
    assert url.startswith(f"{api.base_url}/dl/{scene['owner'].name}/{scene['repo']}/{path}?")
    return url[len(api.base_url) :]


def with_query(url: str, **changes: str) -> str:
    path, _, query = url.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    params.update(changes)
    return path + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def assert_forbidden(response, text: str = "") -> None:
    assert response.status_code == 403, response.text
    assert set(response.json()) == {"message"}
    assert text in response.json()["message"]


# --- round trip ------------------------------------------------------------------------------------


def test_signed_url_downloads_private_file_anonymously(api, scene):
    url = signed(api, scene)
    query = parse_qs(urlsplit(url).query)
    assert set(query) == {"expiry", "id", "signature"}
    expiry = int(query["expiry"][0])
    assert abs(expiry - (signing.now_ms() + 24 * 3600 * 1000)) < 60_000
    response = api.get(url)
    assert response.status_code == 302, response.text
    assert "one.bin" in unquote(response.headers["Location"])  # the presigned S3 URL names the file
    assert api.request("HEAD", url).status_code == 302
    unsigned = url.partition("?")[0]
    assert api.get(unsigned).status_code == 401  # an anonymous download of the private repository


def test_signed_url_carries_the_requested_expiry(api, scene):
    expiry = signing.now_ms() + 3_600_000
    url = signed(api, scene, expiry=expiry)
    assert parse_qs(urlsplit(url).query)["expiry"] == [str(expiry)]
    assert api.get(url).status_code == 302


def test_signed_url_does_not_reveal_unpublished_files(api, scene):
    url = signed(api, scene, "a/draft.bin")
    assert api.get(url).status_code == 404


def test_signed_url_of_missing_file_is_404(api, scene):
    response = sign(api, scene, "a/missing.bin")
    assert response.status_code == 404
    assert set(response.json()) == {"message"}


def test_signed_url_expires(api, scene, monkeypatch):
    url = signed(api, scene, valid_for_secs=1)
    assert api.get(url).status_code == 302
    real = signed_urls.now_ms
    monkeypatch.setattr(signed_urls, "now_ms", lambda: real() + 2_000)  # the verifier's clock
    assert_forbidden(api.get(url), "expired")


def test_signed_url_with_past_expiry_is_403(api, scene):
    subject = Subject.get(scene["owner"].name)
    query = signing.signed_query(subject, scene["repo"], "a/one.bin", signing.now_ms() - 1_000)
    assert_forbidden(api.get(f"/dl/{subject.name}/{scene['repo']}/a/one.bin?{query}"), "expired")


def test_forged_signature_is_403(api, scene):
    url = signed(api, scene)
    sig = parse_qs(urlsplit(url).query)["signature"][0]
    forged = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert_forbidden(api.get(with_query(url, signature=forged)), "not valid")
    assert_forbidden(api.get(with_query(url, signature="x")))
    assert_forbidden(api.get(url.partition("?")[0] + "?signature=abc"), "incomplete")


def test_tampered_path_expiry_or_id_is_403(api, scene):
    url = signed(api, scene)
    query = parse_qs(urlsplit(url).query)
    assert_forbidden(api.get(url.replace("a/one.bin", "a/two.bin")))
    assert_forbidden(api.get(with_query(url, expiry=str(int(query["expiry"][0]) + 1000))))
    token = query["id"][0]
    assert_forbidden(api.get(with_query(url, id=("A" if token[0] != "A" else "B") + token[1:])))


def test_signature_of_another_subject_is_403(api, world, scene):
    other = {"owner": world.user(plan="premium")}
    other["repo"] = world.repo(other["owner"].name, private=True)
    other["package"] = world.package(other["owner"].name, other["repo"])
    upload(api, other["owner"], other["repo"], other["package"], "1.0", "a/one.bin")
    url = signed(api, other)
    moved = url.replace(
        f"/dl/{other['owner'].name}/{other['repo']}/", f"/dl/{scene['owner'].name}/{scene['repo']}/"
    )
    assert_forbidden(api.get(moved))


def test_keypair_regeneration_revokes_outstanding_urls(api, scene):
    old = signed(api, scene)
    assert api.get(old).status_code == 302
    response = api.post(f"/subjects/{scene['owner'].name}/keypair", scene["owner"].auth)
    assert response.status_code == 201, response.text
    assert response.json() == {"message": "success"}
    assert_forbidden(api.get(old), "not valid")
    assert api.get(signed(api, scene)).status_code == 302


def test_first_use_key_is_shared_by_concurrent_first_uses(world):
    owner = world.user(plan="premium")
    a, b = Subject.get(owner.name), Subject.get(owner.name)
    assert a.url_signing_key is None
    key_a = signing.signing_key(a)
    key_b = signing.signing_key(b)  # b still believes there is no key: the conditional write loses
    assert key_a == key_b and len(key_a) == 32
    assert signing.signing_key(Subject.get(owner.name)) == key_a


# --- request validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"expiry": 99999999999999, "valid_for_secs": 30}, "mutually exclusive"),
        ({"expiry": 1000}, "expiry"),
        ({"valid_for_secs": 0}, "valid_for_secs"),
        ({"valid_for_secs": "30"}, "valid_for_secs"),
        ({"callback_email": "a@example.com"}, "callback_id"),
        ({"callback_id": "c", "callback_email": "nope"}, "callback_email"),
        ({"callback_url": PUBLIC_CALLBACK, "callback_method": "DELETE"}, "callback_method"),
    ],
)
def test_invalid_signed_url_requests_are_400(api, scene, body, text):
    response = sign(api, scene, **body)
    assert response.status_code == 400, response.text
    assert text in response.json()["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "not a url",
        "http:///nohost",
    ],
)
def test_unsafe_callback_urls_are_400(api, scene, url):
    response = sign(api, scene, callback_id="c1", callback_url=url)
    assert response.status_code == 400, response.text
    assert "callback_url" in response.json()["message"]


def test_public_callback_url_is_accepted(api, scene):
    url = signed(api, scene, callback_id="c1", callback_email="x@example.com", callback_url=PUBLIC_CALLBACK)
    assert api.get(url).status_code == 302


# --- plans and permissions -------------------------------------------------------------------------


def test_oss_subject_has_no_url_signing_or_dynamic_download(api, world):
    owner = world.user(plan="oss")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    upload(api, owner, repo, package, "1.0", "x/1.0/f.bin")
    must_be_premium = {"message": f"Repository '/{owner.name}/{repo}' must be premium"}
    for response in (
        api.post(f"/signed_url/{owner.name}/{repo}/x/1.0/f.bin", owner.auth, json={}),
        api.get(f"/content/{owner.name}/{repo}/x/$latest/f.bin", params={"bt_package": package}),
    ):
        assert response.status_code == 403 and response.json() == must_be_premium, response.text
    # Observed: regenerating the key is a subject feature (400).
    response = api.post(f"/subjects/{owner.name}/keypair", owner.auth)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": f"This action is not allowed for none-premium subject {owner.name}"}


def test_signed_url_permissions(api, world, scene):
    stranger = world.user(plan="premium")
    public = world.repo(scene["owner"].name)
    world.package(scene["owner"].name, public, name="pub")
    upload(api, scene["owner"], public, "pub", "1.0", "p.bin")
    owner = scene["owner"].name
    assert api.post(f"/signed_url/{owner}/{scene['repo']}/a/one.bin", json={}).status_code == 401
    assert (
        api.post(f"/signed_url/{owner}/{scene['repo']}/a/one.bin", stranger.auth, json={}).status_code == 404
    )
    assert api.post(f"/signed_url/{owner}/{public}/p.bin", stranger.auth, json={}).status_code == 403
    assert api.post(f"/subjects/{owner}/keypair").status_code == 401
    assert api.post(f"/subjects/{owner}/keypair", stranger.auth).status_code == 403


def test_org_keypair_needs_org_admin_and_signing_needs_publish(api, world):
    owner, admin_user, member, stranger = (world.user() for _ in range(4))
    org = world.org(owner, plan="premium")
    world.member(org, admin_user, "admin")
    world.member(org, member, "member")
    repo = world.repo(org, private=True)
    world.team(org, [member], {repo: "publish"})  # members publish through teams
    package = world.package(org, repo)
    response = api.put(f"/content/{org}/{repo}/{package}/1.0/f.bin?publish=1", member.auth, data=b"x")
    assert response.status_code == 201, response.text
    assert api.post(f"/signed_url/{org}/{repo}/f.bin", member.auth, json={}).status_code == 200
    assert api.post(f"/subjects/{org}/keypair", member.auth).status_code == 403
    assert api.post(f"/subjects/{org}/keypair", stranger.auth).status_code == 403
    assert api.post(f"/subjects/{org}/keypair", admin_user.auth).status_code == 201
    assert api.post(f"/subjects/{unique('nobody')}/keypair", admin_user.auth).status_code == 404


# --- encrypt=true ----------------------------------------------------------------------------------


def test_encrypted_response_with_given_secret(api, scene):
    response = sign(api, scene, params={"encrypt": "true"}, secret="s3cr3t")
    assert response.status_code == 200, response.text
    assert response.headers["X-Bintray-Secret"] == "s3cr3t"
    payload = json.loads(signing.decrypt_payload("s3cr3t", response.text))
    assert set(payload) == {"url"}
    assert api.get(payload["url"][len(api.base_url) :]).status_code == 302


def test_encrypted_response_with_generated_secret(api, scene):
    response = sign(api, scene, params={"encrypt": "true"})
    assert response.status_code == 200, response.text
    secret = response.headers["X-Bintray-Secret"]
    assert len(secret) >= 32
    raw = base64.b64decode(response.text)
    assert len(raw) % 16 == 0 and len(raw) >= 32  # IV + whole AES blocks
    # The documented scheme, independently of signing.decrypt_payload:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.sha256(secret.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    plain = padded[: -padded[-1]]
    assert json.loads(plain)["url"].startswith(api.base_url + "/dl/")
    assert "X-Bintray-Secret" not in sign(api, scene).headers


# --- download events and callbacks -----------------------------------------------------------------


def test_signed_download_records_callback_in_event(api, scene, queued_events):
    from chalicelib.events import Downloaded

    url = signed(
        api,
        scene,
        callback_id="user254",
        callback_url=PUBLIC_CALLBACK,
        callback_method="put",
        callback_email="a@b.io",
    )
    assert api.get(url).status_code == 302
    events = [e for e in queued_events if isinstance(e, Downloaded)]
    assert len(events) == 1
    event = events[0]
    assert event.callback_id == "user254"
    assert event.callback_url == PUBLIC_CALLBACK
    assert event.callback_method == "PUT"
    assert event.callback_email == "a@b.io"
    assert event.user is None and event.path == "a/one.bin"
    queued_events.clear()
    assert (
        api.get(f"/dl/{scene['owner'].name}/{scene['repo']}/a/one.bin", scene["owner"].auth).status_code
        == 302
    )
    assert [e.callback_id for e in queued_events if isinstance(e, Downloaded)] == [None]


class _Recorder(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.calls.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_HEAD = _handle

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook_server():
    _Recorder.calls = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Recorder.calls
    server.shutdown()
    server.server_close()


def _event(owner: str, url: str, method: str | None = None) -> dict:
    return {
        "owner": owner,
        "repo": "r1",
        "package": "pkg",
        "version": "1.2.1",
        "path": "a/b/release.bin",
        "ip": "192.10.2.34",
        "callback_id": "malcolm",
        "callback_url": url,
        "callback_method": method,
    }


def test_perform_callback_calls_the_url_with_hmac(world, hook_server, monkeypatch):
    base, calls = hook_server
    monkeypatch.setattr(netsafety, "_address_refused", lambda address: False)  # allow the loopback server
    owner = world.user(plan="premium")
    assert signing.perform_callback(_event(owner.name, base + "/hook?id=%callback_id")) == 200
    assert len(calls) == 1
    call = calls[0]
    assert call["method"] == "POST" and call["path"] == "/hook?id=malcolm"
    assert json.loads(call["body"]) == {
        "subject": owner.name,
        "repo": "r1",
        "package": "pkg",
        "version": "1.2.1",
        "file_path": "a/b/release.bin",
        "callback_id": "malcolm",
        "ip_address": "192.10.2.34",
    }
    key = signing.signing_key(Subject.get(owner.name))
    want = base64.b64encode(hmac.new(key, f"{owner.name}/r1/a/b/release.bin".encode(), hashlib.md5).digest())
    assert call["headers"]["X-Bintray-Callback-Hmac"] == want.decode()
    assert signing.perform_callback(_event(owner.name, base + "/g", "GET")) == 200
    assert calls[1]["method"] == "GET" and calls[1]["body"] == b""
    assert signing.perform_callback(_event(owner.name, None)) is None


@pytest.mark.parametrize(
    "url",
    [
        "{base}/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "ftp://93.184.216.34/hook",
        "gopher://93.184.216.34/",
    ],
)
def test_perform_callback_refuses_unsafe_targets(world, hook_server, url):
    base, calls = hook_server
    owner = world.user(plan="premium")
    assert netsafety.unsafe_reason(url.format(base=base)) is not None
    assert signing.perform_callback(_event(owner.name, url.format(base=base))) is None
    assert calls == []


def test_public_addresses_are_safe():
    assert netsafety.unsafe_reason("https://93.184.216.34/x") is None
    assert netsafety.unsafe_reason("http://[2606:2800:220:1:248:1893:25c8:1946]:8080/x") is None
    with pytest.raises(BadRequest) as raised:
        netsafety.check_public_url("http://127.0.0.1/", "callback_url")
    assert "callback_url" in str(raised.value)


# --- dynamic download ------------------------------------------------------------------------------


@pytest.fixture
def versions_scene(api, world):
    owner = world.user(plan="premium")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    for version in ("1.0", "2.0"):
        upload(api, owner, repo, package, version, f"lib/{version}/app-{version}.bin", version.encode())
        upload(api, owner, repo, package, version, f"lib/{version}/app.bin", version.encode())
    upload(api, owner, repo, package, "3.0", "lib/3.0/app.bin", b"3.0", publish=False)
    return {"owner": owner, "repo": repo, "package": package}


def _follow(api, response) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(api.base_url + "/dl/")
    return location[len(api.base_url) :]


def test_dynamic_download_resolves_latest_published_version(api, versions_scene):
    s = versions_scene
    prefix = f"/content/{s['owner'].name}/{s['repo']}"
    for response in (
        api.get(f"{prefix}/lib/$latest/app.bin", params={"bt_package": s["package"]}),
        api.get(f"{prefix}/lib/$latest/app.bin;bt_package={s['package']}"),
        api.get(f"{prefix}/lib/$latest/app.bin", headers={"X-Bintray-Package": s["package"]}),
        api.get(f"{prefix}/lib/$latest/app.bin", s["owner"].auth, params={"bt_package": s["package"]}),
    ):
        target = _follow(api, response)
        assert target.startswith(f"/dl/{s['owner'].name}/{s['repo']}/lib/2.0/app.bin?")
        expiry = int(parse_qs(urlsplit(target).query)["expiry"][0])
        assert 0 < expiry - signing.now_ms() <= signing.DYNAMIC_VALID_SECONDS * 1000
        assert api.get(target).status_code == 302
    target = _follow(
        api, api.get(f"{prefix}/lib/$latest/app-$latest.bin", params={"bt_package": s["package"]})
    )
    assert target.startswith(f"/dl/{s['owner'].name}/{s['repo']}/lib/2.0/app-2.0.bin?")


def test_dynamic_download_link_expires_after_15_seconds(api, versions_scene, monkeypatch):
    s = versions_scene
    response = api.get(
        f"/content/{s['owner'].name}/{s['repo']}/lib/$latest/app.bin", params={"bt_package": s["package"]}
    )
    target = _follow(api, response)
    real = signed_urls.now_ms
    monkeypatch.setattr(signed_urls, "now_ms", lambda: real() + 16_000)  # the verifier's clock
    assert_forbidden(api.get(target), "expired")


def test_dynamic_download_errors(api, world, versions_scene):
    s = versions_scene
    prefix = f"/content/{s['owner'].name}/{s['repo']}"
    response = api.get(f"{prefix}/lib/$latest/app.bin")
    assert response.status_code == 400
    assert "bt_package" in response.json()["message"]
    assert api.get(f"{prefix}/lib/$latest/app.bin", params={"bt_package": "nope"}).status_code == 404
    assert api.get(f"{prefix}/lib/$latest/none.bin", params={"bt_package": s["package"]}).status_code == 404
    empty = world.package(s["owner"].name, s["repo"])
    assert api.get(f"{prefix}/lib/$latest/app.bin", params={"bt_package": empty}).status_code == 404


def test_dynamic_download_of_private_repo_needs_read(api, world):
    owner = world.user(plan="premium")
    repo = world.repo(owner.name, private=True)
    package = world.package(owner.name, repo)
    upload(api, owner, repo, package, "1.0", "lib/1.0/app.bin")
    path = f"/content/{owner.name}/{repo}/lib/$latest/app.bin"
    assert api.get(path, params={"bt_package": package}).status_code == 401  # challenged
    target = _follow(api, api.get(path, owner.auth, params={"bt_package": package}))
    assert api.get(target).status_code == 302  # the signed link works without credentials
