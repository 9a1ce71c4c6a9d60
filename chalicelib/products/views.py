"""Routes of products, product readmes, EULAs, EULA acceptance and EULA tracking (Enterprise).

Security choices (the spec's "read permission for private repositories" has no repository in these
paths):
- reading a product (list, get, its EULA list): any authenticated caller; callers without read rights
  on the subject (owner, org members, administrators) see only products with at least one package in
  a public repository (others: 404 / left out of the list);
- writes, Get EULA, ``file_eula`` and tracking: admin right on the subject;
- product readme: publish right on the subject (org members, the owner, administrators);
- EULA acceptance: any user or access key (the EULA text is meant for downloaders).
"""

from __future__ import annotations

from chalice import Response

from chalicelib import plans
from chalicelib.auth.policy import Ctx, Need
from chalicelib.content import services as content
from chalicelib.errors import NotFound
from chalicelib.products import eulas, services
from chalicelib.products.eulas import CreateEulaBody, UpdateEulaBody
from chalicelib.products.services import CreateProductBody, UpdateProductBody
from chalicelib.validation import parse_body
from chalicelib.web.paging import PAGE_SIZE, start_pos
from chalicelib.web.routing import Api, created, json_response

api = Api(__name__)
DELETED = {"message": "deleted"}
SUCCESS = {"message": "success"}

PRODUCTS = "/products/{subject}"
PRODUCT = "/products/{subject}/{product}"
README = "/products/{subject}/{product}/readme"
EULAS = "/products/{subject}/{product}/eulas"
EULA = "/products/{subject}/{product}/eulas/{eula}"
ACCEPT = "/products/{subject}/{product}/versions/{version}/accept_eula"
SIGNED = "/products/{subject}/{product}/signed_eulas"
FILE_EULA = "/file_eula/{subject}/{repo}/{file_path+}"


def _products(ctx: Ctx) -> None:
    assert ctx.subject is not None
    plans.require(ctx.subject, "products")


def _eulas(ctx: Ctx) -> None:
    assert ctx.subject is not None
    plans.require(ctx.subject, "eulas")


# --- products ------------------------------------------------------------------------------------


@api.route(PRODUCTS, ["GET"], Need.AUTHENTICATED)
def get_products(ctx: Ctx, subject: str) -> list[dict]:
    _products(ctx)
    return services.list_products(ctx, subject)


@api.route(PRODUCT, ["GET"], Need.AUTHENTICATED)
def get_product(ctx: Ctx, subject: str, product: str) -> dict:
    _products(ctx)
    return services.describe(*services.readable_product(ctx, subject, product))


@api.route(PRODUCTS, ["POST"], Need.ADMIN)
def create_product(ctx: Ctx, subject: str) -> Response:
    _products(ctx)
    made = services.create_product(subject, parse_body(ctx.raw_body, CreateProductBody))
    return created(services.describe(made, services.load_members(subject, list(made.packages))))


@api.route(PRODUCT, ["PATCH"], Need.ADMIN)
def update_product(ctx: Ctx, subject: str, product: str) -> dict:
    _products(ctx)
    found = services.get_product(subject, product)
    updated = services.update_product(subject, found, parse_body(ctx.raw_body, UpdateProductBody))
    return services.describe(updated, services.load_members(subject, list(updated.packages)))


@api.route(PRODUCT, ["DELETE"], Need.ADMIN)
def delete_product(ctx: Ctx, subject: str, product: str) -> dict:
    _products(ctx)
    services.delete_product(subject, services.get_product(subject, product))
    return DELETED


# --- product readme ------------------------------------------------------------------------------


@api.route(README, ["POST"], Need.PUBLISH)
def create_product_readme(ctx: Ctx, subject: str, product: str) -> list[dict]:
    _products(ctx)
    return services.set_readme(subject, services.get_product(subject, product), ctx.raw_body)


@api.route(README, ["DELETE"], Need.PUBLISH)
def delete_product_readme(ctx: Ctx, subject: str, product: str) -> dict:
    _products(ctx)
    services.delete_readme(subject, services.get_product(subject, product))
    return SUCCESS


# --- EULAs ---------------------------------------------------------------------------------------


@api.route(EULAS, ["GET"], Need.AUTHENTICATED)
def get_eulas(ctx: Ctx, subject: str, product: str) -> list[dict]:
    _eulas(ctx)
    services.readable_product(ctx, subject, product)
    return [eulas.summary(e) for e in eulas.eulas_of(subject, product)]


@api.route(EULAS, ["POST"], Need.ADMIN)
def create_eula(ctx: Ctx, subject: str, product: str) -> Response:
    _eulas(ctx)
    found = services.get_product(subject, product)
    made = eulas.create_eula(subject, found, parse_body(ctx.raw_body, CreateEulaBody))
    return created(eulas.describe(made))


@api.route(EULA, ["GET"], Need.ADMIN)
def get_eula(ctx: Ctx, subject: str, product: str, eula: str) -> dict:
    _eulas(ctx)
    services.get_product(subject, product)
    return eulas.describe(eulas.get_eula(subject, product, eula))


@api.route(EULA, ["PATCH"], Need.ADMIN)
def update_eula(ctx: Ctx, subject: str, product: str, eula: str) -> dict:
    _eulas(ctx)
    found = services.get_product(subject, product)
    target = eulas.get_eula(subject, product, eula)
    body = parse_body(ctx.raw_body, UpdateEulaBody)
    return eulas.describe(eulas.update_eula(subject, found, target, body))


@api.route(EULA, ["DELETE"], Need.ADMIN)
def delete_eula(ctx: Ctx, subject: str, product: str, eula: str) -> dict:
    _eulas(ctx)
    services.get_product(subject, product)
    eulas.delete_eula(eulas.get_eula(subject, product, eula))
    return DELETED


@api.route(FILE_EULA, ["GET"], Need.ADMIN)
def get_file_eula(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    _eulas(ctx)
    record = content.visible_file(ctx, file_path)
    found = eulas.eula_for_file(record.owner, record.repo, record.package, record.version)
    if found is None:
        raise NotFound(f"File '{record.path}' has no EULA")
    product, eula = found
    return eulas.describe(eula) | {"product": product}


# --- acceptance ----------------------------------------------------------------------------------


@api.route(ACCEPT, ["GET"], Need.KEY_HOLDER)
def show_eula_acceptance(ctx: Ctx, subject: str, product: str, version: str) -> dict:
    _eulas(ctx)
    found = services.get_product(subject, product)
    return eulas.show_acceptance(subject, found, version, ctx.principal, ctx.query)


@api.route(ACCEPT, ["POST"], Need.KEY_HOLDER)
def accept_eula(ctx: Ctx, subject: str, product: str, version: str) -> dict:
    _eulas(ctx)
    found = services.get_product(subject, product)
    return eulas.accept(subject, found, version, ctx.principal, ctx.query)


# --- tracking ------------------------------------------------------------------------------------


@api.route(SIGNED, ["GET"], Need.ADMIN)
def get_signed_eulas(ctx: Ctx, subject: str, product: str) -> Response:
    """One product's acceptances, or every product's for ``_all``; ``start_pos`` pages through all
    rows (products by name, newest first in each), 50 at a time."""
    _eulas(ctx)
    start = start_pos(ctx.query)
    body, total, shown = eulas.signed_page(subject, product, ctx.query, start, PAGE_SIZE)
    headers = {
        "X-RangeLimit-Total": str(total),
        "X-RangeLimit-StartPos": str(start),
        "X-RangeLimit-EndPos": str(start + max(shown - 1, 0)),
    }
    return json_response(body, 200, headers)
