"""Product services (enterprise): bodies, membership rows, the spec's shapes, product readme, cascades.

A product names its packages as ``repo/package`` strings of its subject. Membership rows
(``ProductMember``, keyed by ``subject/repo/package``) let a download find the products of a file's
package in one Query. A package deleted after joining a product is left out of the product's answers
(``packages``, ``versions``); re-creating a package of that name brings it back.
"""

from __future__ import annotations

import re
from dataclasses import field
from typing import Any

from pynamodb.exceptions import DeleteError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import db, events, plans
from chalicelib.accounts.models import Subject
from chalicelib.auth.policy import Access, Right, readable_packages
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.events import ProductDeleted
from chalicelib.packages.models import Package, Version
from chalicelib.products.models import (
    Eula,
    EulaAcceptance,
    Product,
    ProductMember,
    package_key,
    product_key,
)
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import iso, now
from chalicelib.validation import PACKAGE_NAME, REPO_NAME, Body, Field, check_name, needs_one_of

#: Product names: like repository names; ``_all`` is reserved (``/products/{subject}/_all/signed_eulas``).
PRODUCT_NAME = REPO_NAME
RESERVED_PRODUCT_NAMES = {"_all"}
#: Packages per product: one create or update is a single transaction (at most 100 items).
MAX_PACKAGES = 40
URL = Field(default=None, max_length=2048)
MEMBER_PATTERN = re.compile(r"^([^/]+)/([^/]+)$")


class ProductFields(Body):
    """Fields shared by create and update."""

    display_name: str | None = Field(default=None, max_length=256)
    desc: str | None = Field(default=None, max_length=4000)
    website_url: str | None = URL
    vcs_url: str | None = URL
    packages: list[str] | None = Field(default=None, max_length=MAX_PACKAGES)
    sign_url_expiry: int | None = Field(default=None, ge=0, le=10 * 365 * 86400)


class CreateProductBody(ProductFields):
    """``POST /products/{subject}``."""

    name: str


class UpdateProductBody(ProductFields):
    """``PATCH /products/{subject}/{product}``: at least one field (null removes one)."""

    model_config = needs_one_of(
        "display_name", "desc", "website_url", "vcs_url", "packages", "sign_url_expiry", value={}
    )


def product_name(value: str) -> str:
    check_name("product", value, PRODUCT_NAME)
    if value in RESERVED_PRODUCT_NAMES:
        raise BadRequest(f"Invalid product name {value!r}: the name is reserved")
    return value


# --- reading -------------------------------------------------------------------------------------


def get_product(subject: str, name: str) -> Product:
    """Product ``name`` of ``subject`` or a 404."""
    return db.get_or_404(Product, subject, name, missing=f"Product '{name}' was not found")


@dataclass
class Members:
    """The existing packages of a product (``repo/package`` -> package) and their repositories."""

    packages: dict[str, Package] = field(default_factory=dict)
    repos: dict[str, Repository] = field(default_factory=dict)


def _split(member: str) -> tuple[str, str]:
    match = MEMBER_PATTERN.fullmatch(member)
    if match is None:
        raise BadRequest(f"Invalid package {member!r}: expected 'repo/package'")
    return match.group(1), match.group(2)


def load_members(subject: str, names: list[str]) -> Members:
    """The packages ``names`` (``repo/package``) of ``subject`` that exist: two BatchGets."""
    found = Members()
    pairs = [_split(name) for name in names]
    repo_names = sorted({repo for repo, _ in pairs})
    if not repo_names:
        return found
    for repo in Repository.batch_get([(subject, name) for name in repo_names]):
        found.repos[repo.name] = repo
    keys = [(found.repos[repo].id, package) for repo, package in pairs if repo in found.repos]
    if keys:
        for package in Package.batch_get(keys):
            found.packages[f"{package.repo}/{package.name}"] = package
    return found


