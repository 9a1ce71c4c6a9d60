"""Queued subscribers of the stream domain (declared in ``subscriptions.py``)."""

from __future__ import annotations

from chalicelib.events import Event
from chalicelib.stream import services


def record(events: list[Event]) -> None:
    """Add the entries of a batch's ``events`` (a CDN log part: one per download), in order, to their
    subjects' streams while a stream has a reader (one lookup per subject of the batch); idempotent (a
    redelivered event is written once: also twice in one batch, or logins of one window, whose entries
    share a dedup key and are kept once here, as one transaction may not write an item twice)."""
    unique: dict[tuple[str, str], services.Entry] = {}
    for event in events:
        for entry in services.entries_of(event):
            unique.setdefault((entry.subject, entry.dedup), entry)
    entries = list(unique.values())
    live = {subject for subject in {e.subject for e in entries} if services.has_readers(subject)}
    services.append_all([e for e in entries if e.subject in live])
