"""Who in the stream domain reacts to which lifecycle event (see chalicelib/events.py)."""

from chalicelib.events import (
    Downloaded,
    DownloadsLogged,
    FileDeleted,
    FileStored,
    LoginFailed,
    LoginSucceeded,
    Subscription,
    UsageThresholdExceeded,
)

RECORD = "chalicelib.stream.subscribers:record"

SUBSCRIPTIONS = [
    Subscription(kind, RECORD, queued=True, batch=True)
    for kind in (
        FileStored,
        FileDeleted,
        Downloaded,
        DownloadsLogged,
        LoginSucceeded,
        LoginFailed,
        UsageThresholdExceeded,
    )
]
