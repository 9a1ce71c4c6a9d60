"""Queued subscribers of the stream domain (declared in ``subscriptions.py``)."""

from __future__ import annotations

from chalicelib.events import Event
from chalicelib.stream import services


def record(event: Event) -> None:
    """Add ``event`` to its subject's stream while the stream has a reader; idempotent (a redelivered
    event is written once)."""
    entry = services.entry_of(event)
    if entry is not None and services.has_readers(entry.subject):
        services.append(entry)
