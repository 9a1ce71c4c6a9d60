"""DynamoDB models of usage thresholds and their alerts.

Access patterns (see docs/data-model.md):
- an organisation's threshold of one scope: ``UsageThreshold`` hash ``org``, range ``scope``
  (``organization``, ``repo#<repo id>``, ``business_unit#<name>``); every threshold (the evaluation
  job): GSI ``all_index``, hash ``listed`` (always ``all``), range ``org_scope`` — a Query, since the
  deployed role may not Scan; thresholds are few (at most a few per organisation)
- whether a threshold's alert of one period was sent (once per threshold, kind and period):
  ``ThresholdAlert`` hash ``key``, written with a conditional put
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.db import table_meta

ORGANIZATION = "organization"
REPO = "repo"
BUSINESS_UNIT = "business_unit"

#: The three thresholds (bytes; 0: no alert of that kind).
KINDS = ("monthly_storage_bytes", "monthly_download_bytes", "daily_download_bytes")


def scope_key(kind: str, name: str | None = None) -> str:
    """The range key of a threshold: ``organization``, ``repo#<repo id>``, ``business_unit#<name>``."""
    return kind if kind == ORGANIZATION else f"{kind}#{name}"


#: The ``listed`` value of every threshold (``all_index``).
LISTED = "all"


class AllIndex(GlobalSecondaryIndex):
    """Every threshold (``listed`` is ``all``), by ``<org>#<scope>``: what the evaluation reads."""

    class Meta:
        index_name = "all_index"
        projection = AllProjection()

    listed = UnicodeAttribute(hash_key=True)
    org_scope = UnicodeAttribute(range_key=True)


class UsageThreshold(Model):
    """The thresholds of one scope of an organisation and whom to alert."""

    Meta = table_meta("usage_thresholds")

    org = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)
    #: ``organization``, ``repo`` or ``business_unit``, and the repository's or business unit's name.
    kind = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    repo_id = UnicodeAttribute(null=True)
    monthly_storage_bytes = NumberAttribute(default=0)
    monthly_download_bytes = NumberAttribute(default=0)
    daily_download_bytes = NumberAttribute(default=0)
    alert_to_emails = ListAttribute(of=UnicodeAttribute, default=list)
    alert_to_admins = BooleanAttribute(default=True)
    created = UTCDateTimeAttribute()
    updated = UTCDateTimeAttribute()
    listed = UnicodeAttribute(default=LISTED)
    org_scope = UnicodeAttribute()

    all_index = AllIndex()


class ThresholdAlert(Model):
    """One alert: ``key`` is ``<org>#<scope>#<kind>#<period>`` (period ``YYYY-MM`` or ``YYYY-MM-DD``).

    ``state`` is ``sending`` while a run holds it (until ``lease_until_ms``; a crashed run's alert is
    taken over after it), ``mailing`` from just before the email (never taken over: the email may be
    out) and ``sent`` once the email went out."""

    Meta = table_meta("threshold_alerts")

    key = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute()
    lease_until_ms = NumberAttribute(default=0)
    usage = NumberAttribute(default=0)
    limit = NumberAttribute(default=0)
    sent_at = UTCDateTimeAttribute(null=True)
    #: Alerts are kept a while after their period (DynamoDB TTL).
    expires_at = TTLAttribute(null=True)


MODELS = (UsageThreshold, ThresholdAlert)
