"""DynamoDB model of files.

Access patterns (see docs/data-model.md):
- file by repository and path (download, override, delete): ``File`` hash ``repo_id``, range ``path``
- files of a version (listing, publish, discard): GSI ``version_index`` (``version_key``, ``path``)
- files of a package: GSI ``package_index`` (``package_id``, ``path``)
- public published files by name prefix (search): sparse GSI ``public_name_index``
- files by SHA-1 (search): GSI ``sha1_index``; files by SHA-256 (blob collection): GSI ``sha256_index``
- a large upload waiting for its bytes in S3, by id (the staged key ``uploads/<id>``): ``PendingUpload``
- large uploads of a version (their state, for clients polling): GSI ``version_index`` of ``PendingUpload``
  (``version_key``, ``path``); those still waiting are also in the version's ``pending_uploads`` set
"""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.db import table_meta


class VersionIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "version_index"
        projection = AllProjection()

    version_key = UnicodeAttribute(hash_key=True)
    path = UnicodeAttribute(range_key=True)


class PackageIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "package_index"
        projection = AllProjection()

    package_id = UnicodeAttribute(hash_key=True)
    path = UnicodeAttribute(range_key=True)


class PublicNameIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "public_name_index"
        projection = AllProjection()

    search_shard = UnicodeAttribute(hash_key=True)
    name_lower = UnicodeAttribute(range_key=True)


class Sha1Index(GlobalSecondaryIndex):
    class Meta:
        index_name = "sha1_index"
        projection = AllProjection()

    sha1 = UnicodeAttribute(hash_key=True)
    path = UnicodeAttribute(range_key=True)


class Sha256Index(GlobalSecondaryIndex):
    class Meta:
        index_name = "sha256_index"
        projection = KeysOnlyProjection()

    sha256 = UnicodeAttribute(hash_key=True)


class File(Model):
    """A file of a version, at one path of a repository (one file per path)."""

    Meta = table_meta("files")

    repo_id = UnicodeAttribute(hash_key=True)
    path = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    name_lower = UnicodeAttribute()
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    package = UnicodeAttribute()
    package_id = UnicodeAttribute()
    version = UnicodeAttribute()
    #: ``package_id#version``
    version_key = UnicodeAttribute()
    size = NumberAttribute()
    sha1 = UnicodeAttribute()
    sha256 = UnicodeAttribute()
    #: Computed at upload (absent on files recorded before they were): Maven's ``.md5`` and ``.sha512``.
    md5 = UnicodeAttribute(null=True)
    sha512 = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    uploader = UnicodeAttribute(null=True)
    published = BooleanAttribute(default=False)
    published_at = UTCDateTimeAttribute(null=True)
    list_in_downloads = BooleanAttribute(default=False)
    deb_distribution = ListAttribute(of=UnicodeAttribute, null=True)
    deb_component = ListAttribute(of=UnicodeAttribute, null=True)
    deb_architecture = ListAttribute(of=UnicodeAttribute, null=True)
    #: Package metadata read at upload for the repository's index (chalicelib/indexes): a .deb's
    #: control paragraph; an .rpm's primary, filelists and other XML (gzipped JSON).
    deb_control = UnicodeAttribute(null=True)
    rpm_xml = BinaryAttribute(null=True, legacy_encoding=False)
    #: ``public`` while the file is published in a public repository, else absent.
    search_shard = UnicodeAttribute(null=True)

    version_index = VersionIndex()
    package_index = PackageIndex()
    public_name_index = PublicNameIndex()
    sha1_index = Sha1Index()
    sha256_index = Sha256Index()


#: States of a large upload: ``pending`` → ``processing`` (leased) → ``done`` | ``failed``
PENDING, PROCESSING, DONE, FAILED = "pending", "processing", "done", "failed"


class PendingVersionIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "version_index"
        projection = AllProjection()

    version_key = UnicodeAttribute(hash_key=True)
    path = UnicodeAttribute(range_key=True)


class PendingUpload(Model):
    """A large upload answered with a 307 to a presigned S3 PUT of ``uploads/<id>``: everything needed to
    record the file when S3 reports the object (``content/large.py``). Expires by TTL."""

    Meta = table_meta("pending_uploads")

    id = UnicodeAttribute(hash_key=True)
    #: ``pending`` → ``processing`` (leased until ``lease_until``) → ``done`` | ``failed``
    state = UnicodeAttribute(default=PENDING)
    lease_until = UTCDateTimeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    repo_owner = UnicodeAttribute()
    repo_name = UnicodeAttribute()
    repo_id = UnicodeAttribute()
    package = UnicodeAttribute()
    version = UnicodeAttribute()
    #: ``package_id#version``, as on files
    version_key = UnicodeAttribute(null=True)
    #: the version's ``publish_count`` when the upload began: a higher count when it finishes means the
    #: version was published meanwhile, so the file is published too
    publishes_seen = NumberAttribute(null=True)
    path = UnicodeAttribute()
    publish = BooleanAttribute(default=False)
    override = BooleanAttribute(default=False)
    #: X-Checksum-Sha2 of the request, when given
    sha256 = UnicodeAttribute(null=True)
    #: Content-Length of the request: the object must have exactly this size
    size = NumberAttribute()
    uploader = UnicodeAttribute(null=True)
    uploader_is_admin = BooleanAttribute(default=False)
    deb_distribution = ListAttribute(of=UnicodeAttribute, null=True)
    deb_component = ListAttribute(of=UnicodeAttribute, null=True)
    deb_architecture = ListAttribute(of=UnicodeAttribute, null=True)
    maven_group_id = UnicodeAttribute(null=True)
    maven_artifact_id = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    expires_at = TTLAttribute()

    version_index = PendingVersionIndex()


MODELS = (File, PendingUpload)
