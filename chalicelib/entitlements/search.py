"""Entitlement Search By Access Key / By Tag: ``GET /search/entitlements``.

``scope=subject[/repo[/package[/version]]]`` (required); ``access_key=`` or ``tag=`` (one of them);
``deep=true`` adds the scope's sub-scopes; ``product=`` keeps that product's entitlements. Reads: one
Query on the key's (or tag's) reference rows, a GetItem of the repository (or a BatchGetItem of the
repositories, for a deep subject scope) so entitlements of a deleted repository are left out, and one
BatchGetItem of the entitlements.

Example::

    search("acme", {"access_key": "ci", "scope": "acme/tools", "deep": "true"})
"""

from __future__ import annotations

from collections.abc import Mapping

from pynamodb.exceptions import DoesNotExist

from chalicelib.entitlements.models import PRODUCT, AccessKey, Entitlement, EntitlementRef, key_ref, tag_ref
from chalicelib.errors import BadRequest
from chalicelib.repositories.models import Repository
from chalicelib.validation import flag


def parse_scope(query: Mapping[str, str]) -> list[str]:
    """The scope's parts ``[subject, repo?, package?, version?]``; 400 when missing or malformed."""
    raw = (query.get("scope") or "").strip().strip("/")
    parts = raw.split("/") if raw else []
    if not parts or len(parts) > 4 or any(not part for part in parts):
        raise BadRequest("'scope' is required: subject[/repo[/package[/version]]]")
    return parts


def _rows(owner: str, query: Mapping[str, str]) -> list[EntitlementRef]:
    key, tag = query.get("access_key"), query.get("tag")
    if bool(key) == bool(tag):
        raise BadRequest("Give exactly one of 'access_key' and 'tag'")
    if key:
        try:
            uid = AccessKey.get(owner, key).uid
        except DoesNotExist:
            return []
        return [row for row in EntitlementRef.query(key_ref(owner, key)) if row.key_uid == uid]
    return list(EntitlementRef.query(tag_ref(owner, str(tag))))


def _in_scope(row: EntitlementRef, parts: list[str], deep: bool, product: str | None) -> bool:
    if product is not None:
        return row.scope == PRODUCT and row.product == product
    if row.scope == PRODUCT:
        return len(parts) == 1
    mine = [row.repo, row.package, row.version]
    wanted = parts[1:]
    if mine[: len(wanted)] != wanted:
        return False
    return deep or all(value is None for value in mine[len(wanted):])


def _live_repo_ids(owner: str, rows: list[EntitlementRef]) -> set[str]:
    """Ids of the repositories the rows name that exist now (one BatchGetItem)."""
    names = {row.repo for row in rows if row.repo}
    if not names:
        return set()
    return {repo.id for repo in Repository.batch_get([(owner, name) for name in names])}


def render(item: Entitlement) -> dict:
    """One search result."""
    out: dict = {"id": item.id}
    if item.scope == PRODUCT:
        out["product"] = item.product
    else:
        out["repo"] = f"/{item.owner}/{item.repo}"
        if item.package:
            out["package"] = item.package
        if item.version:
            out["version"] = item.version
    out.update(
        path=item.path,
        access=item.access,
        access_keys=list(item.access_keys or []),
        tags=list(item.tags or []),
    )
    return out


def search(owner: str, parts: list[str], query: Mapping[str, str]) -> list[dict]:
    """The entitlements of ``owner`` for the key or tag of ``query`` inside scope ``parts``."""
    deep = flag(query, "deep")
    product = query.get("product") or None
    rows = [row for row in _rows(owner, query) if _in_scope(row, parts, deep, product)]
    live = _live_repo_ids(owner, rows)
    rows = [row for row in rows if row.scope == PRODUCT or row.repo_id in live]
    if not rows:
        return []
    items = {item.id: item for item in Entitlement.batch_get([(owner, row.entitlement_id) for row in rows])}
    return [render(items[row.entitlement_id]) for row in rows if row.entitlement_id in items]
