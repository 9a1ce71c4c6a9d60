"""Tracing, structured logs and metrics, end to end through the local gateway: tracing started
towards a UDP socket of this test (a stand-in for the X-Ray daemon), JSON logs and EMF lines captured
from the root logger, then a realistic sequence of requests (a user created with a password, a login
with a wrong key, an upload, a plan refusal, a signed URL and its download, access keys, a webhook
call); then the segments received and every line written are checked.

The sequence runs once for the module; tracing is stopped afterwards (the SDK's patches stay in this
interpreter but pass every call through), JSON logs and metrics are turned off again.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import app as app_module
from chalicelib.config import settings
from chalicelib.telemetry import logs, tracing
from infra.local.gateway import LambdaContext
from tests.conftest import Api, unique

PASSWORD = "correct-horse-battery-staple-42"
WRONG_KEY = "wrong-key-f00dfeedcafe1234"
ACCESS_KEY_PASSWORD = "access-key-pass-77aa88bb99cc"
UPLOAD = b"observed " * 256


class Daemon:
    """A UDP listener playing the X-Ray daemon: keeps every entity (segment or subsegment) sent."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # no drop when busy
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.datagrams.append(self.sock.recv(65536))
            except TimeoutError:
                continue
            except OSError:
                return

    def entities(self) -> list[dict[str, Any]]:
        found = []
        for datagram in list(self.datagrams):
            header, _, body = datagram.decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            found.append(json.loads(body))
        return found

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver: keeps the trace header of each call (the server's outbound HTTP)."""

    calls: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Hook.calls.append(self.headers.get("X-Amzn-Trace-Id") or "")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def run(api: Api, admin: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """Tracing and JSON logs on, the sequence played, both off again; what was sent and written."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SHELF_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")  # the webhook listener is on loopback
    settings.cache_clear()
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    daemon = Daemon()
    output = io.StringIO()
    tracing.start(daemon.address)
    handler = logs.capture(output)
    try:
        secrets = play(api, admin, f"http://127.0.0.1:{hook.server_port}/hook")
        # A background function (an SQS consumer) invoked as Lambda would, outside any request.
        app_module.upload_events({"Records": []}, LambdaContext())
        deadline = time.monotonic() + 2
        while len(daemon.datagrams) < 14 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # the last datagrams
    finally:
        tracing.stop()
        logs.release(handler)
        daemon.close()
        hook.shutdown()
        patch.undo()
        settings.cache_clear()
    yield {"entities": daemon.entities(), "lines": output.getvalue().splitlines(), "secrets": secrets}


def play(api: Api, admin: tuple[str, str], hook_url: str) -> dict[str, str]:
    """The sequence of requests; returns the secrets that went over the wire, by name."""
    name, free_name = unique("obs"), unique("free")
    body = {"email": f"{name}@example.com", "password": PASSWORD, "plan": "premium"}
    user = api.put(f"/api/security/users/{name}", admin, json=body)
    assert user.status_code == 201, user.text
    key = user.json()["api_key"]
    free = api.put(f"/api/security/users/{free_name}", admin, json={"email": "free@example.com"})
    assert free.status_code == 201, free.text
    auth, free_auth = (name, key), (free_name, free.json()["api_key"])
    assert api.get(f"/repos/{name}", (name, WRONG_KEY)).status_code == 401
    assert api.post(f"/repos/{name}/generic", auth, json={"type": "generic"}).status_code == 201
    package = {"name": "tool", "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
    assert api.post(f"/packages/{name}/generic", auth, json=package).status_code == 201
    put = api.put(f"/content/{name}/generic/tool/1.0/tool.bin;publish=1", auth, data=UPLOAD)
    assert put.status_code == 201, put.text
    hook = {"url": hook_url, "method": "post"}
    registered = api.post(f"/webhooks/{name}/generic/tool", auth, json=hook)
    assert registered.status_code == 201, registered.text
    triggered = api.post(f"/webhooks/{name}/generic/tool/1.0", auth, json={})
    assert triggered.status_code == 200, triggered.text
    # A plan refusal: signed URLs need Premium.
    assert api.post(f"/repos/{free_name}/r", free_auth, json={"type": "generic"}).status_code == 201
    refused = api.post(f"/signed_url/{free_name}/r/x.bin", free_auth, json={"valid_for_secs": 60})
    assert refused.status_code in (400, 403), refused.text
    signed = api.post(f"/signed_url/{name}/generic/tool.bin", auth, json={"valid_for_secs": 60})
    assert signed.status_code == 200, signed.text
    url = urlsplit(signed.json()["url"])
    claims = {k: v[0] for k, v in parse_qs(url.query).items()}
    download = api.get(f"{url.path}?{url.query}")
    assert download.status_code == 302, download.text
    location = download.headers["Location"]
    s3 = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert requests.get(location, timeout=10).content == UPLOAD
    created = api.post(f"/users/{name}/access_keys", auth, json={"password": ACCESS_KEY_PASSWORD})
    assert created.status_code == 201, created.text
    generated = api.post(f"/users/{name}/access_keys", auth, json={})
    assert generated.status_code == 201, generated.text
    return {
        "admin key": admin[1],
        "user api key": key,
        "user password": PASSWORD,
        "wrong key": WRONG_KEY,
        "free user's api key": free_auth[1],
        "signed URL signature": claims["signature"],
        "signed URL id": claims["id"],
        "S3 X-Amz-Signature": s3["X-Amz-Signature"],
        "access key password": ACCESS_KEY_PASSWORD,
        "generated access key password": generated.json()["password"],
    }


def segments(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in run["entities"] if e.get("type") != "subsegment"]


def request_segment(run: dict[str, Any], route_prefix: str, status: int) -> dict[str, Any]:
    found = [
        s
        for s in segments(run)
        if s.get("annotations", {}).get("route", "").startswith(route_prefix)
        and s.get("http", {}).get("response", {}).get("status") == status
    ]
    assert found, [s.get("annotations") for s in segments(run)]
    return found[-1]


def descendants(run: dict[str, Any], entity: dict[str, Any]) -> list[dict[str, Any]]:
    """Every subsegment under ``entity``, whether nested or streamed separately."""
    streamed = [e for e in run["entities"] if e.get("type") == "subsegment"]
    out, stack = [], list(entity.get("subsegments", []))
    stack += [e for e in streamed if e.get("parent_id") == entity["id"]]
    while stack:
        sub = stack.pop()
        out.append(sub)
        stack += sub.get("subsegments", [])
        stack += [e for e in streamed if e.get("parent_id") == sub["id"]]
    return out


def test_upload_segment_annotations_and_aws_subsegments(run: dict[str, Any]) -> None:
    upload = request_segment(run, "PUT /content/", 201)
    assert upload["name"] == "shelf"
    assert upload["annotations"] == {
        "route": "PUT /content/{subject}/{repo}/{file_path+}",
        "subject": upload["annotations"]["subject"],
        "repo": "generic",
        "outcome": "ok",
    }
    assert upload["http"]["request"] == {"method": "PUT", "url": "/content/{subject}/{repo}/{file_path+}"}
    subs = descendants(run, upload)
    operation = [s for s in subs if s.get("namespace") == "local"]
    assert [s["name"] for s in operation] == ["content.upload_content"]
    assert operation[0]["annotations"]["outcome"] == "ok"
    assert operation[0]["annotations"]["subject"].startswith("obs-")
    aws = {(s["name"], s["aws"]["operation"]) for s in subs if s.get("namespace") == "aws"}
    assert ("dynamodb", "TransactWriteItems") in aws and ("dynamodb", "GetItem") in aws
    assert ("s3", "PutObject") in aws
    assert not [s for s in subs if s.get("namespace") == "remote"]  # botocore's HTTP is not traced twice
    # The handler's calls are inside the operation's subsegment; authentication's are before it.
    inside = {(s["name"], s["aws"]["operation"]) for s in descendants(run, operation[0])}
    assert ("s3", "PutObject") in inside


def test_refusals_and_downloads_are_traced(run: dict[str, Any]) -> None:
    wrong_key = request_segment(run, "GET /repos/{subject}", 401)
    assert wrong_key["annotations"]["outcome"] == "refused"
    assert wrong_key["error"] is True
    plan = [s for s in segments(run) if s["annotations"].get("route", "").startswith("POST /signed_url/")]
    outcomes = {s["annotations"]["subject"].split("-")[0]: s["annotations"]["outcome"] for s in plan}
    assert outcomes == {"free": "refused", "obs": "ok"}
    download = request_segment(run, "GET /dl/", 302)
    assert download["annotations"]["outcome"] == "ok"
    aws = {(s["name"], s["aws"]["operation"]) for s in descendants(run, download) if "aws" in s}
    assert ("sqs", "SendMessage") in aws
    assert not any("signature" in json.dumps(e).lower() for e in run["entities"])  # no URL query kept


def test_outbound_http_is_traced(run: dict[str, Any]) -> None:
    webhook = request_segment(run, "POST /webhooks/{subject}/{repo}/{package}/{version}", 200)
    remote = [s for s in descendants(run, webhook) if s.get("namespace") == "remote"]
    assert remote and all(s["http"]["request"]["method"] == "POST" for s in remote)
    assert all(s["http"]["request"]["url"].endswith("/hook") for s in remote)
    assert [s["http"]["response"]["status"] for s in remote if "response" in s["http"]] == [200]
    # The trace header went out with the call, naming this trace.
    assert Hook.calls and f"Root={webhook['trace_id']}" in Hook.calls[-1]


def test_background_functions_are_traced(run: dict[str, Any]) -> None:
    (consumer,) = [s for s in segments(run) if s["annotations"]["route"].startswith("SQSEvent")]
    assert consumer["annotations"] == {"route": "SQSEvent shelf-local", "outcome": "ok"}
    assert [s["name"] for s in descendants(run, consumer)] == ["SQSEvent shelf-local"]


def test_redaction_of_what_would_leak() -> None:
    """The safety net of every log line: what a careless log call could carry is redacted."""
    line = (
        "GET /dl/a/r/f.bin?expiry=1&id=tok3n&signature=s1gn -> 302 https://s3.example/b/k?"
        "X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc123 "
        "Authorization: Basic YWRtaW46c2VrcmV0a2V5 {'api_key': 'k3y', \"password\": \"pw\"} secret=x"
    )
    cleaned = logs.redact(line)
    for secret in ("tok3n", "s1gn", "AKIA", "abc123", "YWRtaW46c2VrcmV0a2V5", "k3y", '"pw"', "secret=x"):
        assert secret not in cleaned
    assert cleaned.startswith("GET /dl/a/r/f.bin?expiry=1&id=[REDACTED]&signature=[REDACTED] -> 302")


def test_log_lines_are_json_with_request_ids(run: dict[str, Any]) -> None:
    parsed = [json.loads(line) for line in run["lines"]]  # every line is one JSON object
    access = [p for p in parsed if p.get("logger") == "shelf.access"]
    assert len(access) >= 14
    for entry in access:
        assert entry["request_id"] and entry["route"] and isinstance(entry["status"], int)
        assert entry["level"] == "INFO" and entry["timestamp"].endswith("Z")
        assert entry["message"] == f"{entry['route']} -> {entry['status']}"
    upload = next(p for p in access if p["route"].startswith("PUT /content/"))
    assert (upload["repo"], upload["status"]) == ("generic", 201)
    assert upload["xray_trace_id"].startswith("1-")
    assert len({p["request_id"] for p in access}) == len(access)


def test_no_secret_in_any_log_line(run: dict[str, Any]) -> None:
    text = "\n".join(run["lines"])
    assert text
    for name, secret in run["secrets"].items():
        assert len(secret) >= 8, name
        assert secret not in text, f"the {name} appears in the server's output"


def test_emf_metrics(run: dict[str, Any]) -> None:
    emf = [json.loads(line) for line in run["lines"] if line.startswith('{"_aws"')]
    assert emf
    for doc in emf:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Shelf" and directive["Dimensions"] == [["Stage"]]
        for metric in directive["Metrics"]:
            assert isinstance(doc[metric["Name"]], (int, float))
        assert doc["Stage"] == "local"
    upload = next(d for d in emf if d.get("route", "").startswith("PUT /content/"))
    assert (upload["Uploads"], upload["UploadBytes"], upload["Publishes"]) == (1, len(UPLOAD), 1)
    units = {m["Name"]: m["Unit"] for m in upload["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["UploadBytes"] == "Bytes" and units["Latency"] == "Milliseconds"
    download = next(d for d in emf if d.get("route", "").startswith("GET /dl/"))
    assert (download["Downloads"], download["DownloadBytes"], download["Errors"]) == (1, len(UPLOAD), 0)
    wrong = next(d for d in emf if d.get("status") == 401)
    assert (wrong["Refusals"], wrong["Errors"], wrong["Requests"]) == (1, 0, 1)
    plan = next(d for d in emf if d["route"].startswith("POST /signed_url/") and d.get("PlanRefusals"))
    assert (plan["Refusals"], plan["PlanRefusals"], plan["subject"][:5]) == (1, 1, "free-")


def test_tracing_off_imports_no_sdk() -> None:
    """A cold start without tracing pays nothing for it: ``import app`` imports no X-Ray SDK."""
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in ("SHELF_TRACING", "SHELF_LOG_FORMAT")}
    sdk = "{'aws_xray_sdk', 'wrapt'}"
    code = f"import sys, app; print(sorted({{m.split('.')[0] for m in sys.modules}} & {sdk}))"
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-c", code]
    out = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
