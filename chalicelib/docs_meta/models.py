"""DynamoDB model of readmes and release notes (one table, ``docs_meta``).

Access patterns (see docs/data-model.md):
- a package's readme or release notes: ``DocsMeta`` hash ``package_id``, range ``readme`` / ``release_notes``
- a version's release notes: range ``release_notes#<version>``
- everything of a package (cascade on package deletion): Query on ``package_id``
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta

README = "readme"
RELEASE_NOTES = "release_notes"

BINTRAY = "bintray"
GITHUB = "github"


def version_kind(version: str) -> str:
    """The range key of a version's release notes (version names never contain ``#``)."""
    return f"{RELEASE_NOTES}#{version}"


class DocsMeta(Model):
    """A readme or release notes, as given: Bintray content or a GitHub reference."""

    Meta = table_meta("docs_meta")

    package_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(range_key=True)
    #: ``bintray`` or ``github``.
    source = UnicodeAttribute()
    syntax = UnicodeAttribute(null=True)
    content = UnicodeAttribute(null=True)
    github_repo = UnicodeAttribute(null=True)
    github_release_notes_file = UnicodeAttribute(null=True)
    use_release = BooleanAttribute(null=True)
    updated = UTCDateTimeAttribute()


MODELS = (DocsMeta,)
