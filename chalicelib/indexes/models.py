"""DynamoDB models of metadata indexes.

Access patterns (see docs/data-model.md):
- a repository's index state (the served generation, pending changes, the schedule and the lease):
  ``IndexState`` hash ``repo_id``
- one index file of a repository by path (serving), every index file of a repository (a calculation
  from scratch, a repository's deletion): ``IndexFile`` hash ``repo_id``, range ``path``
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.models import Model

from chalicelib.db import table_meta


class IndexState(Model):
    """The pointer of a repository's index: readers serve generation ``generation``; a calculation
    writes generation ``attempt`` and flips ``generation`` to it in the write that releases its lease."""

    Meta = table_meta("index_states")

    repo_id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute(null=True)
    repo = UnicodeAttribute(null=True)
    #: The generation readers see (0: none calculated yet).
    generation = NumberAttribute(default=0)
    #: The last generation a calculation started (above ``generation``: one is running or crashed).
    attempt = NumberAttribute(default=0)
    #: File paths changed since the last calculation (published, deleted, overridden).
    changed = UnicodeSetAttribute(null=True)
    #: The next calculation starts from scratch (calc_metadata, too many changes, a crashed attempt).
    full = BooleanAttribute(null=True)
    #: Requests noted so far (each ``request`` adds 1): a calculation clears the changes it covered only
    #: when no request came while it ran.
    requests = NumberAttribute(null=True)
    #: Paths asked for with calc_metadata (Maven: the artifact's directory).
    scopes = UnicodeSetAttribute(null=True)
    #: ``<token>:<epoch ms>`` of the change that sent the pending calculation's message (absent: none
    #: is scheduled); the first change of a burst sets it, the calculation's claim removes it.
    schedule = UnicodeAttribute(null=True)
    #: Epoch ms until which a running calculation holds the repository.
    lease_until = NumberAttribute(null=True)
    calculated_at = NumberAttribute(null=True)
    #: Files in the served generation (for information).
    file_count = NumberAttribute(null=True)


class IndexFile(Model):
    """One index file: its content in generation ``gen`` (S3 ``key``) and, for readers still on an
    older generation, the content before it (``prev_*``). ``key`` None: deleted in ``gen``."""

    Meta = table_meta("index_files")

    repo_id = UnicodeAttribute(hash_key=True)
    path = UnicodeAttribute(range_key=True)
    gen = NumberAttribute()
    key = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    prev_key = UnicodeAttribute(null=True)
    prev_size = NumberAttribute(null=True)
    prev_sha256 = UnicodeAttribute(null=True)


MODELS = (IndexState, IndexFile)
