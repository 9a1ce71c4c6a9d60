"""DynamoDB models of access keys and entitlements.

Access patterns (see docs/data-model.md):
- an access key of a subject (authentication, Get/Update/Delete Access Key), the keys of a subject
  (Get Access Keys): ``AccessKey`` hash ``owner``, range ``id``
- an entitlement of a subject by id (Get/Update/Delete Entitlement; ids are unique per subject):
  ``Entitlement`` hash ``owner``, range ``id``
- the entitlements of one scope (Get Entitlements): GSI ``scope_index`` (``scope_key``, ``id``)
- the grants of one access key (authentication: ONE Query) and the entitlements carrying a tag
  (search): ``EntitlementRef`` hash ``ref`` (``<owner>#k#<key id>`` / ``<owner>#t#<tag>``), range
  ``entitlement_id``; each row repeats the entitlement's scope and access, written in the same
  transaction as the entitlement.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.db import table_meta

#: Entitlement scopes.
PRODUCT, REPO, PACKAGE, VERSION = "product", "repo", "package", "version"


def key_ref(owner: str, key_id: str) -> str:
    """The ``EntitlementRef`` hash key of an access key's grants (names never contain ``#``)."""
    return f"{owner}#k#{key_id}"


def tag_ref(owner: str, tag: str) -> str:
    """The ``EntitlementRef`` hash key of the entitlements carrying ``tag``."""
    return f"{owner}#t#{tag}"


class AccessKey(Model):
    """An access key of a user or an organisation; it authenticates as ``<id>@<owner>``."""

    Meta = table_meta("access_keys")

    owner = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    #: Random per key *creation*: grant rows carry it, so a re-created key never inherits old grants.
    uid = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    #: Unix epoch milliseconds after which the key is refused; absent = never.
    expiry = NumberAttribute(null=True)
    check_url = UnicodeAttribute(null=True)
    check_cache_secs = NumberAttribute(null=True)
    #: Unix epoch seconds until which the last existence check result holds.
    check_valid_until = NumberAttribute(null=True)
    white_cidrs = ListAttribute(of=UnicodeAttribute, default=list)
    black_cidrs = ListAttribute(of=UnicodeAttribute, default=list)
    api_only = BooleanAttribute(default=True)
    created = UTCDateTimeAttribute()


class ScopeIndex(GlobalSecondaryIndex):
    """The entitlements of one scope."""

    class Meta:
        index_name = "scope_index"
        projection = AllProjection()

    scope_key = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class Entitlement(Model):
    """An entitlement: ``access`` (``r``/``rw``) for ``access_keys`` on a product, repository (with an
    optional ``path``), package or version of ``owner``."""

    Meta = table_meta("entitlements")

    owner = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    #: ``R#<repo_id>``, ``P#<package_id>``, ``V#<package_id>#<version>`` or ``D#<owner>#<product>``.
    scope_key = UnicodeAttribute()
    scope = UnicodeAttribute()  # product | repo | package | version
    product = UnicodeAttribute(null=True)
    repo = UnicodeAttribute(null=True)
    repo_id = UnicodeAttribute(null=True)
    package = UnicodeAttribute(null=True)
    package_id = UnicodeAttribute(null=True)
    version = UnicodeAttribute(null=True)
    path = UnicodeAttribute(null=True)
    access = UnicodeAttribute()
    access_keys = ListAttribute(of=UnicodeAttribute, default=list)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    #: Incremented by every update: writes are conditional on the revision they read.
    rev = NumberAttribute(default=0)
    created = UTCDateTimeAttribute()

    scope_index = ScopeIndex()


class EntitlementRef(Model):
    """One access key's (or one tag's) reference to an entitlement, with the entitlement's scope and
    access repeated: an access key's grants are one Query."""

    Meta = table_meta("entitlement_refs")

    ref = UnicodeAttribute(hash_key=True)
    entitlement_id = UnicodeAttribute(range_key=True)
    #: The key's ``uid`` when the row was written (key rows only).
    key_uid = UnicodeAttribute(null=True)
    scope = UnicodeAttribute()
    product = UnicodeAttribute(null=True)
    repo = UnicodeAttribute(null=True)
    repo_id = UnicodeAttribute(null=True)
    package = UnicodeAttribute(null=True)
    package_id = UnicodeAttribute(null=True)
    version = UnicodeAttribute(null=True)
    path = UnicodeAttribute(null=True)
    access = UnicodeAttribute()


MODELS = (AccessKey, Entitlement, EntitlementRef)
