"""Queued subscribers of the stream domain (declared in ``subscriptions.py``)."""

from __future__ import annotations

from chalicelib.events import Event
from chalicelib.stream import services


def record(event: Event) -> None:
    """Add ``event``'s entries (a CDN log part: one per download) to their subjects' streams while a
    stream has a reader; idempotent (a redelivered event is written once)."""
    entries = services.entries_of(event)
    live = {subject for subject in {e.subject for e in entries} if services.has_readers(subject)}
    services.append_all([e for e in entries if e.subject in live])
