"""What the npm domain reacts to: a deleted version leaves the packument, a deleted package takes its
registry items and documents with it (cascades, so they run in-request)."""

from chalicelib.events import PackageDeleted, Subscription, VersionDeleted

SUBSCRIPTIONS = [
    Subscription(VersionDeleted, "chalicelib.npm.subscribers:version_deleted"),
    Subscription(PackageDeleted, "chalicelib.npm.subscribers:package_deleted"),
]
