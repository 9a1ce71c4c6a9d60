"""The embedded local AWS: moto's server on loopback, with Shelf's tables and bucket."""

from __future__ import annotations

import os

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_moto(port: int = 0) -> tuple[ThreadedMotoServer, str]:
    """Start moto's server on 127.0.0.1 (``port`` 0 picks a free one); returns (server, endpoint)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return server, f"http://{host}:{bound_port}"


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


def create_resources() -> None:
    """Create every table (and, later, the content bucket) that does not exist yet."""
    from chalicelib.db import create_tables

    create_tables()
