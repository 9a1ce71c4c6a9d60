"""EULAs of products (enterprise), their acceptance, the EULA check of downloads, and tracking.

Which EULA applies to a product version: the EULA that lists the version, else the product's default
EULA, else none. A version is listed by at most one EULA of a product (409 otherwise) and a product
has at most one default EULA (making one the default clears the flag on the previous one, in the
same transaction).

Downloads by access keys (``check_download``) of a file whose package belongs to a product with an
applicable EULA need an acceptance by that key for that version and EULA; users are never checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import db
from chalicelib.auth.principal import Principal
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.products.models import (
    Eula,
    EulaAcceptance,
    Product,
    ProductMember,
    acceptance_ref,
    package_key,
    product_key,
)
from chalicelib.products.services import (
    Members,
    get_product,
    load_members,
    product_versions,
)
from chalicelib.timefmt import iso, now, parse_iso
from chalicelib.validation import (
    MARKDOWN,
    REPO_NAME,
    Body,
    Field,
    Flag,
    Syntax,
    check_name,
    needs_one_of,
    syntax_name,
)

MAX_CONTENT = 65536
MAX_VERSIONS = 500


class EulaFields(Body):
    syntax: Syntax | None = None
    content: str | None = Field(default=None, max_length=MAX_CONTENT)
    default: Flag | None = None
    versions: list[str] | None = Field(default=None, max_length=MAX_VERSIONS)


class CreateEulaBody(EulaFields):
    """``POST /products/{subject}/{product}/eulas``."""

    name: str


class UpdateEulaBody(EulaFields):
    """``PATCH /products/{subject}/{product}/eulas/{eula}``: at least one field."""

    model_config = needs_one_of("syntax", "content", "default", "versions", value={})


# --- reading -------------------------------------------------------------------------------------


def eulas_of(subject: str, product: str) -> list[Eula]:
    """The EULAs of a product, by name (one Query)."""
    return list(Eula.query(product_key(subject, product)))


def get_eula(subject: str, product: str, name: str) -> Eula:
    return db.get_or_404(Eula, product_key(subject, product), name, missing=f"EULA '{name}' was not found")


def applicable(eulas: Iterable[Eula], version: str) -> Eula | None:
    """The EULA that applies to ``version``: the one listing it, else the default one."""
    candidates = sorted(eulas, key=lambda e: e.name)
    for eula in candidates:
        if version in (eula.versions or []):
            return eula
    return next((eula for eula in candidates if eula.default), None)


def summary(eula: Eula) -> dict[str, Any]:
    """An item of Get EULAs."""
    return {"name": eula.name, "created": iso(eula.created), "versions": list(eula.versions or [])}


def describe(eula: Eula) -> dict[str, Any]:
    """The Get EULA shape."""
    return summary(eula) | {
        "syntax": syntax_name(eula.syntax),
        "content": eula.content or "",
        "default": bool(eula.default),
    }


# --- writing -------------------------------------------------------------------------------------


def _check_versions(subject: str, product: Product, eula: str, versions: list[str]) -> list[str]:
    """Deduplicated ``versions``: 400 unless each is a version of the product, 409 if another EULA
    already lists it."""
    unique = list(dict.fromkeys(versions))
    if not unique:
        return unique
    known = set(product_versions(load_members(subject, list(product.packages))))
    for version in unique:
        if version not in known:
            raise BadRequest(f"Version '{version}' is not a version of product '{product.name}'")
    for other in eulas_of(subject, product.name):
        if other.name == eula:
            continue
        taken = set(other.versions or []) & set(unique)
        if taken:
            raise Conflict(f"Version '{sorted(taken)[0]}' already has EULA '{other.name}'")
    return unique


def _clear_defaults(tx: TransactWrite, subject: str, product: str, keep: str) -> None:
    for other in eulas_of(subject, product):
        if other.default and other.name != keep:
            tx.update(other, actions=[Eula.default.set(False)])


def create_eula(subject: str, product: Product, body: CreateEulaBody) -> Eula:
    """Create a EULA (201); 409 if the name is taken."""
    check_name("EULA", body.name, REPO_NAME)
    versions = _check_versions(subject, product, body.name, body.versions or [])
    eula = Eula(
        product_key(subject, product.name),
        body.name,
        syntax=body.syntax or MARKDOWN,
        content=body.content or "",
        versions=versions,
        default=bool(body.default),
        created=now(),
    )

    def write(tx: TransactWrite) -> None:
        tx.save(eula, condition=Eula.name.does_not_exist())
        tx.condition_check(Product, subject, product.name, condition=Product.created == product.created)
        if eula.default:
            _clear_defaults(tx, subject, product.name, body.name)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        # PynamoDB sends condition checks first, then deletes, puts and updates.
        if db.cancelled_by_condition(error, 0):
            raise NotFound(f"Product '{product.name}' was not found") from None
        if db.cancelled_by_condition(error, 1):
            raise Conflict(f"EULA '{body.name}' already exists") from None
        raise
    return eula


def update_eula(subject: str, product: Product, eula: Eula, body: UpdateEulaBody) -> Eula:
    """Apply the fields present in ``body`` (400 if none)."""
    given = body.model_fields_set
    if not given & set(EulaFields.model_fields):
        raise BadRequest("At least one of 'syntax', 'content', 'default' and 'versions' is required")
    actions = []
    if "syntax" in given:
        actions.append(Eula.syntax.set(body.syntax or MARKDOWN))
    if "content" in given:
        actions.append(Eula.content.set(body.content or ""))
    if "versions" in given:
        versions = _check_versions(subject, product, eula.name, body.versions or [])
        actions.append(Eula.versions.set(versions))
    if "default" in given:
        actions.append(Eula.default.set(bool(body.default)))

    def write(tx: TransactWrite) -> None:
        tx.update(eula, actions=actions, condition=Eula.created == eula.created)
        if body.default:
            _clear_defaults(tx, subject, product.name, eula.name)

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise NotFound(f"EULA '{eula.name}' was not found") from None
        raise
    return get_eula(subject, product.name, eula.name)


def delete_eula(eula: Eula) -> None:
    """Delete a EULA (its acceptances stay: they are the tracking record)."""
    try:
        eula.delete(condition=Eula.created == eula.created)
    except DeleteError as error:
        if db.condition_failed(error):
            raise NotFound(f"EULA '{eula.name}' was not found") from None
        raise


# --- which EULA applies to a file ----------------------------------------------------------------


def products_of(subject: str, repo: str, package: str) -> list[str]:
    """Names of the products containing a package (one Query)."""
    return [row.product for row in ProductMember.query(package_key(subject, repo, package))]


def eula_for_file(subject: str, repo: str, package: str, version: str) -> tuple[str, Eula] | None:
    """The first (by product name) product containing the package whose EULAs cover ``version``,
    with the EULA that applies."""
    for product in products_of(subject, repo, package):
        eula = applicable(eulas_of(subject, product), version)
        if eula is not None:
            return product, eula
    return None


def accept_url(base_url: str, subject: str, product: str, version: str, username: str) -> str:
    """The acceptance endpoint of a product version for ``username``."""
    path = f"/products/{subject}/{product}/versions/{quote(version, safe='')}/accept_eula"
    return f"{base_url}{path}?username={quote(username, safe='@')}"


def has_accepted(subject: str, product: str, version: str, eula: str, username: str) -> bool:
    try:
        EulaAcceptance.get(product_key(subject, product), acceptance_ref(version, eula, username))
    except DoesNotExist:
        return False
    return True


def check_download(principal: Principal, record: Any, base_url: Callable[[], str]) -> None:
    """403 with the spec's message when an access key downloads a file of a product version whose
    EULA it has not accepted. ``record`` is the file (``owner``, ``repo``, ``package``, ``version``,
    ``path``). Costs nothing for users; for keys one Query, plus one Query and one GetItem per
    product containing the package."""
    if not principal.is_access_key or principal.name is None:
        return
    subject, repo = record.owner, record.repo
    for product in products_of(subject, repo, record.package):
        eula = applicable(eulas_of(subject, product), record.version)
        if eula is None or has_accepted(subject, product, record.version, eula.name, principal.name):
            continue
        url = accept_url(base_url(), subject, product, record.version, principal.name)
        raise Forbidden(f"To download the resource {record.path} you need to accept its EULA at: {url}")


# --- acceptance ----------------------------------------------------------------------------------


def version_eula(subject: str, product: Product, members: Members, version: str) -> Eula:
    """The EULA that applies to ``version`` of the product's ``members`` (404 when it is not one of
    their versions or has no EULA)."""
    if version not in product_versions(members):
        raise NotFound(f"Version '{version}' of product '{product.name}' was not found")
    eula = applicable(eulas_of(subject, product.name), version)
    if eula is None:
        raise NotFound(f"Version '{version}' of product '{product.name}' has no EULA")
    return eula


def _username(principal: Principal, query: dict[str, str] | Any) -> str:
    """The caller's name; a ``username`` in the query must be the caller's (403 otherwise)."""
    assert principal.name is not None
    wanted = (query or {}).get("username")
    if wanted and wanted != principal.name:
        raise Forbidden(f"You are authenticated as '{principal.name}', not '{wanted}'")
    return principal.name


def show_acceptance(
    subject: str, product: Product, version: str, eula: Eula, principal: Principal, query: Any
) -> dict:
    """The EULA a product version needs and whether the caller accepted it."""
    username = _username(principal, query)
    return {
        "product": product.name,
        "product_version_name": version,
        "eula_name": eula.name,
        "syntax": syntax_name(eula.syntax),
        "content": eula.content or "",
        "username": username,
        "accepted": has_accepted(subject, product.name, version, eula.name, username),
    }


def accept(
    subject: str, product: Product, version: str, eula: Eula, principal: Principal, query: Any
) -> dict:
    """Record that the caller accepted ``eula``, the EULA of a product version (idempotent: the first
    acceptance's date stays)."""
    username = _username(principal, query)
    key = product_key(subject, product.name)
    row = EulaAcceptance(
        key,
        acceptance_ref(version, eula.name, username),
        username=username,
        eula_name=eula.name,
        product_version_name=version,
        date_signed=now(),
    )
    try:
        row.save(condition=EulaAcceptance.ref.does_not_exist())
    except PutError as error:
        if not db.condition_failed(error):
            raise
        row = EulaAcceptance.get(key, row.ref)
    return {"product": product.name} | signed(row)


# --- tracking ------------------------------------------------------------------------------------


def signed(row: EulaAcceptance) -> dict[str, Any]:
    return {
        "date_signed": iso(row.date_signed),
        "username": row.username,
        "product_version_name": row.product_version_name,
        "eula_name": row.eula_name,
    }


def _bound(query: Any, name: str) -> datetime | None:
    raw = (query or {}).get(name)
    return parse_iso(raw, name) if raw else None


def signed_eulas(subject: str, product: str, query: Any) -> list[tuple[str, EulaAcceptance]]:
    """``(product, acceptance)`` rows matching the filters ``from``, ``to``, ``username`` and
    ``eula_name``: products by name (all of the subject's for ``_all``), newest acceptance first."""
    start, end = _bound(query, "from"), _bound(query, "to")
    username = (query or {}).get("username")
    eula_name = (query or {}).get("eula_name")
    if product == "_all":
        names = [p.name for p in Product.query(subject, attributes_to_get=["name"])]
    else:
        names = [get_product(subject, product).name]
    rows: list[tuple[str, EulaAcceptance]] = []
    for name in names:
        found = [
            row
            for row in EulaAcceptance.query(product_key(subject, name))
            if (start is None or row.date_signed >= start)
            and (end is None or row.date_signed <= end)
            and (not username or row.username == username)
            and (not eula_name or row.eula_name == eula_name)
        ]
        found.sort(key=lambda row: (row.date_signed, row.ref), reverse=True)
        rows += [(name, row) for row in found]
    return rows


def signed_page(
    subject: str, product: str, query: Any, start: int, size: int
) -> tuple[dict[str, list[dict[str, Any]]], int, int]:
    """One page of ``signed_eulas`` as ``{product: [rows]}`` (a single product always appears), the
    total number of rows and the number on the page."""
    rows = signed_eulas(subject, product, query)
    page = rows[start : start + size]
    body: dict[str, list[dict[str, Any]]] = {} if product == "_all" else {product: []}
    for name, row in page:
        body.setdefault(name, []).append(signed(row))
    return body, len(rows), len(page)
