"""Secrets never in responses or logs.

One walk of the API (module fixture ``walk``) with the root logger captured twice, as emitted (the
JSON lines of ``chalicelib.telemetry.logs``, EMF lines included) and raw (each record's message and
traceback before redaction), and every response recorded (status, headers, body). The walk creates
users (one with a password), an Enterprise organisation, API keys (a regenerated one), access keys (a
chosen password, generated ones, a password changed by PATCH, an existence check whose URL carries
``:password``), entitlements and access-key downloads, a passphrase-protected GPG key (imported with
its passphrase, signing with ``X-GPG-PASSPHRASE`` and with the JSON body), webhooks (their secret),
signed URLs (plain and ``encrypt=true``, downloaded, tampered with, revoked), an npm login, uploads
(one answered 307 to a presigned S3 PUT) and downloads (302 to presigned S3 GETs), the CDN origin
secret, and the error paths: wrong, malformed and unknown-scheme credentials, wrong access-key
passwords, wrong passphrases, bad bodies carrying secrets, a Maven Central sync with Sonatype
credentials, and one handler failing with an exception that carries the request (``careless``). The
queued events of the walk are then delivered (webhook calls, callbacks, the event stream).

Which response may carry which secret (``may_carry`` of each call; everything else carries none):

- a user's API key: the answer that created it (PUT /api/security/users 201, POST /api/security/apiKey),
  and ``npm login``'s token (base64 of ``name:key``, the credential npm sends back);
- an access key's password: Create Access Key (201) and an Update Access Key that changed it (the spec's
  update answer shows ``password``); never Get Access Key (the spec's Get answer has no password);
- a webhook's secret: the registration answer (201);
- a signed URL's ``signature`` and ``id``: the POST /signed_url answer that returns the URL; with
  ``encrypt=true`` neither appears in clear, and the ``X-Bintray-Secret`` secret only in that answer;
- an S3 presigned URL's signature: the ``Location`` of the 302/307 that issued it, nowhere else;
- passwords given to the security API, the system administrator's key, wrong keys, GPG passphrases and
  private keys, Sonatype passwords, the CDN origin secret, every ``Authorization`` value: no answer.

No log line, emitted or raw, carries any of them (the raw check excludes the deliberately careless
request, whose exception the redaction must catch: its emitted line is checked like every other). No
DynamoDB item or S3 object holds in clear what is kept hashed, sealed or not at all (``NEVER_STORED``).
Two unit tests pin the redaction forms and the reprs of ``Ctx``, ``Access`` and ``Principal``.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from chalicelib import eventbus, queues
from chalicelib.auth.access_keys import call_existence_check
from chalicelib.config import settings
from chalicelib.telemetry import logs
from infra.local.events import EventPump
from tests.conftest import ADMIN, Api, unique

PASSWORD = "user-password-9f3b2c7d1e"
WRONG_KEY = "wrong-api-key-4a6c8e0f2b"
MALFORMED = "malformed-credential-7d5e3f"
OTHER_SCHEME = "token-scheme-secret-2b4d6f"
ACCESS_PASSWORD = "access-key-password-3c5e7a9b"
PATCHED_PASSWORD = "patched-access-password-8e1a"
CHECK_PASSWORD = "checked-access-password-6f0b"
WRONG_ACCESS_PASSWORD = "wrong-access-password-1d3f"
SPACED_PASSWORD = "spaced-check-password-4b8e"
CIDR_PASSWORD = "cidr-refused-password-7c2a"
LISTED_PASSWORD = "listed-user-password-3e9d"
REJECTED_PASSWORD = "rejected-password-0a2c4e6f"
PASSPHRASE = "gpg-test-passphrase-5e3c91"
WRONG_PASSPHRASE = "wrong-gpg-passphrase-7b9d"
SONATYPE_PASSWORD = "sonatype-password-5a7c9e"
URL_SECRET = "encrypt-secret-4e6a8c0b"
ORIGIN_SECRET = "cdn-origin-secret-9c1e3a5b"
CARELESS_MARKER = "careless-failure-marker"

#: A passphrase-protected (PASSPHRASE) Ed25519 signing key made once by gpg 2.2 with a low S2K count
#: (``gpg --quick-gen-key ... ed25519 sign``, ``s2k-count 65536``): no gpg run in the test.
PROTECTED_KEY = """-----BEGIN PGP PRIVATE KEY BLOCK-----

