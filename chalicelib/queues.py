"""SQS queues for the slow work done outside requests (upload completion, download events).

Example::

    send(DOWNLOAD_EVENTS, {"path": "a/b.jar", ...})
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import Any

from chalicelib.config import settings

#: S3 ``ObjectCreated`` notifications of large uploads (see chalicelib/content).
UPLOAD_EVENTS = "upload-events"
#: One message per download, aggregated by the statistics consumer.
DOWNLOAD_EVENTS = "download-events"
ALL_QUEUES = (UPLOAD_EVENTS, DOWNLOAD_EVENTS)


def queue_name(short: str) -> str:
    """The deployed name of queue ``short`` (under the stage's prefix)."""
    return settings().table_prefix + short


@lru_cache(maxsize=1)
def sqs() -> Any:
    import boto3

    conf = settings()
    return boto3.client("sqs", region_name=conf.region, endpoint_url=conf.s3_endpoint)


@cache
def queue_url(short: str) -> str:
    return sqs().get_queue_url(QueueName=queue_name(short))["QueueUrl"]


def send(short: str, body: dict[str, Any]) -> None:
    """Send one JSON message to queue ``short``."""
    sqs().send_message(QueueUrl=queue_url(short), MessageBody=json.dumps(body))


def create_queues() -> None:
    """Create every queue (local AWS and tests)."""
    for short in ALL_QUEUES:
        sqs().create_queue(QueueName=queue_name(short))
