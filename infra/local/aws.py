"""The embedded local AWS: moto's server on loopback, with Shelf's tables and bucket."""

from __future__ import annotations

import os
import threading
from typing import Any

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
        app = AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=KeepAliveRequestHandler
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
