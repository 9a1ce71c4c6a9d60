"""What the content domain reacts to: the files of deleted versions and packages go with them."""

from chalicelib.events import PackageDeleted, Subscription, VersionDeleted

SUBSCRIPTIONS = [
    Subscription(VersionDeleted, "chalicelib.content.subscribers:version_deleted"),
    Subscription(PackageDeleted, "chalicelib.content.subscribers:package_deleted"),
]
