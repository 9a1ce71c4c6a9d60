"""A local API Gateway (REST, Lambda proxy integration; or HTTP API, payload 1.0) in front of the Chalice app.

It matches request paths against the app's resources exactly as API Gateway does — literal
segments first, then the single path variable of a level, then a greedy ``{name+}`` variable that
takes the rest of the path — and hands the app the same proxy event API Gateway would. ``chalice
local`` does not route greedy paths, so ``make serve`` and the HTTP tests use this instead.

Like the platform, it never carries a body larger than Lambda's payload limit into the function: a
request whose Content-Length exceeds ``max_body`` (6 MB, base64-encoded: about 4.5 MiB of file) reaches
the app with ``body: None`` and its headers; the gateway reads and discards the body, so the client gets
the app's answer (for uploads a 307 to S3, which python-requests follows by resending the body) instead
of a broken pipe. A body without Content-Length that grows past the limit gets 413. In AWS the same role
is played by CloudFront's upload front (Lambda@Edge, infra/edge/upload_front.py), because API Gateway
refuses bodies over 10 MB and Lambda refuses events over 6 MB (see docs/architecture.md, "Large files").

The deployed API is an HTTP API (``ANY /{proxy+}`` and ``ANY /`` to the function, payload format 1.0):
``event_shape="httpapi"`` (or ``SHELF_TEST_EVENT_SHAPE=httpapi`` in the environment) sends its events
instead, as it does: no route matching here (the app routes them, ``chalicelib/web/httpapi.py``), the path
percent-decoded, header names lowercased, repeated query values joined with commas in
``queryStringParameters``, every body base64-encoded unless its Content-Type is text (``text/*``, JSON,
XML, JavaScript), whatever the binary media types. Playing CloudFront's upload front as it plays the
body withholding, it relabels the Content-Type of ``PUT``/``POST``/``PATCH`` bodies as binary, the
client's in ``X-Shelf-Content-Type`` (``infra/edge/upload_front.py``). The default is REST's shape.

Example::

    from werkzeug.serving import run_simple
    run_simple("127.0.0.1", 8000, LocalGateway(app))
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from chalicelib import waits
from chalicelib.telemetry import logs
from chalicelib.web.resources import Resource, RouteConflict, build_tree, match  # noqa: F401  (re-exported)
from infra.edge import upload_front

MISSING_TOKEN = {"message": "Missing Authentication Token"}
#: Lambda's request payload limit; binary bodies travel base64-encoded (4 bytes for 3).
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
MAX_BODY = LAMBDA_PAYLOAD_LIMIT * 3 // 4
TOO_LARGE = {"message": "Request body too large: send a Content-Length header with bodies over 4.5 MiB"}
_CHUNK = 1024 * 1024
_READ = object()
#: Event shapes: API Gateway REST's proxy event, or an HTTP API's of payload format 1.0.
EVENT_SHAPES = ("rest", "httpapi")
#: Bodies an HTTP API hands over as text (``isBase64Encoded`` false); every other one is base64-encoded.
HTTP_API_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


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
        event_shape: str | None = None,
    ):
        """``trust_forwarded_for``: take the client address from ``X-Forwarded-For`` (tests that play
        clients from elsewhere); otherwise it is the connection's, like API Gateway's ``sourceIp``.
        ``event_shape``: ``rest`` or ``httpapi`` (default: ``SHELF_TEST_EVENT_SHAPE``, else ``rest``)."""
        self.event_shape = event_shape or os.environ.get("SHELF_TEST_EVENT_SHAPE") or "rest"
        if self.event_shape not in EVENT_SHAPES:
            raise ValueError(f"event shape {self.event_shape!r}: one of {', '.join(EVENT_SHAPES)}")
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
        if self.event_shape == "httpapi":  # ANY /{proxy+} and ANY /: every path reaches the function
            body = self.body(request)
            if body is False:
                return Response(json.dumps(TOO_LARGE), 413, content_type="application/json")
            return self.invoke(self.http_api_event(request, body))
        found = match(self.tree, self.raw_path(request))
        if found is None:
            return Response(json.dumps(MISSING_TOKEN), 403, content_type="application/json")
        resource, params = found
        if request.method not in self.app.routes.get(resource, {}):
            return Response(json.dumps(MISSING_TOKEN), 403, content_type="application/json")
        body = self.body(request)
        if body is False:
            return Response(json.dumps(TOO_LARGE), 413, content_type="application/json")
        return self.invoke(self.event(request, resource, params, body))

    @staticmethod
    def raw_path(request: Request) -> str:
        """The request's path still percent-encoded, as API Gateway REST matches it (``match`` decodes each
        segment once; werkzeug's ``request.path`` is decoded already, and a name with ``%2541`` would be
        decoded twice). The server's raw request line where there is one (werkzeug's, gunicorn's)."""
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        if not raw or not raw.startswith("/"):
            return request.path
        return raw.split("?", 1)[0]

    def invoke(self, event: dict[str, Any]) -> Response:
        """Run the app on ``event`` (one at a time, as one container) and answer its result."""
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

    def http_api_event(self, request: Request, body_bytes: Any = _READ) -> dict[str, Any]:
        """The HTTP API (payload format 1.0) event for ``request``, to the route ``ANY /{proxy+}`` (``ANY
        /`` for the root), as the deployed API sends it (see the module's docstring)."""
        if body_bytes is _READ:
            body_bytes = self.body(request)
        path = request.path  # percent-decoded (werkzeug), as HTTP APIs deliver it
        resource = "/" if path == "/" else "/{proxy+}"
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            multi_headers.setdefault(key.lower(), []).append(value)
        multi_query = {key: values for key, values in request.args.lists()}
        multi_headers.pop(upload_front.TYPE_HEADER, None)
        if request.method in upload_front.BODY_METHODS and "content-type" in multi_headers:
            # CloudFront's upload front relabels bodies as binary (infra/edge/upload_front.py)
            multi_headers[upload_front.TYPE_HEADER] = multi_headers.pop("content-type")
            multi_headers["content-type"] = [upload_front.BINARY]
        content_type = (multi_headers.get("content-type") or [""])[-1].split(";")[0].strip().lower()
        is_text = content_type.startswith("text/") or content_type in HTTP_API_TEXT_TYPES
        if not body_bytes:
            body: str | None = None
        elif is_text:
            body = body_bytes.decode("utf-8", errors="replace")
        else:
            body = base64.b64encode(body_bytes).decode("ascii")
        source_ip = request.remote_addr or "127.0.0.1"
        if self.trust_forwarded_for and request.headers.get("X-Forwarded-For"):
            source_ip = request.headers["X-Forwarded-For"].split(",")[0].strip()
        request_id = str(uuid.uuid4())
        now = time.time()
        return {
            "version": "1.0",
            "resource": resource,
            "path": path,
            "httpMethod": request.method,
            "headers": {key: ",".join(values) for key, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {key: ",".join(values) for key, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "domainName": request.host,
                "domainPrefix": "local",
                "extendedRequestId": request_id,
                "httpMethod": request.method,
                "identity": {"sourceIp": source_ip.strip(), "userAgent": request.headers.get("User-Agent")},
                "path": path,
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "resourceId": None,
                "resourcePath": resource,
                "stage": "$default",
            },
            "pathParameters": {"proxy": path[1:]} if resource != "/" else None,
            "stageVariables": None,
            "body": body,
            "isBase64Encoded": body is not None and not is_text,
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
