"""Entitlements: what access keys may reach on a product, repository (optionally a path of it),
package or version of their owner.

Every write of an entitlement is one transaction with its reference rows (``EntitlementRef``): one
per access key (carrying the scope and access, so a key's grants are one Query at authentication) and
one per tag (search by tag). Writes are conditional on the revision read, so concurrent updates
cannot leave reference rows behind.

Example::

    scope = Scope.of(subject, repo=repo)
    create(scope, EntitlementBody(access="r", access_keys=["ci"], path="com/acme"))
"""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import db, plans
from chalicelib.accounts.models import Subject
from chalicelib.content.paths import check_file_path
from chalicelib.entitlements.models import (
    PACKAGE,
    PRODUCT,
    REPO,
    VERSION,
    AccessKey,
    Entitlement,
    EntitlementRef,
    key_ref,
    tag_ref,
)
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.packages.models import Package
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import now
from chalicelib.validation import Body, Field

ACCESS = ("r", "rw")
#: At most this many access keys and tags per entitlement: with its reference rows, an update stays
#: within one DynamoDB transaction (100 items).
MAX_KEYS = 24
MAX_TAGS = 24
ENTITLEMENT_ID_MAX = 128

Names = list[str] | None


class EntitlementBody(Body):
    """Create Entitlement."""

    id: str | None = Field(default=None, max_length=ENTITLEMENT_ID_MAX)
    access: str
    access_keys: list[str] = Field(default_factory=list, max_length=MAX_KEYS)
    path: str | None = Field(default=None, max_length=1024)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)


class EntitlementUpdate(Body):
    """Update Entitlement: every field optional."""

    access: str | None = None
    access_keys: Names = Field(default=None, max_length=MAX_KEYS)
    access_keys_add: Names = Field(default=None, max_length=MAX_KEYS)
    access_keys_remove: Names = Field(default=None, max_length=MAX_KEYS)
    tags: Names = Field(default=None, max_length=MAX_TAGS)
    tags_add: Names = Field(default=None, max_length=MAX_TAGS)
    tags_remove: Names = Field(default=None, max_length=MAX_TAGS)


@dataclass(frozen=True)
class Scope:
    """Where an entitlement applies."""

    kind: str
    owner: str
    repo: Repository | None = None
    package: Package | None = None
    version: str | None = None
    product: str | None = None

    @property
    def key(self) -> str:
        if self.kind == PRODUCT:
            return product_scope_key(self.owner, self.product or "")
        assert self.repo is not None
        if self.kind == REPO:
            return f"R#{self.repo.id}"
        assert self.package is not None
        if self.kind == PACKAGE:
            return f"P#{self.package.id}"
        return f"V#{self.package.id}#{self.version}"

    def fields(self) -> dict:
        """The scope attributes shared by an entitlement and its reference rows."""
        return {
            "scope": self.kind,
            "product": self.product,
            "repo": self.repo.name if self.repo else None,
            "repo_id": self.repo.id if self.repo else None,
            "package": self.package.name if self.package else None,
            "package_id": self.package.id if self.package else None,
            "version": self.version,
        }


def product_scope_key(owner: str, product: str) -> str:
    """The scope key of ``owner``'s product ``product`` (repository, package and version keys carry
    ids unique across subjects; a product's name is unique only within its owner)."""
    return f"D#{owner}#{product}"


def scope_of(
    subject: Subject,
    repo: Repository | None = None,
    package: str | None = None,
    version: str | None = None,
    product: str | None = None,
) -> Scope:
    """The scope named by a route (404 for an unknown product, package or version; the plan is
    checked afterwards, ``require_plan``)."""
    if product is not None:
        from chalicelib.products.models import Product

        try:
            Product.get(subject.name, product)
        except DoesNotExist:
            raise NotFound(f"Product '{product}' was not found") from None
        return Scope(PRODUCT, subject.name, product=product)
    assert repo is not None
    if package is None:
        return Scope(REPO, subject.name, repo=repo)
    from chalicelib.packages.services import get_package

    found = get_package(repo, package)
    if version is None:
        return Scope(PACKAGE, subject.name, repo=repo, package=found)
    from chalicelib.packages.versions import get_version

    return Scope(VERSION, subject.name, repo=repo, package=found, version=get_version(found, version).name)


