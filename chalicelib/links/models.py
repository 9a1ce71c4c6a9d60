"""DynamoDB model of package links (Link Package / Unlink Package).

Access patterns (see docs/data-model.md):
- links of a target repository (listing its packages, downloads through it, unlink, cascade when the
  target repository is deleted): ``Link`` hash ``repo_id`` (the target's id), range ``source_package_id``
- links of a source package (its ``linked_to_repos``, cascade when it is deleted): GSI ``source_index``
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.db import table_meta


class SourceIndex(GlobalSecondaryIndex):
    """Links of a source package."""

    class Meta:
        index_name = "source_index"
        projection = AllProjection()

    source_package_id = UnicodeAttribute(hash_key=True)
    repo_id = UnicodeAttribute(range_key=True)


class Link(Model):
    """Package ``source_package`` of ``source_owner/source_repo``, linked into repository ``owner/repo``."""

    Meta = table_meta("links")

    #: The target repository's id.
    repo_id = UnicodeAttribute(hash_key=True)
    source_package_id = UnicodeAttribute(range_key=True)
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    #: Whether the target repository is private (its name is then not shown in ``linked_to_repos``).
    repo_private = BooleanAttribute(default=False)
    source_owner = UnicodeAttribute()
    source_repo = UnicodeAttribute()
    source_repo_id = UnicodeAttribute()
    source_package = UnicodeAttribute()
    #: Only files of the source package under this path are included ("" = all of them).
    path_prefix = UnicodeAttribute(default="")
    created = UTCDateTimeAttribute()
    #: The user who linked it: the link serves only while they may read the source repository
    #: (links written before it was recorded are checked as the target owner's).
    created_by = UnicodeAttribute(null=True)

    source_index = SourceIndex()


MODELS = (Link,)
