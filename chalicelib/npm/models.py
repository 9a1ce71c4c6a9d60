"""DynamoDB models of npm registries (see docs/data-model.md).

Access patterns:
- an npm package of a repository by its npm name (packument, publish, dist-tags): ``NpmPackage`` hash
  ``repo_id``, range ``name`` (``@scope/name`` as npm spells it)
- the published manifests of a package (rebuilding its packument): ``NpmManifest`` hash ``package_id``,
  range ``version``
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta


class NpmPackage(Model):
    """An npm package of a repository: its Shelf package, dist-tags and the revision of its packument
    document (precomputed in S3, ``chalicelib/npm/documents.py``)."""

    Meta = table_meta("npm_packages")

    repo_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    package = UnicodeAttribute()
    package_id = UnicodeAttribute()
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    dist_tags = MapAttribute(default=dict)
    created = UTCDateTimeAttribute()
    modified = UTCDateTimeAttribute()
    #: Changes so far (publishes, tag changes, unpublishes): the packument's ``_rev`` prefix.
    revision = NumberAttribute(default=0)


class NpmManifest(Model):
    """One published version: its package.json as published (``manifest``, JSON text, with ``dist``)."""

    Meta = table_meta("npm_manifests")

    package_id = UnicodeAttribute(hash_key=True)
    version = UnicodeAttribute(range_key=True)
    manifest = UnicodeAttribute()
    #: The version's tarball in the repository.
    path = UnicodeAttribute()
    published = UTCDateTimeAttribute()


MODELS = (NpmPackage, NpmManifest)
