"""What the indexes domain reacts to: changed files of a repository schedule its index calculation;
a deleted repository's index goes with it; an access change announces its index files again (CDN
copies). All queued (off the request)."""

from chalicelib.events import (
    FileDeleted,
    FileStored,
    RepositoryAccessChanged,
    RepositoryDeleted,
    Subscription,
    VersionPublished,
)

CHANGED = "chalicelib.indexes.subscribers:files_changed"

SUBSCRIPTIONS = [
    Subscription(VersionPublished, CHANGED, queued=True),
    Subscription(FileDeleted, CHANGED, queued=True),
    Subscription(FileStored, CHANGED, queued=True),
    Subscription(RepositoryDeleted, "chalicelib.indexes.subscribers:repository_deleted", queued=True),
    Subscription(RepositoryAccessChanged, "chalicelib.indexes.subscribers:access_changed", queued=True),
]
