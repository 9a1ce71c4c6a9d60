"""DynamoDB models of webhooks.

Access patterns (see docs/data-model.md):
- the webhooks of a subject (optionally of one repository: range prefix ``<repo_id>/``), the webhook of a
  package (registration, deletion, delivery on a publish): ``Webhook`` hash ``subject``, range
  ``target`` (``<repo_id>/<package>``; one webhook per package);
- how many webhooks a subject has (the limit of 10, kept in the registration and deletion
  transactions): ``WebhookCount`` hash ``subject``;
- whether a release event was delivered to a webhook already (SQS delivers at least once):
  ``WebhookDelivery`` hash ``id`` (``<webhook id>#<event id>``), expiring by TTL.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.db import table_meta

#: ``WebhookDelivery.state``: delivered (2xx), or given up after its attempts.
DELIVERED = "delivered"
FAILED = "failed"
RETRYING = "retrying"


def target_key(repo_id: str, package: str) -> str:
    """The range key of a package's webhook (names never contain ``/``)."""
    return f"{repo_id}/{package}"


class Webhook(Model):
    """A package's webhook: ``url`` (with ``%r``/``%p`` tokens) called with ``method`` on each release."""

    Meta = table_meta("webhooks")

    subject = UnicodeAttribute(hash_key=True)
    target = UnicodeAttribute(range_key=True)
    #: Random id of this registration (registering again replaces it, with a new id and secret).
    id = UnicodeAttribute()
    repo = UnicodeAttribute()
    repo_id = UnicodeAttribute()
    package = UnicodeAttribute()
    url = UnicodeAttribute()
    method = UnicodeAttribute()
    #: Key of the ``X-Bintray-Hook-Hmac`` header (shown once, at registration).
    secret = UnicodeAttribute()
    registered_by = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    #: Consecutive failed calls; a success resets it; at ``DEACTIVATE_AFTER`` the webhook is deactivated.
    failure_count = NumberAttribute(default=0)
    active = BooleanAttribute(default=True)
    last_status = NumberAttribute(null=True)
    last_called = UTCDateTimeAttribute(null=True)


class WebhookCount(Model):
    """How many webhooks a subject has registered."""

    Meta = table_meta("webhook_counts")

    subject = UnicodeAttribute(hash_key=True)
    count = NumberAttribute(default=0)


class WebhookDelivery(Model):
    """One release event sent to one webhook registration: its attempts and outcome."""

    Meta = table_meta("webhook_deliveries")

    id = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute(default=RETRYING)
    attempts = NumberAttribute(default=0)
    last_status = NumberAttribute(null=True)
    expires_at = TTLAttribute()


MODELS = (Webhook, WebhookCount, WebhookDelivery)