def require_plan(subject: Subject, scope: Scope | None = None, entitlement_id: str | None = None) -> None:
    """The plan checks of entitlements, after the scope's existence: Premium (product scope:
    Enterprise); a named entitlement that does not exist is a 404 first."""
    exists = (lambda: get(scope, entitlement_id)) if scope is not None and entitlement_id else None
    plans.require(subject, "entitlements", exists=exists)
    if scope is not None and scope.kind == PRODUCT:
        plans.require(subject, "product_entitlements", exists=exists)


# --- reading ----------------------------------------------------------------------------------


def describe(item: Entitlement) -> dict:
    """Get / Create / Update Entitlement."""
    return {
        "id": item.id,
        "path": item.path,
        "access": item.access,
        "access_keys": list(item.access_keys or []),
        "tags": list(item.tags or []),
    }


def list_ids(scope: Scope) -> list[dict]:
    """Get Entitlements: ``[{"id": ...}, ...]``."""
    return [{"id": item.id} for item in Entitlement.scope_index.query(scope.key)]


def get(scope: Scope, entitlement_id: str) -> Entitlement:
    """The entitlement ``entitlement_id`` of ``scope`` or 404."""
    try:
        item = Entitlement.get(scope.owner, entitlement_id)
    except DoesNotExist:
        item = None
    if item is None or item.scope_key != scope.key:
        raise NotFound(f"Entitlement '{entitlement_id}' was not found")
    return item


# --- writing ----------------------------------------------------------------------------------


def _access(value: str, scope: Scope) -> str:
    if value not in ACCESS:
        raise BadRequest(f"Invalid value for 'access': {value!r} (use 'r' or 'rw')")
    if scope.kind == PRODUCT and value != "r":
        raise BadRequest("Invalid value for 'access': a product-scope entitlement can only be 'r'")
    return value


def _unique(values: list[str], field: str, limit: int) -> list[str]:
    out: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value or "#" in value or len(value) > 128:
            raise BadRequest(f"Invalid value for '{field}': {value!r}")
        if value not in out:
            out.append(value)
    if len(out) > limit:
        raise BadRequest(f"Invalid value for '{field}': at most {limit} entries")
    return out


def _key_uids(owner: str, key_ids: list[str]) -> dict[str, str]:
    """The ``uid`` of each access key (one BatchGetItem); 400 naming a key that does not exist."""
    found = {key.id: key.uid for key in AccessKey.batch_get([(owner, k) for k in key_ids])}
    missing = [k for k in key_ids if k not in found]
    if missing:
        raise BadRequest(f"Invalid value for 'access_keys': access key '{missing[0]}' was not found")
    return found


def _path(value: str | None, scope: Scope) -> str | None:
    if value is None or value == "":
        return None
    if scope.kind != REPO:
        raise BadRequest("Invalid value for 'path': a path can only be given for a repository scope")
    if value.startswith("/"):
        raise BadRequest(f"Invalid value for 'path': {value!r} must be relative")
    try:
        return check_file_path(value.rstrip("/"))
    except BadRequest:
        raise BadRequest(f"Invalid value for 'path': {value!r} is not a valid relative path") from None


def _write(item: Entitlement, old: Entitlement | None, uids: dict[str, str]) -> None:
    """Write ``item`` and its reference rows in one transaction (``old``: the revision read)."""
    fields = {k: getattr(item, k) for k in ("scope", "product", "repo", "repo_id", "package",
                                            "package_id", "version", "path", "access")}
    old_keys = set(old.access_keys or []) if old else set()
    old_tags = set(old.tags or []) if old else set()
    with db.transaction() as tx:
        if old is None:
            tx.save(item, condition=Entitlement.id.does_not_exist())
        else:
            tx.save(item, condition=Entitlement.rev == old.rev)
        for key_id in item.access_keys:
            row = EntitlementRef(key_ref(item.owner, key_id), item.id, key_uid=uids[key_id], **fields)
            tx.save(row)
        for tag in item.tags:
            tx.save(EntitlementRef(tag_ref(item.owner, tag), item.id, **fields))
        for key_id in old_keys - set(item.access_keys):
            tx.delete(EntitlementRef(key_ref(item.owner, key_id), item.id))
        for tag in old_tags - set(item.tags):
            tx.delete(EntitlementRef(tag_ref(item.owner, tag), item.id))


