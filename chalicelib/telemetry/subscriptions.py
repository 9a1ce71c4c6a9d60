"""What telemetry reacts to: uploads, downloads and publishes, counted as metrics in-request."""

from chalicelib.events import Downloaded, FileStored, Subscription, VersionPublished

SUBSCRIPTIONS = [
    Subscription(FileStored, "chalicelib.telemetry.subscribers:file_stored"),
    Subscription(Downloaded, "chalicelib.telemetry.subscribers:downloaded"),
    Subscription(VersionPublished, "chalicelib.telemetry.subscribers:version_published"),
]
