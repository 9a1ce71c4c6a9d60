"""DynamoDB model of proprietary (custom) licenses.

Access patterns (see docs/data-model.md):
- licenses of a subject, one license by name, the names a package's ``custom_licenses`` refers to
  (BatchGetItem): ``ProprietaryLicense`` hash ``owner_key``, range ``name``.

``owner_key`` is the subject's name and registration time (``owner_key(subject)``): a subject
deleted and re-created under the same name starts without licenses, as children of other parents do.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.accounts.models import Subject
from chalicelib.db import table_meta


def owner_key(subject: Subject) -> str:
    """The hash key of ``subject``'s licenses: ``name#registered`` (microseconds, UTC)."""
    return f"{subject.name}#{subject.registered.isoformat()}"


class ProprietaryLicense(Model):
    """A custom license of a user or organisation, referenced by packages' ``custom_licenses``."""

    Meta = table_meta("licenses")

    owner_key = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    owner = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    url = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    updated = UTCDateTimeAttribute()


MODELS = (ProprietaryLicense,)
