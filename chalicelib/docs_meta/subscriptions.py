"""What the docs_meta domain reacts to: readmes and release notes of deleted packages and versions."""

from chalicelib.events import PackageDeleted, Subscription, VersionDeleted

SUBSCRIPTIONS = [
    Subscription(VersionDeleted, "chalicelib.docs_meta.subscribers:version_deleted"),
    Subscription(PackageDeleted, "chalicelib.docs_meta.subscribers:package_deleted"),
]
