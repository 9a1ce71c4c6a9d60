"""What the packages domain reacts to: the packages of a deleted repository go with it; a deleted
package's versions go after the other domains' records under it (this module is listed after theirs);
a deleted version leaves the package's newest/latest pointers; a published one is marked so."""

from chalicelib.events import (
    PackageDeleted,
    RepositoryDeleted,
    Subscription,
    VersionDeleted,
    VersionPublished,
)

SUBSCRIPTIONS = [
    Subscription(RepositoryDeleted, "chalicelib.packages.subscribers:repository_deleted"),
    Subscription(PackageDeleted, "chalicelib.packages.subscribers:package_deleted"),
    Subscription(VersionDeleted, "chalicelib.packages.subscribers:version_deleted"),
    Subscription(VersionPublished, "chalicelib.packages.subscribers:version_published"),
]
