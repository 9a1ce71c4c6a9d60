"""Routes of products, product readmes, EULAs, EULA acceptance and EULA tracking (Enterprise).

Security choices (the spec's "read permission for private repositories" has no repository in these
paths):
- reading a product (list, get): any authenticated user; a product shows only the member packages
  the caller may read (``policy.readable_packages``), and one without any is a 404 / left out of the
  list for callers without read rights on the subject (owner, org members, administrators);
- its EULA list: any authenticated user or access key, so customers read them before accepting;
- EULA acceptance: users and access keys that may read the product (a key through its entitlements);
  to the others the product does not exist (the same 404 whatever the version);
- writes, Get EULA, ``file_eula`` and tracking: admin right on the subject (403 ``forbidden``);
- product readme: publish right on the subject (the owner, org admins, administrators).

Plans (``chalicelib/plans.py``): a named product, EULA or version that does not exist is a 404
before the plan is checked.
"""

from __future__ import annotations

from chalice import Response

from chalicelib import plans
from chalicelib.auth.policy import Need
from chalicelib.content import services as content
from chalicelib.docs_meta.services import ReadmeBody
from chalicelib.errors import NotFound
from chalicelib.products import eulas, services
from chalicelib.products.eulas import CreateEulaBody, UpdateEulaBody
from chalicelib.products.models import Eula, Product
from chalicelib.products.services import CreateProductBody, UpdateProductBody
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
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


def _products(ctx: Ctx, product: str | None = None) -> Product | None:
    """The plan check of product routes; with ``product``, the product (404 first)."""
    assert ctx.subject is not None
    found = services.get_product(ctx.subject.name, product) if product is not None else None
    plans.require(ctx.subject, "products")
    return found


def _eulas(ctx: Ctx) -> None:
    assert ctx.subject is not None
    plans.require(ctx.subject, "eulas")


# --- products ------------------------------------------------------------------------------------


@api.route(PRODUCTS, ["GET"], Need.AUTHENTICATED, response=schemas.PRODUCTS)
def get_products(ctx: Ctx, subject: str) -> list[dict]:
    _products(ctx)
    return services.list_products(ctx, subject)


@api.route(PRODUCT, ["GET"], Need.AUTHENTICATED, response=schemas.PRODUCT)
def get_product(ctx: Ctx, subject: str, product: str) -> dict:
    found = services.readable_product(ctx, subject, product)
    _products(ctx)
    return services.describe(*found)


@api.route(PRODUCTS, ["POST"], Need.ADMIN, body=CreateProductBody, response={201: schemas.PRODUCT})
def create_product(ctx: Ctx, subject: str) -> Response:
    assert ctx.subject is not None
    made = services.create_product(ctx.subject, parse_body(ctx.raw_body, CreateProductBody))
    return created(services.describe(made, services.load_members(subject, list(made.packages))))


@api.route(PRODUCT, ["PATCH"], Need.ADMIN, body=UpdateProductBody, response=schemas.PRODUCT)
def update_product(ctx: Ctx, subject: str, product: str) -> dict:
    assert ctx.subject is not None
    found = services.get_product(subject, product)
    updated = services.update_product(ctx.subject, found, parse_body(ctx.raw_body, UpdateProductBody))
    return services.describe(updated, services.load_members(subject, list(updated.packages)))