def product_versions(members: Members) -> list[str]:
    """The union of the version names of the product's packages, newest first."""
    created: dict[str, Any] = {}
    for package in members.packages.values():
        rows = Version.ordinal_index.query(
            package.id, scan_index_forward=False, attributes_to_get=["name", "created"]
        )
        for row in rows:
            if row.name not in created or row.created > created[row.name]:
                created[row.name] = row.created
    return sorted(created, key=lambda name: (created[name], name), reverse=True)


def readable_members(access: Access, subject: str, members: Members) -> Members:
    """The members the caller may read (``policy.readable_packages``): all of them for callers
    with read rights on the subject (owner, org members, administrators)."""
    if access.can(Right.READ):
        return members
    pairs = [(members.repos[p.repo], p.name) for p in members.packages.values()]
    allowed = readable_packages(access.principal, subject, pairs)
    packages = {m: p for m, p in members.packages.items() if (p.repo, p.name) in allowed}
    return Members(packages, {p.repo: members.repos[p.repo] for p in packages.values()})


def readable_product(access: Access, subject: str, name: str) -> tuple[Product, Members]:
    """The product and the existing packages of it the caller may read; a 404 (as for a product
    that does not exist) for callers who may read none of them and have no read right on the subject."""
    product = get_product(subject, name)
    members = readable_members(access, subject, load_members(subject, list(product.packages)))
    if not members.packages and not access.can(Right.READ):
        raise NotFound(f"Product '{name}' was not found")
    return product, members


def list_products(access: Access, subject: str) -> list[dict[str, Any]]:
    """``[{"name": ...}]`` of the products the caller may read, by name."""
    products = list(Product.query(subject))
    if access.can(Right.READ):
        return [{"name": p.name} for p in products]
    names = sorted({m for p in products for m in p.packages})
    members = readable_members(access, subject, load_members(subject, names))
    return [{"name": p.name} for p in products if any(m in members.packages for m in p.packages)]


def describe(product: Product, members: Members) -> dict[str, Any]:
    """The spec's Get Product shape (plus ``sign_url_expiry``); deleted packages are left out."""
    return {
        "name": product.name,
        "display_name": product.display_name or product.name,
        "created": iso(product.created),
        "desc": product.desc or "",
        "website_url": product.website_url or "",
        "vcs_url": product.vcs_url or "",
        "packages": [m for m in product.packages if m in members.packages],
        "versions": product_versions(members),
        "sign_url_expiry": int(product.sign_url_expiry or 0),
    }


# --- writing -------------------------------------------------------------------------------------


def _check_packages(owner: Subject, names: list[str]) -> list[str]:
    """Deduplicated ``names``; 400 naming the first one that is malformed, does not exist or is not
    in a premium repository (one of a Premium or Enterprise owner); then the products plan check."""
    subject = owner.name
    unique = list(dict.fromkeys(names))
    for name in unique:
        repo, package = _split(name)
        check_name("repository", repo, REPO_NAME)
        check_name("package", package, PACKAGE_NAME)
    members = load_members(subject, unique)
    for name in unique:
        if name not in members.packages:
            raise BadRequest(f"Package '{name}' was not found under subject '{subject}'")
    if unique:
        repo, package = _split(unique[0])
        plans.require(owner, "product_packages", repo=repo, package=package)
    plans.require(owner, "products")
    return unique


def _member(subject: str, product: str, name: str) -> ProductMember:
    repo, package = _split(name)
    return ProductMember(package_key(subject, repo, package), product, subject=subject)


def create_product(owner: Subject, body: CreateProductBody) -> Product:
    """Create a product with its membership rows in one transaction; 409 if the name is taken."""
    subject = owner.name
    product_name(body.name)
    packages = _check_packages(owner, body.packages or [])
    product = Product(
        subject,
        body.name,
        packages=packages,
        display_name=body.display_name or None,
        desc=body.desc or None,
        website_url=body.website_url or None,
        vcs_url=body.vcs_url or None,
        sign_url_expiry=body.sign_url_expiry or 0,
        created=now(),
    )

    def write(tx: TransactWrite) -> None:
        tx.save(product, condition=Product.name.does_not_exist())
        for name in packages:
            tx.save(_member(subject, body.name, name))

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise Conflict(f"Product '{body.name}' already exists") from None
        raise
    return product