lIYEaxAlUBYJKwYBBAHaRw8BAQdAZEVHVG8knSbGy0CyKANjXMi/yGcqqQDTmojD
+ZGwo1L+BwMCJoC3uGyHA7Bgb4kjUxJwSHVVLVnzybjn7Y3NvpgS2gwEn/Le99HQ
X7RLqY9ghpZCgmUcEWiss+FROG6quCiwMWJdzymrGg9d3+mrFMHu0bQcU2VjcmV0
cyBUZXN0IDxzQGV4YW1wbGUuY29tPoiQBBMWCAA4FiEEgWDWnksg4+u904RUWhik
vMENNIEFAmsQJVACGwMFCwkIBwIGFQoJCAsCBBYCAwECHgECF4AACgkQWhikvMEN
NIGI8gEAgjodZ4HVZTy5vVhzZ/rSGkF/88z6m7UK9/a0mlKOAqsBAN8Khn8d0uwE
X04VkXF/SI0dMzQrAzzT7auBvqYP/iYH
=VWis
-----END PGP PRIVATE KEY BLOCK-----
"""
#: What identifies the private key's secret part in any text (a base64 line of its secret key packet).
PRIVATE_KEY_PART = "+ZGwo1L+BwMCJoC3uGyHA7Bgb4kjUxJwSHVVLVnzybjn7Y3NvpgS2gwEn/Le99HQ"


@dataclass
class Record:
    """One response: what was asked, what came back, which secrets it may carry."""

    label: str
    status: int
    text: str
    location: str
    may_carry: set[str] = field(default_factory=set)


class Recorder(Api):
    """The tests' client, keeping every response; ``may_carry`` names the secrets an answer may hold."""

    def __init__(self, base_url: str):
        super().__init__(base_url)
        self.records: list[Record] = []

    def request(self, method, path, auth=None, may_carry=(), **kwargs) -> requests.Response:
        response = super().request(method, path, auth, **kwargs)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        label = f"{method} {path.split('?')[0]} -> {response.status_code}"
        text = f"{headers}\n\n{response.content.decode('latin-1')}"
        location = response.headers.get("Location", "")
        self.records.append(Record(label, response.status_code, text, location, set(may_carry)))
        return response


class Listener(BaseHTTPRequestHandler):
    """Webhooks, signed-URL callbacks and existence checks land here (answered 200)."""

    calls: list[str] = []

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Listener.calls.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _answer  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


class RawCapture(logging.Handler):
    """Every record's message and traceback before any formatter redacts them (what callers wrote)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.paused = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.paused.is_set():
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


def basic(name: str, key: str) -> str:
    return base64.b64encode(f"{name}:{key}".encode()).decode()


@pytest.fixture(scope="module")
def walk(api: Api) -> Iterator[dict[str, Any]]:
    """Logs captured, the walk played, events delivered; the records, the lines and the secrets."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SHELF_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")  # the listener is on loopback
    patch.setenv("SHELF_CDN_ORIGIN_SECRET", ORIGIN_SECRET)
    settings.cache_clear()
    listener = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    client = Recorder(api.base_url)
    emitted = io.StringIO()
    raw = RawCapture()
    handler = logs.capture(emitted)
    root = logging.getLogger()
    root.addHandler(raw)
    try:
        pump = EventPump({queues.EVENTS: eventbus.lifecycle_events})
        pump.drain()  # what earlier modules left
        secrets = play(client, f"http://127.0.0.1:{listener.server_port}", raw)
        pump.drain()  # webhook calls, signed-URL callbacks, the event stream, with logs captured
        stream = client.get(f"/stream/{secrets['@org']}", secrets["@owner"])
        assert stream.status_code == 200, stream.text
    finally:
        root.removeHandler(raw)
        logs.release(handler)
        listener.shutdown()
        patch.undo()
        settings.cache_clear()
    names = {k: v for k, v in secrets.items() if not k.startswith("@")}
    stored = stored_text()
    yield {
        "stored": stored,
        "records": client.records,
        "emitted": emitted.getvalue().splitlines(),
        "raw": raw.lines,
        "secrets": names,
        "calls": list(Listener.calls),
    }


