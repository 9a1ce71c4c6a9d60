"""Who in the statistics domain reacts to which lifecycle event (see chalicelib/events.py)."""

from chalicelib.events import Downloaded, DownloadsLogged, FileDeleted, FileStored, Subscription

SUBSCRIPTIONS = [
    Subscription(Downloaded, "chalicelib.stats.subscribers:record_downloads", queued=True, batch=True),
    Subscription(DownloadsLogged, "chalicelib.stats.subscribers:record_logged", queued=True),
    Subscription(FileStored, "chalicelib.stats.subscribers:storage_changed", queued=True, batch=True),
    Subscription(FileDeleted, "chalicelib.stats.subscribers:storage_changed", queued=True, batch=True),
]
