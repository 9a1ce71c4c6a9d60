"""Background functions of the statistics domain: recording download events."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import queues

functions = Blueprint(__name__)


@functions.on_sqs_message(queue=queues.queue_name(queues.DOWNLOAD_EVENTS), batch_size=10)
def download_events(event: SQSEvent) -> None:
    """Record queued download events exactly once, with their daily aggregates (chalicelib/stats)."""
    from chalicelib.stats.downloads import consume

    consume(event.to_dict())
