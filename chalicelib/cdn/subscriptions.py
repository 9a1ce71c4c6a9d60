"""What the CDN domain reacts to: publishes, overrides, deletes, access changes, index changes."""

from chalicelib.events import (
    DownloadPathChanged,
    FileDeleted,
    FileStored,
    RepositoryAccessChanged,
    Subscription,
    VersionPublished,
)

SUBSCRIPTIONS = [
    Subscription(VersionPublished, "chalicelib.cdn.subscribers:version_published", queued=True),
    Subscription(FileStored, "chalicelib.cdn.subscribers:file_stored", queued=True),
    Subscription(FileDeleted, "chalicelib.cdn.subscribers:file_deleted", queued=True),
    Subscription(RepositoryAccessChanged, "chalicelib.cdn.subscribers:access_changed", queued=True),
    Subscription(DownloadPathChanged, "chalicelib.cdn.subscribers:download_path_changed", queued=True),
]
