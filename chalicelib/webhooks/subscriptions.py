"""What webhooks react to (read by ``chalicelib.events`` on the first publish)."""

from __future__ import annotations

from chalicelib.events import (
    PackageDeleted,
    RepositoryDeleted,
    SubjectDeleted,
    Subscription,
    VersionPublished,
)

SUBSCRIPTIONS = [
    # Cascades (in-request): a deleted package, repository or subject takes its webhooks along.
    Subscription(PackageDeleted, "chalicelib.webhooks.subscribers:package_deleted"),
    Subscription(RepositoryDeleted, "chalicelib.webhooks.subscribers:repository_deleted"),
    Subscription(SubjectDeleted, "chalicelib.webhooks.subscribers:subject_deleted"),
    # Release notifications (queued: calls to the outside, retried).
    Subscription(VersionPublished, "chalicelib.webhooks.subscribers:version_published", queued=True),
]
