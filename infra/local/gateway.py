"""A local API Gateway (REST, Lambda proxy integration) in front of the Chalice app.

It matches request paths against the app's resources exactly as API Gateway does — literal
segments first, then the single path variable of a level, then a greedy ``{name+}`` variable that
takes the rest of the path — and hands the app the same proxy event API Gateway would. ``chalice
local`` does not route greedy paths, so ``make serve`` and the HTTP tests use this instead.

Like the platform, it never carries a body larger than Lambda's payload limit into the function: a
request whose Content-Length exceeds ``max_body`` (6 MB, base64-encoded: about 4.5 MiB of file) reaches
the app with ``body: None`` and its headers; the gateway reads and discards the body, so the client gets
the app's answer (for uploads a 307 to S3, which python-requests follows by resending the body) instead
of a broken pipe. A body without Content-Length that grows past the limit gets 413. In AWS the same role
is played by a front such as a CloudFront function, because API Gateway itself refuses bodies over
10 MB and Lambda refuses events over 6 MB (see docs/architecture.md, "Large files").

Example::

    from werkzeug.serving import run_simple
    run_simple("127.0.0.1", 8000, LocalGateway(app))
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from chalicelib import waits
from chalicelib.telemetry import logs

MISSING_TOKEN = {"message": "Missing Authentication Token"}
#: Lambda's request payload limit; binary bodies travel base64-encoded (4 bytes for 3).
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
MAX_BODY = LAMBDA_PAYLOAD_LIMIT * 3 // 4
TOO_LARGE = {"message": "Request body too large: send a Content-Length header with bodies over 4.5 MiB"}
_CHUNK = 1024 * 1024
_READ = object()


@dataclass
class Resource:
    """One level of the resource tree."""

    path: str | None = None  # set when a resource with methods ends here
    literals: dict[str, Resource] = field(default_factory=dict)
    variable: tuple[str, Resource] | None = None
    greedy: tuple[str, Resource] | None = None


class RouteConflict(ValueError):
    """The route table cannot be deployed on API Gateway."""


def build_tree(paths: list[str]) -> Resource:
    """The resource tree of ``paths``; raises RouteConflict for what API Gateway refuses."""
    root = Resource()
    for path in paths:
        node = root
        segments = [s for s in path.strip("/").split("/") if s]
        for position, segment in enumerate(segments):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if name.endswith("+"):
                    if position != len(segments) - 1:
                        raise RouteConflict(f"{path}: a greedy variable must be the last segment")
                    slot = "greedy"
                    name = name[:-1]
                else:
                    slot = "variable"
                current = getattr(node, slot)
                other = node.greedy if slot == "variable" else node.variable
                if current is not None and current[0] != name:
                    raise RouteConflict(f"{path}: sibling variables {{{current[0]}}} and {{{name}}}")
                if other is not None:
                    # API Gateway allows one variable resource per level, greedy or not.
                    raise RouteConflict(f"{path}: sibling variables {{{other[0]}}} and {segment}")
                if current is None:
                    current = (name, Resource())
                    setattr(node, slot, current)
                node = current[1]
            else:
                node = node.literals.setdefault(segment, Resource())
        node.path = path if path.startswith("/") else "/" + path
    return root


def match(root: Resource, path: str) -> tuple[str, dict[str, str]] | None:
    """The resource path matching request ``path`` and its decoded path parameters, or None."""
    raw = path.split("?", 1)[0]
    if raw != "/" and raw.endswith("/"):
        raw = raw[:-1]
    segments = raw.strip("/").split("/") if raw.strip("/") else []
    params: dict[str, str] = {}
    found = _walk(root, segments, 0, params)
    if found is None:
        return None
    return found, params


def _walk(node: Resource, segments: list[str], index: int, params: dict[str, str]) -> str | None:
    if index == len(segments):
        return node.path
    segment = segments[index]
    if segment == "":
        return None
    child = node.literals.get(unquote(segment))
    if child is not None:
        found = _walk(child, segments, index + 1, params)
        if found is not None:
            return found
    if node.variable is not None:
        name, child = node.variable
        params[name] = unquote(segment)
        found = _walk(child, segments, index + 1, params)
        if found is not None:
            return found
        del params[name]
    if node.greedy is not None:
        name, child = node.greedy
        if child.path is not None:
            params[name] = unquote("/".join(segments[index:]))
            return child.path
    return None


class LambdaContext:
    """The bits of the Lambda context object the app may read."""

    function_name = "shelf-local"
    memory_limit_in_mb = 1024
    aws_request_id = ""

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalGateway:
    """A WSGI application that turns HTTP requests into API Gateway proxy events for ``app``.

    One request at a time reaches the app, as in one Lambda container.
    """

    def __init__(
        self,
        app: Any,
        stage: str = "api",
        access_log: bool = False,
        binary_media_types: list[str] | None = None,
        max_body: int = MAX_BODY,
        trust_forwarded_for: bool = False,
    ):
        """``trust_forwarded_for``: take the client address from ``X-Forwarded-For`` (tests that play
        clients from elsewhere); otherwise it is the connection's, like API Gateway's ``sourceIp``."""
        self.app = app
        self.trust_forwarded_for = trust_forwarded_for
        self.max_body = max_body
        self.binary_media_types = [t.lower() for t in (binary_media_types or app.api.binary_types)]
        self.stage = stage
        self.access_log = access_log
        self.tree = build_tree(list(app.routes))
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        response = self.handle(request)
        if self.access_log and not logs.installed():  # JSON logs have the app's own access line
            path = logs.redact(request.full_path.rstrip("?"))  # no signature of a signed URL
            print(f"{request.method} {path} -> {response.status_code}", flush=True)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        found = match(self.tree, request.path)
        if found is None:
            return Response(json.dumps(MISSING_TOKEN), 403, content_type="application/json")
        resource, params = found
        if request.method not in self.app.routes.get(resource, {}):
            return Response(json.dumps(MISSING_TOKEN), 403, content_type="application/json")
        body = self.body(request)
        if body is False:
            return Response(json.dumps(TOO_LARGE), 413, content_type="application/json")
        event = self.event(request, resource, params, body)
        with self._lock:
            _serving.gateway = self
            try:
                result = self.app(event, LambdaContext())
            finally:
                _serving.gateway = None
        return self.response(result)

    def _pause(self, seconds: float) -> None:
        """Let other requests run while this thread's request waits (``pause``)."""
        current = getattr(self.app, "current_request", None)
        _serving.gateway = None
        self._lock.release()
        try:
            time.sleep(seconds)
        finally:
            self._lock.acquire()
            _serving.gateway = self
            self.app.current_request = current  # Chalice reads it again after the view returns

    def body(self, request: Request) -> bytes | None | bool:
        """The body the function may receive: None when it is over ``max_body`` (read and discarded),
        False when it has no Content-Length and grows past the limit."""
        length = request.content_length
        if length is not None and length > self.max_body:
            while request.stream.read(_CHUNK):
                pass
            return None
        if length is not None:
            return request.get_data()
        data = request.stream.read(self.max_body + 1)
        if len(data) > self.max_body:
            while request.stream.read(_CHUNK):
                pass
            return False
        return data

    def event(
        self, request: Request, resource: str, params: dict[str, str], body_bytes: Any = _READ
    ) -> dict[str, Any]:
        """The API Gateway REST proxy event for ``request`` (``body_bytes`` as returned by ``body``)."""
        if body_bytes is _READ:
            body_bytes = self.body(request)
        headers = {key: value for key, value in request.headers.items()}
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            multi_headers.setdefault(key, []).append(value)
        query = {key: values[-1] for key, values in request.args.lists()}
        multi_query = {key: values for key, values in request.args.lists()}
        is_binary = self._is_binary(request.headers.get("Content-Type", ""))
        if not body_bytes:
            body: str | None = None
        elif is_binary:
            body = base64.b64encode(body_bytes).decode("ascii")
        else:
            body = body_bytes.decode("utf-8", errors="replace")
        source_ip = request.remote_addr or "127.0.0.1"
        if self.trust_forwarded_for and request.headers.get("X-Forwarded-For"):
            source_ip = request.headers["X-Forwarded-For"].split(",")[0].strip()
        return {
            "resource": resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": resource,
                "httpMethod": request.method,
                "path": f"/{self.stage}{request.path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": source_ip.strip(), "userAgent": request.headers.get("User-Agent")},
            },
            "body": body,
            "isBase64Encoded": is_binary and body is not None,
        }

    def _is_binary(self, content_type: str) -> bool:
        content_type = content_type.split(";")[0].strip().lower()
        types = self.binary_media_types
        return "*/*" in types or (bool(content_type) and content_type in types)

    @staticmethod
    def response(result: dict[str, Any]) -> Response:
        """The HTTP response for the app's proxy result."""
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        response = Response(data, status=result.get("statusCode", 200))
        response.headers.clear()
        for key, value in (result.get("headers") or {}).items():
            response.headers[key] = value
        for key, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(key, value)
        response.headers.setdefault("Content-Type", "application/json")
        return response


#: The gateway whose app this thread is running, if any.
_serving = threading.local()


def pause(seconds: float) -> None:
    """``waits.pause`` under a local gateway: the app serves one request at a time, so a request that
    waits (a long poll) lets others run meanwhile, as other Lambda containers would."""
    gateway: LocalGateway | None = getattr(_serving, "gateway", None)
    if gateway is None:
        time.sleep(seconds)
    else:
        gateway._pause(seconds)


waits.pause = pause
