"""What the packages domain reacts to: the packages of a deleted repository go with it."""

from chalicelib.events import RepositoryDeleted, Subscription

SUBSCRIPTIONS = [Subscription(RepositoryDeleted, "chalicelib.packages.subscribers:repository_deleted")]
