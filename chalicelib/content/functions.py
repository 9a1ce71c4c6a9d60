"""Background functions of the content domain: finishing large uploads, collecting unreferenced blobs."""

from __future__ import annotations

from datetime import timedelta

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import queues

functions = Blueprint(__name__)


@functions.on_sqs_message(queue=queues.queue_name(queues.UPLOAD_EVENTS), batch_size=1)
def upload_events(event: SQSEvent) -> None:
    """Finish large uploads: S3 reports each object PUT through the 307 (chalicelib/content/large.py)."""
    from chalicelib.content.large import finish_from_event

    finish_from_event(event.to_dict())


@functions.schedule(Rate(1, unit=Rate.HOURS))
def collect_blobs(event: CloudWatchEvent) -> None:
    """Delete content no file refers to any more, once it is older than the grace period."""
    from chalicelib.content.gc import collect_unreferenced_blobs

    collect_unreferenced_blobs(grace=timedelta(hours=1))
