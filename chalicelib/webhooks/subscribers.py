"""Webhook subscribers: a published version is announced to its package's webhook.

Queued (``subscriptions.py``): from the events queue, a failed attempt raises ``DeliveryFailed`` so that
SQS delivers the event again later (the attempt records make that idempotent, see
``services.deliver_release``). Without a queue (``events.sender`` None: local tools, tests), the
attempts run here, with exponential backoff.
"""

from __future__ import annotations

import time

from chalicelib import events
from chalicelib.events import VersionPublished
from chalicelib.webhooks import services


class DeliveryFailed(Exception):
    """The webhook did not take the release yet: the queue is to deliver the event again."""


def version_published(event: VersionPublished) -> None:
    """Deliver ``event`` to the package's webhook."""
    for attempt in range(services.MAX_ATTEMPTS):
        if services.deliver_release(event):
            return
        if events.sender is not None:
            raise DeliveryFailed(f"webhook of {event.owner}/{event.repo}/{event.package}: attempt failed")
        time.sleep(services.retry_delay(attempt))