def update_product(owner: Subject, product: Product, body: UpdateProductBody) -> Product:
    """Apply the fields present in ``body`` (400 if none); membership rows follow ``packages``."""
    subject = owner.name
    given = body.model_fields_set
    if not given & set(ProductFields.model_fields):
        raise BadRequest(
            "At least one of 'display_name', 'desc', 'website_url', 'vcs_url', 'packages' and "
            "'sign_url_expiry' is required"
        )
    actions = []
    for name in ("display_name", "desc", "website_url", "vcs_url"):
        if name in given:
            value = getattr(body, name)
            attr = getattr(Product, name)
            actions.append(attr.set(value) if value else attr.remove())
    if "sign_url_expiry" in given:
        actions.append(Product.sign_url_expiry.set(body.sign_url_expiry or 0))
    added: list[str] = []
    removed: list[str] = []
    if "packages" not in given:
        plans.require(owner, "products")
    else:
        packages = _check_packages(owner, body.packages or [])
        added = [p for p in packages if p not in product.packages]
        removed = [p for p in product.packages if p not in packages]
        actions.append(Product.packages.set(packages))

    def write(tx: TransactWrite) -> None:
        tx.update(product, actions=actions, condition=Product.created == product.created)
        for name in added:
            tx.save(_member(subject, product.name, name))
        for name in removed:
            tx.delete(_member(subject, product.name, name))

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        # PynamoDB sends deletes first, then puts, then updates: the product's update is last.
        if db.cancelled_by_condition(error, len(added) + len(removed)):
            raise NotFound(f"Product '{product.name}' was not found") from None
        raise
    return get_product(subject, product.name)


def delete_product(subject: str, product: Product) -> None:
    """Delete the product, then its membership rows, EULAs and EULA acceptances."""
    try:
        product.delete(condition=Product.created == product.created)
    except DeleteError as error:
        if db.condition_failed(error):
            raise NotFound(f"Product '{product.name}' was not found") from None
        raise
    purge_product(subject, product)


def purge_product(subject: str, product: Product) -> None:
    """Remove everything under a deleted product (idempotent): its membership rows, EULAs, EULA
    acceptances and, by the subscribers of ``ProductDeleted``, its product-scope entitlements (a
    re-created product of that name starts empty)."""
    key = product_key(subject, product.name)
    db.batch_delete(_member(subject, product.name, name) for name in product.packages)
    db.batch_delete(Eula.query(key))
    db.batch_delete(EulaAcceptance.query(key))
    events.publish(ProductDeleted(owner=subject, product=product.name))


def purge_subject(subject: str) -> None:
    """Delete every product of a deleted subject with what is under it."""
    for product in Product.query(subject):
        product.delete()
        purge_product(subject, product)


# --- product readme ------------------------------------------------------------------------------


def set_readme(subject: str, product: Product, raw_body: bytes | None) -> list[dict[str, Any]]:
    """Set the readme of every existing package of the product; their readmes, in product order."""
    from chalicelib.docs_meta import services as docs
    from chalicelib.validation import parse_body

    body = parse_body(raw_body, docs.ReadmeBody)
    if (body.bintray is None) == (body.github is None):
        raise BadRequest("Exactly one of 'bintray' and 'github' is required")
    members = load_members(subject, list(product.packages))
    results = []
    for name in product.packages:
        package = members.packages.get(name)
        if package is not None:
            try:
                results.append(docs.set_readme(package, body))
            except NotFound:
                continue  # deleted meanwhile
    return results


def delete_readme(subject: str, product: Product) -> int:
    """Delete the readme of every existing package of the product; how many there were."""
    from chalicelib.docs_meta import services as docs

    members = load_members(subject, list(product.packages))
    count = 0
    for package in members.packages.values():
        try:
            docs.delete_readme(package)
            count += 1
        except NotFound:
            continue  # that package had no readme
    return count
