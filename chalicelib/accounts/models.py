"""DynamoDB models of accounts.

Access patterns (see docs/data-model.md):
- subject by name (users and organisations share one name space): ``Subject`` hash ``name``
- users by name prefix (admin list, user search): GSI ``kind_index`` (``kind``, ``name_lower``)
- members of an org: ``Membership`` hash ``org``; orgs of a user: GSI ``member_index``
- followers of a subject: ``Follower`` hash ``subject``
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.db import table_meta

USER = "user"
ORG = "org"

PLANS = ("oss", "premium", "enterprise")

OWNER = "owner"
ADMIN = "admin"
MEMBER = "member"


#: What ``kind_index`` holds of a subject: what a user search shows to anyone. Not the password and API
#: key hashes, and not ``quota_used_bytes``, which every upload changes (an index entry holding it would
#: be rewritten, and billed, with each upload): a search reads the item for a user it shows the quota of.
KIND_INDEX_ATTRIBUTES = ["full_name", "email", "registered", "followers_count"]


class KindIndex(GlobalSecondaryIndex):
    """Subjects of one kind ordered by lower-case name (user listing and search)."""

    class Meta:
        index_name = "kind_index"
        projection = IncludeProjection(KIND_INDEX_ATTRIBUTES)

    kind = UnicodeAttribute(hash_key=True)
    name_lower = UnicodeAttribute(range_key=True)


class Subject(Model):
    """A user or an organisation: the owner of repositories."""

    Meta = table_meta("subjects")

    name = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    name_lower = UnicodeAttribute()
    full_name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    password_hash = UnicodeAttribute(null=True)
    api_key_hash = UnicodeAttribute(null=True)
    is_admin = BooleanAttribute(default=False)
    plan = UnicodeAttribute(default="oss")
    owner = UnicodeAttribute(null=True)
    registered = UTCDateTimeAttribute()
    followers_count = NumberAttribute(default=0)
    quota_used_bytes = NumberAttribute(default=0)
    #: Key of the subject's signed URLs (urlsafe base64, generated on first use; regenerating revokes them).
    url_signing_key = UnicodeAttribute(null=True)

    kind_index = KindIndex()

    @property
    def is_org(self) -> bool:
        return self.kind == ORG

    @property
    def premium(self) -> bool:
        return self.plan != "oss"


class MemberIndex(GlobalSecondaryIndex):
    """Organisations a user belongs to."""

    class Meta:
        index_name = "member_index"
        projection = AllProjection()

    member = UnicodeAttribute(hash_key=True)
    org = UnicodeAttribute(range_key=True)


class Membership(Model):
    """A user's role in an organisation: ``owner``, ``admin`` or ``member``."""

    Meta = table_meta("memberships")

    org = UnicodeAttribute(hash_key=True)
    member = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()

    member_index = MemberIndex()


class FollowingIndex(GlobalSecondaryIndex):
    """Subjects a user follows (for cleaning up when the user is deleted)."""

    class Meta:
        index_name = "following_index"
        projection = KeysOnlyProjection()

    follower = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute(range_key=True)


class Follower(Model):
    """``follower`` follows ``subject``."""

    Meta = table_meta("followers")

    subject = UnicodeAttribute(hash_key=True)
    follower = UnicodeAttribute(range_key=True)
    created = UTCDateTimeAttribute()

    following_index = FollowingIndex()


MODELS = (Subject, Membership, Follower)
