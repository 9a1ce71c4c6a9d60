"""Maven services: Sync Version Artifacts to Maven Central, validated and refused (no sync target can
be reached from Shelf; docs/compatibility.md)."""

from __future__ import annotations

from chalicelib.errors import BadRequest, Forbidden
from chalicelib.packages.services import get_package
from chalicelib.packages.versions import get_version
from chalicelib.repositories.models import Repository
from chalicelib.validation import Body, Field

#: The real service's refusal of a package that is not in its central mirror (observed, rule 11),
#: with Shelf's own wording of why: there is no mirror to be included in, and no target to sync to.
NOT_IN_JCENTER = (
    "In order to sync to Maven Central your package must be included in JCenter; "
    "Shelf has no JCenter inclusion and no Maven Central sync target"
)


class SyncBody(Body):
    """``POST /maven_central_sync/...``: Sonatype OSS user token and password; ``close`` ("1", default)."""

    username: str | None = Field(default=None, max_length=256)
    password: str | None = Field(default=None, max_length=256)
    close: str | int | None = None


def sync_to_central(repo: Repository, package: str, version: str, body: SyncBody) -> None:
    """Validate a sync request (Maven repository, package and version exist, credentials given, close
    0 or 1), then refuse it as the real service refused packages outside JCenter (403)."""
    if repo.type != "maven":
        raise BadRequest(f"Repo '{repo.name}' is not a Maven repository")
    get_version(get_package(repo, package), version)
    if body.close not in (None, "0", "1", 0, 1):
        raise BadRequest("Invalid value for 'close': 0 or 1")
    if not body.username or not body.password:
        raise BadRequest(
            "Sonatype OSS credentials are required: 'username' and 'password' (none are kept in the account)"
        )
    raise Forbidden(NOT_IN_JCENTER)