@api.route(PRODUCT, ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_product(ctx: Ctx, subject: str, product: str) -> dict:
    found = _products(ctx, product)
    assert found is not None
    services.delete_product(subject, found)
    return DELETED


# --- product readme ------------------------------------------------------------------------------


@api.route(README, ["POST"], Need.PUBLISH, body=ReadmeBody, response=schemas.array(schemas.README))
def create_product_readme(ctx: Ctx, subject: str, product: str) -> list[dict]:
    found = _products(ctx, product)
    assert found is not None
    return services.set_readme(subject, found, ctx.raw_body)


@api.route(README, ["DELETE"], Need.PUBLISH, response=schemas.MESSAGE)
def delete_product_readme(ctx: Ctx, subject: str, product: str) -> dict:
    found = _products(ctx, product)
    assert found is not None
    services.delete_readme(subject, found)
    return SUCCESS


# --- EULAs ---------------------------------------------------------------------------------------


@api.route(EULAS, ["GET"], Need.KEY_HOLDER, response=schemas.array(schemas.EULA_SUMMARY))
def get_eulas(ctx: Ctx, subject: str, product: str) -> list[dict]:
    services.get_product(subject, product)
    _eulas(ctx)
    return [eulas.summary(e) for e in eulas.eulas_of(subject, product)]


@api.route(EULAS, ["POST"], Need.ADMIN, body=CreateEulaBody, response={201: schemas.EULA})
def create_eula(ctx: Ctx, subject: str, product: str) -> Response:
    found = services.get_product(subject, product)
    _eulas(ctx)
    made = eulas.create_eula(subject, found, parse_body(ctx.raw_body, CreateEulaBody))
    return created(eulas.describe(made))


def _eula(ctx: Ctx, subject: str, product: str, eula: str) -> tuple[Product, Eula]:
    """The product and its EULA (404s), then the plan check."""
    found = services.get_product(subject, product), eulas.get_eula(subject, product, eula)
    _eulas(ctx)
    return found


@api.route(EULA, ["GET"], Need.ADMIN, response=schemas.EULA)
def get_eula(ctx: Ctx, subject: str, product: str, eula: str) -> dict:
    return eulas.describe(_eula(ctx, subject, product, eula)[1])


@api.route(EULA, ["PATCH"], Need.ADMIN, body=UpdateEulaBody, response=schemas.EULA)
def update_eula(ctx: Ctx, subject: str, product: str, eula: str) -> dict:
    found, target = _eula(ctx, subject, product, eula)
    body = parse_body(ctx.raw_body, UpdateEulaBody)
    return eulas.describe(eulas.update_eula(subject, found, target, body))


@api.route(EULA, ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_eula(ctx: Ctx, subject: str, product: str, eula: str) -> dict:
    eulas.delete_eula(_eula(ctx, subject, product, eula)[1])
    return DELETED


@api.route(FILE_EULA, ["GET"], Need.ADMIN, response=schemas.EULA)
def get_file_eula(ctx: Ctx, subject: str, repo: str, file_path: str) -> dict:
    record = content.visible_file(ctx, file_path)
    _eulas(ctx)
    found = eulas.eula_for_file(record.owner, record.repo, record.package, record.version)
    if found is None:
        raise NotFound(f"File '{record.path}' has no EULA")
    product, eula = found
    return eulas.describe(eula) | {"product": product}


# --- acceptance ----------------------------------------------------------------------------------


def _version_eula(ctx: Ctx, subject: str, product: str, version: str) -> tuple[Product, Eula]:
    """The product (404 unless the caller may read it), the EULA of ``version`` of its packages the
    caller may read (404), then the plan check."""
    found, members = services.readable_product(ctx, subject, product)
    eula = eulas.version_eula(subject, found, members, version)
    _eulas(ctx)
    return found, eula


@api.route(ACCEPT, ["GET"], Need.KEY_HOLDER, query=schemas.Acceptance, response=schemas.OBJECT)
def show_eula_acceptance(ctx: Ctx, subject: str, product: str, version: str) -> dict:
    found, eula = _version_eula(ctx, subject, product, version)
    return eulas.show_acceptance(subject, found, version, eula, ctx.principal, ctx.query)


@api.route(
    ACCEPT,
    ["POST"],
    Need.KEY_HOLDER,
    query=schemas.Acceptance,
    response={200: schemas.OBJECT, 201: schemas.OBJECT},
)
def accept_eula(ctx: Ctx, subject: str, product: str, version: str) -> dict:
    found, eula = _version_eula(ctx, subject, product, version)
    return eulas.accept(subject, found, version, eula, ctx.principal, ctx.query)


# --- tracking ------------------------------------------------------------------------------------


@api.route(
    SIGNED,
    ["GET"],
    Need.ADMIN,
    query=schemas.SignedEulas,
    response=schemas.WithHeaders(schemas.OBJECT, schemas.RANGE_HEADERS),
)
def get_signed_eulas(ctx: Ctx, subject: str, product: str) -> Response:
    """One product's acceptances, or every product's for ``_all``; ``start_pos`` pages through all
    rows (products by name, newest first in each), 50 at a time."""
    if product != "_all":
        services.get_product(subject, product)
    _eulas(ctx)
    start = start_pos(ctx.query)
    body, total, shown = eulas.signed_page(subject, product, ctx.query, start, PAGE_SIZE)
    headers = {
        "X-RangeLimit-Total": str(total),
        "X-RangeLimit-StartPos": str(start),
        "X-RangeLimit-EndPos": str(start + max(shown - 1, 0)),
    }
    return json_response(body, 200, headers)
