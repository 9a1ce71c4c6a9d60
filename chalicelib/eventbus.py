"""The queued half of the lifecycle events (chalicelib/events.py): each event with queued subscribers
leaves the request as one message of the ``events`` SQS queue, and ``lifecycle_events`` (an
``on_sqs_message`` function of this blueprint) delivers it to them. ``install`` wires the sender at
app start (app.py), so ``events`` imports nothing from above it.

A message that fails ``queues.MAX_RECEIVES`` times lands in the dead-letter queue. SQS delivers at
least once: queued subscribers are idempotent on the event's ``id``.
"""

from __future__ import annotations

from chalice import Blueprint, Rate
from chalice.app import SQSEvent

from chalicelib import events, outbox, queues

bus = Blueprint(__name__)


def send(event: events.Event) -> None:
    """One SQS message per event."""
    queues.send_text(queues.EVENTS, event.to_json())


def install() -> None:
    """Queued subscribers run from the ``events`` queue (without this, in-request)."""
    events.sender = send


@bus.on_sqs_message(queue=queues.queue_name(queues.EVENTS), batch_size=10)
def lifecycle_events(event: SQSEvent) -> None:
    """Deliver queued lifecycle events to their queued subscribers (a failing batch is retried)."""
    events.consume(event.to_dict())


@bus.schedule(Rate(1, unit=Rate.MINUTES))
def outbox_sweep(event: object) -> None:
    """Publish the lifecycle events that requests which failed half-way left in the outbox
    (chalicelib/outbox.py)."""
    outbox.sweep()
