"""What webhooks react to (read by ``chalicelib.events`` on the first publish)."""

from __future__ import annotations

from chalicelib.events import Subscription, VersionPublished

SUBSCRIPTIONS = [
    Subscription(VersionPublished, "chalicelib.webhooks.subscribers:version_published", queued=True)
]
