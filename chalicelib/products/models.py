"""DynamoDB models of products, their EULAs and EULA acceptances (enterprise features).

Access patterns (see docs/data-model.md):
- a product, the products of a subject: ``Product`` hash ``subject``, range ``name``
- the products containing a package (EULA check on download, cascade on package deletion):
  ``ProductMember`` hash ``package_key`` (``subject/repo/package``), range ``product``
- the EULAs of a product (which EULA applies to a version): ``Eula`` hash ``product_key``
  (``subject/product``), range ``name``
- whether a user or access key accepted the EULA of a product version (GetItem), the acceptances of a
  product (tracking): ``EulaAcceptance`` hash ``product_key``, range ``ref``
  (``<version>#<eula>#<username>``)
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.db import table_meta


def product_key(subject: str, product: str) -> str:
    """The hash key of a product's EULAs and acceptances (names never contain ``/``)."""
    return f"{subject}/{product}"


def package_key(subject: str, repo: str, package: str) -> str:
    """The hash key of a package's product memberships."""
    return f"{subject}/{repo}/{package}"


def acceptance_ref(version: str, eula: str, username: str) -> str:
    """The range key of an acceptance (version and EULA names never contain ``#``)."""
    return f"{version}#{eula}#{username}"


class Product(Model):
    """A product: a named group of packages of one subject."""

    Meta = table_meta("products")

    subject = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    #: Member packages as ``repo/package`` strings (in the subject).
    packages = ListAttribute(of=UnicodeAttribute, default=list)
    display_name = UnicodeAttribute(null=True)
    desc = UnicodeAttribute(null=True)
    website_url = UnicodeAttribute(null=True)
    vcs_url = UnicodeAttribute(null=True)
    #: Default expiry (seconds) of signed URLs for the product's files; 0 = not set.
    sign_url_expiry = NumberAttribute(default=0)
    created = UTCDateTimeAttribute()


class ProductMember(Model):
    """Package ``package_key`` belongs to product ``product`` (of the same subject)."""

    Meta = table_meta("product_members")

    package_key = UnicodeAttribute(hash_key=True)
    product = UnicodeAttribute(range_key=True)
    subject = UnicodeAttribute()


class Eula(Model):
    """An End User License Agreement of a product."""

    Meta = table_meta("eulas")

    product_key = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    syntax = UnicodeAttribute(default="markdown")
    content = UnicodeAttribute(default="")
    #: Product versions this EULA applies to.
    versions = ListAttribute(of=UnicodeAttribute, default=list)
    #: Whether this is the product's default EULA (for versions no EULA lists).
    default = BooleanAttribute(default=False)
    created = UTCDateTimeAttribute()


class EulaAcceptance(Model):
    """User or access key ``username`` accepted EULA ``eula_name`` for a product version."""

    Meta = table_meta("eula_acceptances")

    product_key = UnicodeAttribute(hash_key=True)
    ref = UnicodeAttribute(range_key=True)
    username = UnicodeAttribute()
    eula_name = UnicodeAttribute()
    product_version_name = UnicodeAttribute()
    date_signed = UTCDateTimeAttribute()


MODELS = (Product, ProductMember, Eula, EulaAcceptance)
