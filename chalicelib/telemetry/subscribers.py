"""Metrics of lifecycle events (``chalicelib.telemetry.metrics``): counted in the invocation that
published them, written with its EMF line."""

from __future__ import annotations

from chalicelib.events import Downloaded, DownloadsLogged, FileStored, VersionPublished
from chalicelib.telemetry import metrics


def file_stored(event: FileStored) -> None:
    metrics.add("Uploads", 1)
    metrics.add("UploadBytes", event.size, "Bytes")


def downloaded(event: Downloaded) -> None:
    metrics.add("Downloads", 1)
    metrics.add("DownloadBytes", event.size, "Bytes")


def downloads_logged(event: DownloadsLogged) -> None:
    """The CDN's downloads of one log-file part (counted by the log job that read them)."""
    metrics.add("Downloads", len(event.downloads))
    metrics.add("DownloadBytes", sum(int(event.files[d[0]]["size"]) for d in event.downloads), "Bytes")


def version_published(event: VersionPublished) -> None:
    metrics.add("Publishes", 1)
