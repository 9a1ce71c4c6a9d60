"""What the attributes domain reacts to: attributes of deleted files, versions and packages go."""

from chalicelib.events import FileDeleted, PackageDeleted, Subscription, VersionDeleted

SUBSCRIPTIONS = [
    Subscription(FileDeleted, "chalicelib.attributes.subscribers:file_deleted"),
    Subscription(VersionDeleted, "chalicelib.attributes.subscribers:version_deleted"),
    Subscription(PackageDeleted, "chalicelib.attributes.subscribers:package_deleted"),
]
