"""Queued subscribers of the stream domain (declared in ``subscriptions.py``)."""

from __future__ import annotations

from chalicelib.events import Event
from chalicelib.stream import services


def record(events: list[Event]) -> None:
    """Add the entries of a batch's ``events`` (a CDN log part: one per download), in order, to their
    subjects' streams while a stream has a reader (one lookup per subject of the batch); idempotent (a
    redelivered event is written once)."""
    entries = [entry for event in events for entry in services.entries_of(event)]
    live = {subject for subject in {e.subject for e in entries} if services.has_readers(subject)}
    services.append_all([e for e in entries if e.subject in live])
