"""What the links domain reacts to: links of deleted packages and into deleted repositories."""

from chalicelib.events import PackageDeleted, RepositoryDeleted, Subscription

SUBSCRIPTIONS = [
    Subscription(RepositoryDeleted, "chalicelib.links.subscribers:repository_deleted"),
    Subscription(PackageDeleted, "chalicelib.links.subscribers:package_deleted"),
]
