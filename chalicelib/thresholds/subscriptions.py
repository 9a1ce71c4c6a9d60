"""What the usage-thresholds domain reacts to: thresholds of deleted repositories and organisations."""

from chalicelib.events import RepositoryDeleted, SubjectDeleted, Subscription

SUBSCRIPTIONS = [
    Subscription(RepositoryDeleted, "chalicelib.thresholds.subscribers:repository_deleted"),
    Subscription(SubjectDeleted, "chalicelib.thresholds.subscribers:subject_deleted"),
]
