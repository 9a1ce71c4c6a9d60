"""Queued subscribers of the statistics domain (declared in ``subscriptions.py``)."""

from __future__ import annotations

from chalicelib.events import Downloaded, DownloadsLogged, FileDeleted, FileStored
from chalicelib.stats import recording, storage


def record_downloads(events: list[Downloaded]) -> None:
    """Record a batch's downloads once each, for the rollup (no counter is incremented here)."""
    recording.record(events)


def record_logged(event: DownloadsLogged) -> None:
    """Record the CDN's downloads of one log-file part once, as one item (no item per download)."""
    recording.record_logged(event)


def storage_changed(events: list[FileStored | FileDeleted]) -> None:
    """Count a batch's stored and deleted files in their subjects' storage usage, once each (one
    transaction per batch)."""
    storage.apply_batch(events)
