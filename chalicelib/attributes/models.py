"""DynamoDB models of package and version attributes and their search index.

Access patterns (see docs/data-model.md):
- attributes of a package: ``Attribute`` hash ``package_id``, range ``#name``
- attributes of a version: ``Attribute`` hash ``package_id``, range ``version#name``
  (one Query on ``package_id`` finds every row to purge with the package)
- items of a scope with one attribute value or a range of values: ``AttributeIndex`` hash
  ``p#<repo_id>#<name>`` (packages) or ``v#<package_id>#<name>`` (versions), range
  ``<typed sortable value>#<item name>``: an equality or range clause is one Query on one key range.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta


class Attribute(Model):
    """One named attribute of a package (``ref`` = ``#name``) or a version (``version#name``)."""

    Meta = table_meta("attributes")

    package_id = UnicodeAttribute(hash_key=True)
    ref = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    version = UnicodeAttribute(null=True)
    #: The repository (packages) or package (versions) the attribute is searched in.
    scope_id = UnicodeAttribute()
    type = UnicodeAttribute()
    #: The values as sent, JSON-encoded (numbers keep their int/float form).
    values_json = UnicodeAttribute()


class AttributeIndex(Model):
    """One row per (scope, attribute name, value, item): the attribute search index."""

    Meta = table_meta("attribute_index")

    scope = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    #: The encoded value (``key`` without the item), compared exactly on equality.
    encoded = UnicodeAttribute()
    item = UnicodeAttribute()
    #: How many values the attribute holds (an array query against an array means "contains").
    value_count = NumberAttribute()


MODELS = (Attribute, AttributeIndex)