def play(api: Recorder, listener: str, raw: RawCapture) -> dict[str, Any]:
    """The walk; returns every secret used or handed out, by name (``@`` names: context, not secrets)."""
    s: dict[str, Any] = {"admin key": ADMIN[1], "admin key (Basic)": basic(*ADMIN)}

    # --- users and API keys ---------------------------------------------------------------------------
    owner, other = unique("sec"), unique("sec")
    body = {"email": f"{owner}@example.com", "password": PASSWORD, "plan": "premium"}
    response = api.put(f"/api/security/users/{owner}", ADMIN, json=body, may_carry={"owner key"})
    assert response.status_code == 201, response.text
    s["owner key"] = response.json()["api_key"]
    s["owner key (Basic)"] = basic(owner, s["owner key"])
    s["user password"] = PASSWORD
    own = (owner, s["owner key"])
    # Replacing the user (a new password) answers no key.
    body = {"email": f"{owner}@example.com", "password": REJECTED_PASSWORD, "plan": "premium"}
    assert api.put(f"/api/security/users/{owner}", ADMIN, json=body).status_code == 200
    s["replaced password"] = REJECTED_PASSWORD
    response = api.put(f"/api/security/users/{other}", ADMIN, json={"email": f"{other}@example.com"})
    s["first other key"] = response.json()["api_key"]
    api.records[-1].may_carry.add("first other key")
    response = api.post("/api/security/apiKey", (other, s["first other key"]), may_carry={"other key"})
    assert response.status_code == 200, response.text
    s["other key"] = response.json()["apiKey"]
    them = (other, s["other key"])
    # A password of the wrong type: a 400 that does not echo it.
    bad = {"email": "x@example.com", "password": [LISTED_PASSWORD]}
    assert api.put(f"/api/security/users/{unique('bad')}", ADMIN, json=bad).status_code == 400
    s["rejected user password"] = LISTED_PASSWORD
    assert api.get(f"/api/security/users/{owner}", ADMIN).status_code == 200
    assert api.get(f"/users/{owner}", own).status_code == 200

    # --- failed authentication --------------------------------------------------------------------------
    s["wrong key"] = WRONG_KEY
    s["wrong key (Basic)"] = basic(owner, WRONG_KEY)
    assert api.get(f"/repos/{owner}", (owner, WRONG_KEY)).status_code == 401
    assert api.get(f"/users/{owner}", (owner, s["first other key"])).status_code == 401  # someone else's
    s["malformed"] = MALFORMED
    for header in (
        f"Basic {MALFORMED}!!",
        f"Bearer {basic(owner, MALFORMED)}",
        f"Token {OTHER_SCHEME}",
        f"Basic {base64.b64encode((':' + MALFORMED).encode()).decode()}",
    ):
        response = api.get(f"/repos/{owner}", headers={"Authorization": header})
        assert response.status_code == 401, (header, response.text)
    s["other scheme"] = OTHER_SCHEME
    s["malformed (Basic)"] = basic(owner, MALFORMED)

    # --- an organisation, repositories, content -------------------------------------------------------
    org = unique("secorg")
    s["@org"], s["@owner"] = org, own
    assert api.put(f"/orgs/{org}", ADMIN, json={"owner": owner, "plan": "enterprise"}).status_code == 201
    assert api.put(f"/orgs/{org}/members/{other}", own, json={"type": "member"}).status_code == 200
    # A protected GPG key for the organisation: a wrong passphrase, garbage, then the right one.
    s["passphrase"], s["wrong passphrase"], s["private key"] = PASSPHRASE, WRONG_PASSPHRASE, PRIVATE_KEY_PART
    keys = f"/orgs/{org}/keys/gpg"
    body = {"private_key": PROTECTED_KEY, "passphrase": WRONG_PASSPHRASE}
    assert api.post(keys, own, json=body).status_code == 400
    garbage = {"private_key": f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n{PRIVATE_KEY_PART}xx\n"}
    assert api.post(keys, own, json=garbage).status_code == 400
    body, headers = {"private_key": PROTECTED_KEY}, {"X-GPG-PASSPHRASE": PASSPHRASE}
    response = api.post(keys, own, json=body, headers=headers)
    assert response.status_code == 201 and response.json()["passphrase_protected"] is True, response.text
    assert api.get(f"{keys}/public.key").status_code == 200

    public, private = "pub", "priv"
    for repo, is_private in ((public, False), (private, True)):
        body = {"type": "generic", "private": is_private, "gpg_use_owner_key": True}
        response = api.post(f"/repos/{org}/{repo}", own, json=body)
        assert response.status_code == 201, response.text
        package = {"name": "pkg", "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
        assert api.post(f"/packages/{org}/{repo}", own, json=package).status_code == 201

    # Uploads (the passphrase signs on publish), a publish, a large upload answered 307.
    for repo in (public, private):
        path = f"/content/{org}/{repo}/pkg/1.0/f.txt?publish=1"
        response = api.put(path, own, data=b"content", headers={"X-GPG-PASSPHRASE": PASSPHRASE})
        assert response.status_code == 201, response.text
    signed = f"/gpg/{org}/{public}/f.txt"
    response = api.post(signed, own, json={}, headers={"X-GPG-PASSPHRASE": WRONG_PASSPHRASE})
    assert response.status_code == 400, response.text
    assert api.post(signed, own, json={"passphrase": PASSPHRASE}).status_code == 200
    large = api.put(
        f"/content/{org}/{public}/pkg/1.0/large.bin",
        own,
        data=b"",
        headers={"X-Shelf-Content-Length": str(5 * 1024 * 1024)},
    )
    assert large.status_code == 307, large.text
    for repo in (public, private):
        assert api.get(f"/dl/{org}/{repo}/f.txt", own).status_code == 302
    assert api.get(f"/content/{org}/{public}/f.txt").status_code == 302

    # --- access keys and entitlements -----------------------------------------------------------------
    s["access password"] = ACCESS_PASSWORD
    keys = f"/orgs/{org}/access_keys"
    body = {"id": "ci", "password": ACCESS_PASSWORD}
    response = api.post(keys, own, json=body, may_carry={"access password"})
    assert response.status_code == 201, response.text
    response = api.post(keys, own, json={"id": "gen"}, may_carry={"generated access password"})
    s["generated access password"] = response.json()["password"]
    response = api.post(f"/users/{owner}/access_keys", own, json={}, may_carry={"user access password"})
    s["user access password"] = response.json()["password"]
    # A bad CIDR next to a password: 400, the password not echoed.
    bad = {"id": "bad", "password": CIDR_PASSWORD, "white_cidrs": ["not-a-cidr"]}
    assert api.post(keys, own, json=bad).status_code == 400
    s["rejected access password"] = CIDR_PASSWORD
    # An existence check whose URL carries the password (the spec's :password token).
    check = {"url": f"{listener}/check?user=:username&pw=:password", "cache_for_secs": 60}
    body = {"id": "chk", "password": CHECK_PASSWORD, "existence_check": check}
    assert api.post(keys, own, json=body, may_carry={"checked password"}).status_code == 201
    s["checked password"] = CHECK_PASSWORD
    # An existence check URL the server could not send (a space in it): refused at creation (it was
    # stored, then each authentication was a 500 whose logged traceback quoted the URL, password
    # included); a key stored so earlier fails its check quietly, the URL not logged.
    check = {"url": f"{listener}/check pw=:password", "cache_for_secs": 60}
    body = {"id": "chk2", "password": SPACED_PASSWORD, "existence_check": check}
    spaced = api.post(keys, own, json=body)
    assert spaced.status_code == 400 and "spaces" in spaced.text, spaced.text
    s["spaced checked password"] = SPACED_PASSWORD
    assert call_existence_check(f"{listener}/check pw={SPACED_PASSWORD}") is None
    response = api.patch(
        f"{keys}/gen", own, json={"password": PATCHED_PASSWORD}, may_carry={"patched access password"}
    )
    assert response.status_code == 200 and response.json()["password"] == PATCHED_PASSWORD, response.text
    s["patched access password"] = PATCHED_PASSWORD
    response = api.patch(f"{keys}/gen", own, json={"password": ""}, may_carry={"regenerated access password"})
    s["regenerated access password"] = response.json()["password"]
    assert api.patch(f"{keys}/gen", own, json={"white_cidrs": ["127.0.0.0/8"]}).status_code == 200
    assert api.get(f"{keys}/ci", them).status_code == 403  # a member: no admin right
    for key_id in ("ci", "gen", "chk"):
        response = api.get(f"{keys}/{key_id}", own)
        assert response.status_code == 200 and "password" not in response.json(), response.text
    assert api.get(keys, own).status_code == 200
    body = {"access": "r", "access_keys": ["ci", "chk"], "tags": ["t"]}
    assert api.post(f"/packages/{org}/{private}/pkg/entitlements", own, json=body).status_code == 201
    assert api.get(f"/packages/{org}/{private}/pkg/entitlements", own).status_code == 200
    assert api.get(f"/search/entitlements?tag=t&scope={org}&deep=true", own).status_code == 200
    assert api.get(f"/dl/{org}/{private}/f.txt", (f"ci@{org}", ACCESS_PASSWORD)).status_code == 302
    assert api.get(f"/dl/{org}/{private}/f.txt", (f"chk@{org}", CHECK_PASSWORD)).status_code == 302
    s["wrong access password"] = WRONG_ACCESS_PASSWORD
    s["wrong access password (Basic)"] = basic(f"ci@{org}", WRONG_ACCESS_PASSWORD)
    wrong = api.get(f"/dl/{org}/{private}/f.txt", (f"ci@{org}", WRONG_ACCESS_PASSWORD))
    assert wrong.status_code == 401, wrong.text
    s["ci password (Basic)"] = basic(f"ci@{org}", ACCESS_PASSWORD)

    # --- webhooks ---------------------------------------------------------------------------------------
    hook = {"url": f"{listener}/hook", "method": "post"}
    response = api.post(f"/webhooks/{org}/{public}/pkg", own, json=hook, may_carry={"webhook secret"})
    assert response.status_code == 201, response.text
    s["webhook secret"] = response.json()["secret"]
    assert api.get(f"/webhooks/{org}", own).status_code == 200
    assert api.get(f"/webhooks/{org}/{public}", own).status_code == 200
    assert api.post(f"/webhooks/{org}/{public}/pkg/1.0", own, json={}).status_code == 200

    # --- signed URLs ----------------------------------------------------------------------------------
    body = {"valid_for_secs": 600, "callback_id": "cb", "callback_url": f"{listener}/callback"}
    carries = {"url signature", "url id"}
    response = api.post(f"/signed_url/{org}/{private}/f.txt", own, json=body, may_carry=carries)
    assert response.status_code == 200, response.text
    url = urlsplit(response.json()["url"])
    claims = {k: v[0] for k, v in parse_qs(url.query).items()}
    s["url signature"], s["url id"] = claims["signature"], claims["id"]
    assert api.get(f"{url.path}?{url.query}").status_code == 302
    tampered = url.query.replace(claims["signature"], claims["signature"][::-1])
    s["tampered signature"] = claims["signature"][::-1]
    assert api.get(f"{url.path}?{tampered}").status_code == 403
    response = api.post(
        f"/signed_url/{org}/{private}/f.txt?encrypt=true",
        own,
        json={"valid_for_secs": 600, "secret": URL_SECRET},
        may_carry={"encrypt secret"},
    )
    assert response.status_code == 200 and response.headers["X-Bintray-Secret"] == URL_SECRET, response.text
    s["encrypt secret"] = URL_SECRET
    assert api.post(f"/subjects/{org}/keypair", own, json={}).status_code == 201  # revokes the URLs
    assert api.get(f"{url.path}?{url.query}").status_code == 403

    # --- npm login, Maven Central sync, the CDN origin secret --------------------------------------------
    body = {"type": "npm"}
    assert api.post(f"/repos/{org}/npm", own, json=body).status_code == 201
    login = f"/npm/{org}/npm/-/user/org.couchdb.user:{owner}"
    body = {"name": owner, "password": s["owner key"]}
    response = api.put(login, json=body, may_carry={"owner key (Basic)"})
    assert response.status_code == 201, response.text
    assert api.put(login, json={"name": owner, "password": WRONG_KEY}).status_code == 401
    assert api.post(f"/repos/{org}/mvn", own, json={"type": "maven"}).status_code == 201
    package = {"name": "lib", "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
    assert api.post(f"/packages/{org}/mvn", own, json=package).status_code == 201
    assert api.post(f"/packages/{org}/mvn/lib/versions", own, json={"name": "1.0"}).status_code == 201
    sync = {"username": "sonatype-user", "password": SONATYPE_PASSWORD, "close": "1"}
    response = api.post(f"/maven_central_sync/{org}/mvn/lib/versions/1.0", own, json=sync)
    assert 400 <= response.status_code < 500, response.text
    s["sonatype password"] = SONATYPE_PASSWORD
    s["origin secret"] = ORIGIN_SECRET
    for secret in (ORIGIN_SECRET, ORIGIN_SECRET + "-wrong"):
        headers = {"X-Shelf-Origin-Secret": secret, "X-Forwarded-For": "203.0.113.9"}
        assert api.get(f"/repos/{org}/{public}", headers=headers).status_code == 200

    # --- a careless failure: a handler's exception carrying the whole request ---------------------------
    from chalicelib.content import services as content_services

    def careless(ctx: Any, path: str) -> None:
        raise RuntimeError(f"{CARELESS_MARKER}: {ctx!r} headers={dict(ctx.headers)!r} body={ctx.raw_body!r}")

    local = pytest.MonkeyPatch()
    local.setattr(content_services, "visible_file", careless)
    raw.paused.set()
    try:
        response = api.post(
            f"/gpg/{org}/{public}/f.txt",
            own,
            json={"passphrase": PASSPHRASE, "private_key": PROTECTED_KEY},
            headers={"X-GPG-PASSPHRASE": PASSPHRASE, "X-Bintray-Secret": URL_SECRET},
        )
    finally:
        raw.paused.clear()
        local.undo()
    assert response.status_code == 500, response.text
    return s


def stored_text() -> list[str]:
    """Every DynamoDB item (Scan: tests only) and every S3 object's key and small body, as text."""
    from chalicelib.db import all_models
    from chalicelib.storage import s3

    out = [json.dumps(item.serialize(), default=str) for model in all_models() for item in model.scan()]
    client, bucket = s3(), settings().bucket
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            small = obj["Size"] <= 1 << 20
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read() if small else b""
            out.append(f"{obj['Key']}\n{body.decode('latin-1')}")
    return out


#: Secrets Shelf keeps only hashed (API keys, passwords) or sealed (GPG secret keys), or not at all (GPG
#: passphrases, wrong credentials): never stored in clear. Not in it: webhook secrets, which key the
#: HMAC of each call, and the signing keys behind signed URLs, kept in clear on purpose.
NEVER_STORED = {
    "admin key",
    "owner key",
    "first other key",
    "other key",
    "user password",
    "replaced password",
    "rejected user password",
    "wrong key",
    "malformed",
    "other scheme",
    "access password",
    "generated access password",
    "user access password",
    "rejected access password",
    "checked password",
    "spaced checked password",
    "patched access password",
    "regenerated access password",
    "wrong access password",
    "passphrase",
    "wrong passphrase",
    "private key",
    "sonatype password",
    "origin secret",
}


def variants(value: str) -> set[str]:
    """How a secret can appear in text: as is, URL-encoded, JSON-escaped."""
    return {value, quote(value, safe=""), json.dumps(value)[1:-1]}


def leaks(text: str, secrets: dict[str, str], allowed: set[str] = frozenset()) -> list[str]:
    """The names of the secrets in ``text`` other than the ``allowed`` ones."""
    return [n for n, v in secrets.items() if n not in allowed and any(form in text for form in variants(v))]


S3_SIGNATURE = re.compile(r"X-Amz-Signature=([0-9a-f]{64})")


def test_the_walk_saw_what_it_meant_to(walk: dict[str, Any]) -> None:
    """Every allowed carrier really carries its secret (the names are right), the outbound calls were
    made (existence check with the password, webhook, callback), and the careless failure was logged."""
    secrets = walk["secrets"]
    for record in walk["records"]:
        for name in record.may_carry:
            assert name in leaks(record.text, secrets), (record.label, name)
    calls = walk["calls"]
    assert any(c.startswith("GET /check?") and quote(CHECK_PASSWORD) in c for c in calls), calls
    assert any(c.startswith("POST /hook") for c in calls), calls
    assert any(c.startswith("POST /callback") for c in calls), calls
    assert any(CARELESS_MARKER in line for line in walk["emitted"])
    assert len(walk["records"]) > 60


def test_no_response_carries_a_secret_it_may_not(walk: dict[str, Any]) -> None:
    found = [
        (record.label, leaks(record.text, walk["secrets"], record.may_carry))
        for record in walk["records"]
        if leaks(record.text, walk["secrets"], record.may_carry)
    ]
    assert not found


def test_presigned_s3_signatures_only_in_their_own_location(walk: dict[str, Any]) -> None:
    """An S3 signature is only in the Location of a redirect that issued it (two redirects to one
    object in one second carry the same one), never in a body, another header or a log line."""
    records = walk["records"]
    issued = {m.group(1) for r in records for m in S3_SIGNATURE.finditer(r.location)}
    # The 307 (a PUT's signature) and the 302s of the downloads (a GET's: one object's downloads within
    # one second carry the same signature, so how many differ depends on the clock).
    assert len([r for r in records if S3_SIGNATURE.search(r.location)]) >= 3 and len(issued) >= 2
    for record in records:
        for signature in issued:
            assert record.text.count(signature) == record.location.count(signature), record.label
    for signature in issued:
        assert not any(signature in line for line in walk["emitted"] + walk["raw"])


def test_no_emitted_log_line_carries_a_secret(walk: dict[str, Any]) -> None:
    lines = walk["emitted"]
    assert len(lines) > 80
    found = [(line[:300], leaks(line, walk["secrets"])) for line in lines if leaks(line, walk["secrets"])]
    assert not found


def test_no_log_call_hands_a_secret_to_the_logger(walk: dict[str, Any]) -> None:
    """Before redaction too: redaction is the safety net, not how secrets stay out of logs."""
    lines = walk["raw"]
    assert len(lines) > 60
    found = [(line[:300], leaks(line, walk["secrets"])) for line in lines if leaks(line, walk["secrets"])]
    assert not found


def test_nothing_stored_in_clear(walk: dict[str, Any]) -> None:
    """No DynamoDB item or S3 object holds a secret that is kept hashed, sealed or not at all."""
    secrets = {name: value for name, value in walk["secrets"].items() if name in NEVER_STORED}
    assert set(secrets) == NEVER_STORED
    assert len(walk["stored"]) > 50
    found = [(text[:200], leaks(text, secrets)) for text in walk["stored"] if leaks(text, secrets)]
    assert not found


def test_a_500_answers_nothing_of_the_request(walk: dict[str, Any]) -> None:
    failed = [r for r in walk["records"] if r.status == 500]
    assert len(failed) == 1
    assert CARELESS_MARKER not in failed[0].text
    body = json.loads(failed[0].text.split("\n\n", 1)[1])
    assert set(body) == {"message"}


def test_redaction_of_what_a_careless_message_could_carry() -> None:
    """The forms the safety net learnt here (the walk's careless 500 covers the dict and body reprs)."""
    text = (
        "{'authorization': 'Token t0ken-v4lue x'} Authorization: Digest username=\"u\", response=\"d1g3st\"\n"
        '{\\"password\\": \\"esc4ped\\"} X-GPG-PASSPHRASE: phr4se '
        "-----BEGIN RSA PRIVATE KEY-----\\nMIIcut5hort"
    )
    cleaned = logs.redact(text)
    for secret in ("t0ken-v4lue", "d1g3st", "esc4ped", "phr4se", "MIIcut5hort"):
        assert secret not in cleaned, cleaned
    record = logging.LogRecord("shelf", logging.INFO, __file__, 1, "m", None, None)
    record.fields = {"note": "password=f1eld"}
    assert "f1eld" not in logs.JsonFormatter().format(record)


def test_reprs_leave_the_request_and_the_hashes_out() -> None:
    """An exception message or log call formatting a context carries no header, query, body or hash."""
    from chalicelib.accounts.models import Subject
    from chalicelib.auth.policy import Access
    from chalicelib.auth.principal import Principal
    from chalicelib.web.context import Ctx

    user = Subject("u", api_key_hash="sha256$k3yhash", password_hash="scrypt$pwh4sh", kind="user")
    principal = Principal.of_user(user)
    access = Access(principal=principal, _subject=user)
    request = {"headers": {"x-gpg-passphrase": "phr4se"}, "query": {"signature": "s1g"}}
    ctx = Ctx.of(access, **request, raw_body=b'{"password": "pw"}')
    for text in (repr(principal), repr(access), repr(ctx)):
        for secret in ("k3yhash", "pwh4sh", "phr4se", "s1g", '"pw"'):
            assert secret not in text, text
