"""What telemetry reacts to: uploads, downloads and publishes, counted as metrics in-request."""

from chalicelib.events import Downloaded, DownloadsLogged, FileStored, Subscription, VersionPublished

SUBSCRIPTIONS = [
    Subscription(FileStored, "chalicelib.telemetry.subscribers:file_stored"),
    Subscription(Downloaded, "chalicelib.telemetry.subscribers:downloaded"),
    Subscription(DownloadsLogged, "chalicelib.telemetry.subscribers:downloads_logged"),
    Subscription(VersionPublished, "chalicelib.telemetry.subscribers:version_published"),
]
