"""DynamoDB model of repositories.

Access patterns (see docs/data-model.md):
- repository by owner and name, repositories of an owner: ``Repository`` hash ``owner``, range ``name``
- public repositories by name prefix (search): sparse GSI ``public_index`` (``search_shard``,
  ``name_lower``); private repositories carry no ``search_shard`` and are never in it.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.db import table_meta

REPO_TYPES = ("maven", "debian", "conan", "rpm", "docker", "npm", "opkg", "nuget", "vagrant", "generic")
PUBLIC_SHARD = "public"


class PublicRepoIndex(GlobalSecondaryIndex):
    """Public repositories ordered by lower-case name."""

    class Meta:
        index_name = "public_index"
        projection = AllProjection()

    search_shard = UnicodeAttribute(hash_key=True)
    name_lower = UnicodeAttribute(range_key=True)


class Repository(Model):
    """A repository of a subject. ``id`` keys its children, so a re-created name starts empty."""

    Meta = table_meta("repositories")

    owner = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    type = UnicodeAttribute(default="generic")
    private = BooleanAttribute(default=False)
    business_unit = UnicodeAttribute(null=True)
    desc = UnicodeAttribute(null=True)
    labels = ListAttribute(of=UnicodeAttribute, default=list)
    created = UTCDateTimeAttribute()
    updated = UTCDateTimeAttribute()
    package_count = NumberAttribute(default=0)
    gpg_sign_metadata = BooleanAttribute(default=False)
    gpg_sign_files = BooleanAttribute(default=False)
    gpg_use_owner_key = BooleanAttribute(default=False)
    version_update_max_days = NumberAttribute(null=True)
    default_debian_architecture = UnicodeAttribute(null=True)
    default_debian_distribution = UnicodeAttribute(null=True)
    default_debian_component = UnicodeAttribute(null=True)
    yum_metadata_depth = NumberAttribute(null=True)
    yum_groups_file = UnicodeAttribute(null=True)
    name_lower = UnicodeAttribute()
    desc_lower = UnicodeAttribute(null=True)
    search_shard = UnicodeAttribute(null=True)
    #: ``{team name: permission}`` of the owner's teams (``chalicelib/teams``), read by the policy
    #: with the repository itself; absent when no team has a permission here.
    team_permissions = MapAttribute(null=True)
    # Download restrictions (chalicelib/restrictions/), on the item itself: a download reads nothing more.
    geo_white_list = ListAttribute(of=UnicodeAttribute, null=True)
    geo_black_list = ListAttribute(of=UnicodeAttribute, null=True)
    ip_white_cidrs = ListAttribute(of=UnicodeAttribute, null=True)
    ip_black_cidrs = ListAttribute(of=UnicodeAttribute, null=True)
    #: Incremented by every restriction change (optimistic concurrency of the read-modify-writes).
    restrictions_rev = NumberAttribute(null=True)

    public_index = PublicRepoIndex()


MODELS = (Repository,)
