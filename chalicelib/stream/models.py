"""DynamoDB models of the event stream (``GET /stream/:subject``).

Access patterns (see docs/data-model.md):
- a subject's events after a cursor, in order: ``StreamEvent`` hash ``subject``, range ``seq`` (1, 2, 3 …);
  the item at ``seq`` 0 is the subject's head (``head``: the last ``seq`` written), which serialises writers
- a subject's reader leases (at most ``READERS``): ``StreamReader`` hash ``subject``, range ``slot``
- whether an event is already in a stream (queued subscribers run at least once): ``StreamEventId``
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta

#: The ``seq`` of a subject's head item.
HEAD = 0


class StreamEvent(Model):
    """One line of a subject's stream (``seq`` ≥ 1), or its head (``seq`` 0)."""

    Meta = table_meta("stream_events")

    subject = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    #: The event's JSON line (events only).
    line = UnicodeAttribute(null=True)
    #: The last ``seq`` written (head only; it never expires, so a ``seq`` is never reused).
    head = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class StreamReader(Model):
    """A reader's slot: held by ``token`` until ``lease_until_ms`` (epoch milliseconds)."""

    Meta = table_meta("stream_readers")

    subject = UnicodeAttribute(hash_key=True)
    slot = NumberAttribute(range_key=True)
    token = UnicodeAttribute()
    lease_until_ms = NumberAttribute()
    expires_at = TTLAttribute()


class StreamEventId(Model):
    """An event recorded in a subject's stream: ``key`` is ``<subject>#<dedup key>``."""

    Meta = table_meta("stream_event_ids")

    key = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


MODELS = (StreamEvent, StreamReader, StreamEventId)
