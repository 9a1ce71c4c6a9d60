"""Background function of the indexes domain: one scheduled calculation per message."""

from __future__ import annotations

import json

from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import queues

functions = Blueprint(__name__)


@functions.on_sqs_message(queue=queues.queue_name(queues.INDEXES), batch_size=1)
def index_calculations(event: SQSEvent) -> None:
    """Calculate the index of the repository each message names (a failure is retried by SQS; the
    next attempt starts from scratch)."""
    from chalicelib.indexes.services import run

    for record in event.to_dict().get("Records") or []:
        run(json.loads(record["body"])["repo_id"])
