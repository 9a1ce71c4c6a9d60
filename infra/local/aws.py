"""The embedded local AWS: moto's server on loopback, with Shelf's tables and bucket."""

from __future__ import annotations

import io
import os
import sys
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class AtomicDynamoDB:
    """WSGI middleware running one DynamoDB request at a time.

    DynamoDB applies each request atomically (a conditional write or a transaction either sees the
    item before or after another one); moto does not lock, so concurrent clients could both pass a
    condition. Serialising DynamoDB requests restores the service's guarantee; S3 stays concurrent.
    """

    def __init__(self, app: Any):
        self.app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class KeepAliveRequestHandler(MotoRequestHandler):
    """HTTP/1.1, so botocore's pooled connections stay open: werkzeug's default HTTP/1.0 closes each
    one, and every AWS call paid a new TCP connection and a new server thread."""

    protocol_version = "HTTP/1.1"


class LocalAws:
    """moto's server in a background thread."""

    def __init__(self, port: int = 0):
        from infra.local import motofast

        motofast.install()
        self.app = AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", port, self.app, threaded=True, request_handler=KeepAliveRequestHandler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> LocalAws:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def dispatch_in_process(self) -> InProcessDispatch:
        """From now on, this process's botocore clients (boto3's and PynamoDB's, created before or after)
        hand their requests for this endpoint straight to the server's WSGI application instead of
        sending them over loopback; see ``InProcessDispatch``."""
        import botocore.handlers

        dispatch = InProcessDispatch(self.app, self.endpoint)
        botocore.handlers.BUILTIN_HANDLERS.append(("before-send", dispatch))
        return dispatch


class InProcessDispatch:
    """A botocore ``before-send`` handler: a request for the local AWS endpoint becomes a WSGI call of
    the moto server's own application (``AtomicDynamoDB(DomainDispatcherApplication)``) in the calling
    thread, and its answer the botocore response. Same application, same backends, same DynamoDB lock
    as a request over HTTP, so the two ways see one state (``moto-api/reset`` included); what is skipped
    is the socket, the HTTP parsing on both sides and a server thread per connection. Requests for any
    other URL (an S3 presigned URL fetched by a client, AWS itself) go on over HTTP as before.

    Tests use it (``tests/conftest.py``); ``make serve`` keeps plain HTTP.
    """

    def __init__(self, app: Any, endpoint: str):
        self.app = app
        self.prefix = endpoint.rstrip("/") + "/"
        netloc = urlsplit(endpoint).netloc
        host, _, port = netloc.partition(":")
        self.netloc, self.server_name, self.server_port = netloc, host, port or "80"
        self.calls = 0  # requests dispatched (tests/test_infra.py checks it moves)

    def __call__(self, request: Any, **kwargs: Any) -> Any:
        url: str = request.url
        if not url.startswith(self.prefix):
            return None
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        self.calls += 1
        target = request.headers.get("X-Amz-Target") or b""
        if (target.decode("latin-1") if isinstance(target, bytes) else target).startswith("DynamoDB_"):
            status, headers, body = self.dynamodb(request)
        else:
            status, headers, body = self.call(request.method, url, request.headers.items(), request.body)
        return AWSResponse(url, status, headers, MockRawResponse(body))

    def dynamodb(self, request: Any) -> tuple[int, dict[str, str], Any]:
        """A DynamoDB request straight to moto's handler, under the server's DynamoDB lock: what the
        server's Flask route does (``moto.core.utils.convert_to_flask_response``) without Flask and
        without the WSGI round trip. DynamoDB has one route (``POST /``), so nothing is lost in routing."""
        from moto.core.exceptions import HTTPException
        from moto.core.request import normalize_request
        from moto.dynamodb.responses import DynamoHandler
        from moto.moto_api import recorder

        moto_request = normalize_request(request)
        moto_request.from_wsgi_server = True  # answer as the server does
        with self.app._lock:
            recorder._record_request(moto_request)
            try:
                return DynamoHandler.dispatch(moto_request, moto_request.raw_url, dict(moto_request.headers))
            except HTTPException as error:
                return error.code, dict(error.get_headers()), error.get_body()

    def call(self, method: str, url: str, headers: Any, body: Any) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of the application's answer to one request."""
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:  # a file-like body (S3 uploads)
            data = body.read()
            if isinstance(data, str):
                data = data.encode("utf-8")
        parts = urlsplit(url)
        raw_uri = parts.path + (f"?{parts.query}" if parts.query else "")
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _wsgi_str(unquote(parts.path)),
            "QUERY_STRING": _wsgi_str(parts.query),
            "REQUEST_URI": _wsgi_str(raw_uri),
            "RAW_URI": _wsgi_str(raw_uri),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": 0,
            "SERVER_NAME": self.server_name,
            "SERVER_PORT": self.server_port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": self.netloc,
            "CONTENT_LENGTH": str(len(data)),
        }
        for key, value in headers:
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            key = key.upper().replace("-", "_")
            if key in ("CONTENT_LENGTH", "HOST", "EXPECT", "TRANSFER_ENCODING"):
                continue  # the body is whole here: no 100-continue, no chunks
            if key != "CONTENT_TYPE":
                key = "HTTP_" + key
            environ[key] = value
        answer: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [int(status.split(" ", 1)[0]), response_headers]
            return lambda chunk: None

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, response_headers = answer
        merged: dict[str, str] = {}
        for key, value in response_headers:
            merged[key] = f"{merged[key]},{value}" if key in merged else value
        return status, merged, content


def _wsgi_str(text: str) -> str:
    """A WSGI environ string: the UTF-8 bytes of ``text`` read as Latin-1 (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")


def start_moto(port: int = 0) -> tuple[LocalAws, str]:
    """Start the local AWS on 127.0.0.1 (``port`` 0 picks a free one); returns (server, endpoint)."""
    server = LocalAws(port).start()
    return server, server.endpoint


def point_at(endpoint: str, table_prefix: str = "shelf-local-") -> None:
    """Point this process's Shelf configuration at the local AWS ``endpoint``.

    Must run before ``chalicelib`` is imported: models read their table names and endpoint then.
    """
    for key, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    os.environ["SHELF_DYNAMODB_ENDPOINT"] = endpoint
    os.environ["SHELF_S3_ENDPOINT"] = endpoint
    os.environ.setdefault("SHELF_TABLE_PREFIX", table_prefix)
    os.environ.setdefault("SHELF_STAGE", "local")


def create_resources(empty: bool = False) -> None:
    """Create every table, the content bucket, the queues and the GPG KMS key that do not exist yet,
    and verify the alert emails' sender in SES; ``empty``: the local AWS was just reset (tests)."""
    from chalicelib.db import create_tables
    from chalicelib.gpg.keystore import create_key
    from chalicelib.mail import verify_sender
    from chalicelib.queues import create_queues
    from chalicelib.storage import create_bucket

    create_tables(empty=empty)
    create_bucket()
    create_key()
    create_queues()
    notify_large_uploads()
    verify_sender()


def notify_large_uploads() -> None:
    """S3 → SQS: the bucket reports objects created under ``uploads/`` to the upload-events queue."""
    from chalicelib import queues
    from chalicelib.storage import notify_uploads

    url = queues.queue_url(queues.UPLOAD_EVENTS)
    arn = queues.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    notify_uploads(arn["QueueArn"])
