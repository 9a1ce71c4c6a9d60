"""DynamoDB models of packages, versions and Maven coordinates.

Children are keyed by their parent's ``id`` (not its name), so a re-created name starts empty and a
half-finished cascade can never resurface. Access patterns (see docs/data-model.md):
- package by repository and name, packages of a repository by name prefix: ``Package`` hash ``repo_id``
- public packages by name prefix (search): sparse GSI ``public_index`` (``search_shard``, ``name_lower``)
- version by package and name: ``Version`` hash ``package_id``, range ``name``
- versions of a package newest first: LSI ``ordinal_index``
- Maven coordinates: ``SystemId`` hash ``group_id``; public ones by prefix: GSI ``public_index``
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.db import table_meta


class PublicPackageIndex(GlobalSecondaryIndex):
    """Packages of public repositories ordered by lower-case name."""

    class Meta:
        index_name = "public_index"
        projection = AllProjection()

    search_shard = UnicodeAttribute(hash_key=True)
    name_lower = UnicodeAttribute(range_key=True)


class Package(Model):
    """A package in a repository."""

    Meta = table_meta("packages")

    repo_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    desc = UnicodeAttribute(null=True)
    labels = ListAttribute(of=UnicodeAttribute, default=list)
    licenses = ListAttribute(of=UnicodeAttribute, default=list)
    custom_licenses = ListAttribute(of=UnicodeAttribute, default=list)
    vcs_url = UnicodeAttribute(null=True)
    website_url = UnicodeAttribute(null=True)
    issue_tracker_url = UnicodeAttribute(null=True)
    github_repo = UnicodeAttribute(null=True)
    github_release_notes_file = UnicodeAttribute(null=True)
    public_download_numbers = BooleanAttribute(default=False)
    public_stats = BooleanAttribute(default=True)
    created = UTCDateTimeAttribute()
    updated = UTCDateTimeAttribute()
    followers_count = NumberAttribute(default=0)
    rating = NumberAttribute(default=0)
    rating_count = NumberAttribute(default=0)
    #: Number of versions ever created; the next version's ordinal is ``version_seq + 1``.
    version_seq = NumberAttribute(default=0)
    #: The newest version (by ordinal).
    newest_version = UnicodeAttribute(null=True)
    #: The newest version with a published file (maintained by content publishing).
    latest_published_version = UnicodeAttribute(null=True)
    latest_published_ordinal = NumberAttribute(null=True)
    system_ids = ListAttribute(of=UnicodeAttribute, default=list)
    linked_to_repos = ListAttribute(of=UnicodeAttribute, default=list)
    attribute_names = ListAttribute(of=UnicodeAttribute, default=list)
    name_lower = UnicodeAttribute()
    desc_lower = UnicodeAttribute(null=True)
    search_shard = UnicodeAttribute(null=True)

    public_index = PublicPackageIndex()

    @property
    def latest_version(self) -> str | None:
        """The latest version with a published file; until one exists, the newest version."""
        return self.latest_published_version or self.newest_version


class OrdinalIndex(LocalSecondaryIndex):
    """Versions of a package by creation order."""

    class Meta:
        index_name = "ordinal_index"
        projection = AllProjection()

    package_id = UnicodeAttribute(hash_key=True)
    ordinal = NumberAttribute(range_key=True)


class Version(Model):
    """A version of a package."""

    Meta = table_meta("versions")

    package_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    ordinal = NumberAttribute()
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    package = UnicodeAttribute()
    desc = UnicodeAttribute(null=True)
    labels = ListAttribute(of=UnicodeAttribute, default=list)
    created = UTCDateTimeAttribute()
    updated = UTCDateTimeAttribute()
    released = UTCDateTimeAttribute(null=True)
    #: Set when the first file of the version is published.
    published = BooleanAttribute(default=False)
    github_release_notes_file = UnicodeAttribute(null=True)
    github_use_tag_release_notes = BooleanAttribute(default=False)
    vcs_tag = UnicodeAttribute(null=True)
    attribute_names = ListAttribute(of=UnicodeAttribute, default=list)
    #: Ids of the version's large uploads still waiting for their bytes (``content/large.py``).
    pending_uploads = UnicodeSetAttribute(null=True)
    #: Publishes of the version so far: a large upload begun before one is published when it finishes.
    publish_count = NumberAttribute(null=True)

    ordinal_index = OrdinalIndex()


class PublicSystemIdIndex(GlobalSecondaryIndex):
    """Maven coordinates of public packages ordered by ``group:artifact``."""

    class Meta:
        index_name = "public_index"
        projection = AllProjection()

    search_shard = UnicodeAttribute(hash_key=True)
    coordinate_lower = UnicodeAttribute(range_key=True)


class SystemId(Model):
    """A Maven ``groupId:artifactId`` found in a package's content."""

    Meta = table_meta("system_ids")

    group_id = UnicodeAttribute(hash_key=True)
    #: ``artifactId#package_id``: one row per coordinate and package.
    ref = UnicodeAttribute(range_key=True)
    artifact_id = UnicodeAttribute()
    coordinate_lower = UnicodeAttribute()
    package_id = UnicodeAttribute()
    repo_id = UnicodeAttribute()
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    package = UnicodeAttribute()
    search_shard = UnicodeAttribute(null=True)

    public_index = PublicSystemIdIndex()


MODELS = (Package, Version, SystemId)
