"""Webhook subscribers: a published version is announced to its package's webhook; deleting a
package, repository or subject deletes its webhooks (in-request cascades).

Queued (``subscriptions.py``): from the events queue, a failed attempt raises ``DeliveryFailed`` so that
SQS delivers the event again later (the attempt records make that idempotent, see
``services.deliver_release``). Without a queue (``events.sender`` None: local tools, tests), the
attempts run here, with exponential backoff.
"""

from __future__ import annotations

import time

from chalicelib import events
from chalicelib.events import PackageDeleted, RepositoryDeleted, SubjectDeleted, VersionPublished
from chalicelib.webhooks import services
from chalicelib.webhooks.models import WebhookCount, target_key


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


def package_deleted(event: PackageDeleted) -> None:
    services.delete_all(event.owner, target_key(event.repo_id, event.package))


def repository_deleted(event: RepositoryDeleted) -> None:
    services.delete_all(event.owner, f"{event.repo_id}/")


def subject_deleted(event: SubjectDeleted) -> None:
    services.delete_all(event.name)
    WebhookCount(event.name).delete()
