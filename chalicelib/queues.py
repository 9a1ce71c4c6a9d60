"""SQS queues for the slow work done outside requests (upload completion, the queued subscribers of
lifecycle events, downloads included).

Example::

    send(UPLOAD_EVENTS, {"Records": [...]})
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import Any

from chalicelib.config import settings

#: S3 ``ObjectCreated`` notifications of large uploads (see chalicelib/content).
UPLOAD_EVENTS = "upload-events"
#: One message per lifecycle event with queued subscribers (chalicelib/events.py, chalicelib/eventbus.py).
EVENTS = "events"
#: Where SQS moves an ``events`` message after ``MAX_RECEIVES`` failed deliveries (kept for inspection).
EVENTS_DEAD_LETTERS = "events-dlq"
ALL_QUEUES = (UPLOAD_EVENTS, EVENTS_DEAD_LETTERS, EVENTS)
#: Queues with a dead-letter queue: ``{queue: its dead-letter queue}``.
DEAD_LETTER_QUEUES = {EVENTS: EVENTS_DEAD_LETTERS}
#: Deliveries of a message before SQS gives up on it and moves it to the dead-letter queue.
MAX_RECEIVES = 5


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
    send_text(short, json.dumps(body))


def send_text(short: str, text: str) -> None:
    """Send one message ``text`` (already encoded) to queue ``short``."""
    sqs().send_message(QueueUrl=queue_url(short), MessageBody=text)


def create_queues() -> None:
    """Create every queue (local AWS and tests), dead-letter queues first, with their redrive
    policies (``MAX_RECEIVES`` deliveries, then the dead-letter queue)."""
    for short in ALL_QUEUES:
        attributes: dict[str, str] = {}
        if short in DEAD_LETTER_QUEUES:
            dead = sqs().get_queue_attributes(
                QueueUrl=queue_url(DEAD_LETTER_QUEUES[short]), AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dead, "maxReceiveCount": str(MAX_RECEIVES)}
            )
        sqs().create_queue(QueueName=queue_name(short), Attributes=attributes)
