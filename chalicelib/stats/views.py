"""Routes of download statistics and usage reports (spec: Statistics & Usage Report).

Security: statistics need the publish right on the repository, or an access key with a read/write
entitlement covering the package (or version); usage reports the admin right (a package's storage
usage: publish). Plans (``chalicelib/plans.py``, observed wordings): statistics of Premium packages
("statistics"), usage of Premium subjects ("usage") and repositories ("repository_usage"), by
business unit Enterprise ("business_unit_usage"). Existence is checked before the plan.
"""

from __future__ import annotations

from chalice import Response

from chalicelib import business_units, plans
from chalicelib.auth.policy import Need, Right, require_file
from chalicelib.stats import services
from chalicelib.stats.services import RangeBody, TimeRange
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.paging import PAGE_SIZE, paged_response, start_pos
from chalicelib.web.routing import Api

api = Api(__name__)

PACKAGE = "/packages/{subject}/{repo}/{package}"
VERSION = "/packages/{subject}/{repo}/{package}/versions/{version}"
REPORTS = {
    "time_range_downloads": services.downloads_by_day,
    "total_downloads": services.total_downloads,
    "country_downloads": services.country_downloads,
}


def _range(ctx: Ctx) -> TimeRange:
    raw = ctx.raw_body if ctx.raw_body and ctx.raw_body.strip() else b"{}"
    return TimeRange.parse(parse_body(raw, RangeBody))


def _statistics(ctx: Ctx, report: str, package: str, version: str | None) -> dict:
    assert ctx.repo is not None and ctx.subject is not None
    found = services.package_of(ctx.repo, package)
    require_file(ctx, Right.PUBLISH, "", package, version, found.id)
    plans.require(ctx.subject, "statistics")
    return REPORTS[report](ctx.repo, found, version, _range(ctx))


@api.route(
    f"{PACKAGE}/stats/time_range_downloads",
    ["POST"],
    Need.PUBLISH,
    key_files=True,
    body=RangeBody,
    response=schemas.OBJECT,
)
def package_time_range_downloads(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    return _statistics(ctx, "time_range_downloads", package, None)


@api.route(
    f"{VERSION}/stats/time_range_downloads",
    ["POST"],
    Need.PUBLISH,
    key_files=True,
    body=RangeBody,
    response=schemas.OBJECT,
)
def version_time_range_downloads(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    return _statistics(ctx, "time_range_downloads", package, version)


@api.route(
    f"{PACKAGE}/stats/total_downloads",
    ["POST"],
    Need.PUBLISH,
    key_files=True,
    body=RangeBody,
    response=schemas.OBJECT,
)
def package_total_downloads(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    return _statistics(ctx, "total_downloads", package, None)


@api.route(
    f"{VERSION}/stats/total_downloads",
    ["POST"],
    Need.PUBLISH,
    key_files=True,
    body=RangeBody,
    response=schemas.OBJECT,
)
def version_total_downloads(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    return _statistics(ctx, "total_downloads", package, version)


@api.route(
    f"{PACKAGE}/stats/country_downloads",
    ["POST"],
    Need.PUBLISH,
    key_files=True,
    body=RangeBody,
    response=schemas.OBJECT,
)
def package_country_downloads(ctx: Ctx, subject: str, repo: str, package: str) -> dict:
    return _statistics(ctx, "country_downloads", package, None)


@api.route(
    f"{VERSION}/stats/country_downloads",
    ["POST"],
    Need.PUBLISH,
    key_files=True,
    body=RangeBody,
    response=schemas.OBJECT,
)
def version_country_downloads(ctx: Ctx, subject: str, repo: str, package: str, version: str) -> dict:
    return _statistics(ctx, "country_downloads", package, version)


# --- usage ----------------------------------------------------------------------------------------


@api.route("/usage/{subject}", ["POST"], Need.ADMIN, body=RangeBody, response=schemas.array(schemas.OBJECT))
def subject_usage(ctx: Ctx, subject: str) -> list:
    assert ctx.subject is not None
    plans.require(ctx.subject, "usage")
    return services.subject_usage(ctx.subject, _range(ctx))


@api.route(
    "/usage/{subject}/{repo}",
    ["POST"],
    Need.ADMIN,
    body=RangeBody,
    response=schemas.array(schemas.OBJECT),
)
def repo_usage(ctx: Ctx, subject: str, repo: str) -> list:
    assert ctx.subject is not None and ctx.repo is not None
    plans.require(ctx.subject, "repository_usage")
    return services.repo_usage(ctx.repo, _range(ctx))


def _package_usage(ctx: Ctx, package: str | None) -> Response:
    assert ctx.subject is not None and ctx.repo is not None
    repo = ctx.repo
    exists = (lambda: services.package_of(repo, package)) if package is not None else None
    plans.require(ctx.subject, "repository_usage", exists=exists)
    start = start_pos(ctx.query)
    items, total = services.package_usage(repo, package, start, PAGE_SIZE)
    return paged_response(items, start, total)


@api.route(
    "/usage/package_usage/{subject}/{repo}",
    ["POST"],
    Need.ADMIN,
    query=schemas.Paging,
    response=schemas.paged(schemas.OBJECT),
)
def repo_package_usage(ctx: Ctx, subject: str, repo: str) -> Response:
    return _package_usage(ctx, None)


@api.route(
    "/usage/package_usage/{subject}/{repo}/{package}",
    ["POST"],
    Need.PUBLISH,
    query=schemas.Paging,
    response=schemas.paged(schemas.OBJECT),
)
def package_usage(ctx: Ctx, subject: str, repo: str, package: str) -> Response:
    return _package_usage(ctx, package)


@api.route(
    "/usage/business_unit_usage/{subject}",
    ["POST"],
    Need.ADMIN,
    body=RangeBody,
    response=schemas.array(schemas.OBJECT),
)
def business_unit_usage(ctx: Ctx, subject: str) -> list:
    assert ctx.subject is not None
    plans.require(ctx.subject, "business_unit_usage")
    return services.business_unit_usage(ctx.subject, _range(ctx))


@api.route(
    "/usage/business_unit_usage/{subject}/{business_unit}",
    ["POST"],
    Need.ADMIN,
    body=RangeBody,
    response=schemas.array(schemas.OBJECT),
)
def one_business_unit_usage(ctx: Ctx, subject: str, business_unit: str) -> list:
    assert ctx.subject is not None
    plans.require(
        ctx.subject,
        "business_unit_usage",
        exists=lambda: business_units.require(subject, business_unit),
    )
    business_units.require(subject, business_unit)
    return services.business_unit_usage(ctx.subject, _range(ctx), business_unit)