def create(scope: Scope, body: EntitlementBody) -> Entitlement:
    """Create Entitlement; the id is generated (40 hex) when absent; 409 if it exists."""
    entitlement_id = body.id or secrets.token_hex(20)
    if "#" in entitlement_id or "/" in entitlement_id or not entitlement_id.strip():
        raise BadRequest(f"Invalid value for 'id': {entitlement_id!r}")
    keys = _unique(body.access_keys, "access_keys", MAX_KEYS)
    item = Entitlement(
        scope.owner,
        entitlement_id,
        scope_key=scope.key,
        access=_access(body.access, scope),
        access_keys=keys,
        tags=_unique(body.tags, "tags", MAX_TAGS),
        path=_path(body.path, scope),
        rev=0,
        created=now(),
        **scope.fields(),
    )
    uids = _key_uids(scope.owner, keys) if keys else {}
    try:
        _write(item, None, uids)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise Conflict(f"Entitlement '{entitlement_id}' already exists") from None
        raise
    return item


def _merged(
    current: list[str], replace: Names, add: Names, remove: Names, field: str, limit: int
) -> list[str]:
    values = list(current) if replace is None else _unique(replace, field, limit)
    for value in _unique(add or [], f"{field}_add", limit):
        if value not in values:
            values.append(value)
    dropped = set(_unique(remove or [], f"{field}_remove", limit))
    return _unique([v for v in values if v not in dropped], field, limit)


def update(scope: Scope, entitlement_id: str, body: EntitlementUpdate) -> Entitlement:
    """Update Entitlement: access, the access key list and the tag list (replace, add, remove)."""
    old = get(scope, entitlement_id)
    item = Entitlement.from_raw_data(old.serialize())
    if body.access is not None:
        item.access = _access(body.access, scope)
    item.access_keys = _merged(
        list(old.access_keys or []), body.access_keys, body.access_keys_add, body.access_keys_remove,
        "access_keys", MAX_KEYS,
    )
    item.tags = _merged(list(old.tags or []), body.tags, body.tags_add, body.tags_remove, "tags", MAX_TAGS)
    item.rev = int(old.rev or 0) + 1
    uids = _key_uids(scope.owner, list(item.access_keys)) if item.access_keys else {}
    try:
        _write(item, old, uids)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise Conflict(f"Entitlement '{entitlement_id}' changed at the same time; try again") from None
        raise
    return item


def delete(scope: Scope, entitlement_id: str) -> None:
    """Delete Entitlement with its reference rows: its keys lose what it granted at once."""
    item = get(scope, entitlement_id)
    _delete(item)


def _delete(item: Entitlement) -> None:
    try:
        with db.transaction() as tx:
            tx.delete(item, condition=Entitlement.rev == item.rev)
            for key_id in item.access_keys or []:
                tx.delete(EntitlementRef(key_ref(item.owner, key_id), item.id))
            for tag in item.tags or []:
                tx.delete(EntitlementRef(tag_ref(item.owner, tag), item.id))
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise Conflict(f"Entitlement '{item.id}' was changed at the same time; try again") from None
        raise


def forget_key(owner: str, key_id: str) -> None:
    """A deleted access key leaves the entitlements that named it (and its reference rows go)."""
    for row in EntitlementRef.query(key_ref(owner, key_id)):
        for attempt in range(db.TRANSACTION_ATTEMPTS):
            try:
                item: Entitlement | None = Entitlement.get(owner, row.entitlement_id)
            except DoesNotExist:
                item = None
            if item is None or key_id not in (item.access_keys or []):
                row.delete()
                break
            new = Entitlement.from_raw_data(item.serialize())
            new.access_keys = [k for k in item.access_keys if k != key_id]
            new.rev = int(item.rev or 0) + 1
            try:
                with db.transaction() as tx:
                    tx.save(new, condition=Entitlement.rev == item.rev)
                    tx.delete(row)
                break
            except TransactWriteError:
                db.backoff(attempt)


# --- cascades ---------------------------------------------------------------------------------


def purge_scope(owner: str, scope_key: str) -> int:
    """Delete every entitlement of one scope (a deleted product); returns how many."""
    items = [item for item in Entitlement.scope_index.query(scope_key) if item.owner == owner]
    for item in items:
        _delete(item)
    return len(items)


def purge_subject(owner: str) -> None:
    """Delete a deleted subject's access keys and entitlements with their reference rows."""
    from chalicelib.entitlements.access_keys import delete_key

    for item in Entitlement.query(owner):
        _delete(item)
    for key in AccessKey.query(owner):
        delete_key(owner, key.id)
