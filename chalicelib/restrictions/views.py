"""Routes of repository download restrictions (spec: Geo Restrictions, IP Restrictions).

Security: 'admin' on the repository (its owner, the organisation's owner and admins, system
administrators). Plans: geo restrictions need Enterprise (every method), IP restrictions Premium
except for reading them (``chalicelib/plans.py``). Enforcement on downloads: ``check.py``, called by
the central policy.
"""

from __future__ import annotations

from chalicelib import plans
from chalicelib.auth.policy import Need
from chalicelib.restrictions import services
from chalicelib.restrictions.services import GeoBody, IpBody, IpPatchBody
from chalicelib.validation import parse_body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api

api = Api(__name__)

GEO = "/repos/{subject}/{repo}/geo_restrictions"
IP = "/repos/{subject}/{repo}/ip_restrictions"


def _plan(ctx: Ctx, feature: str) -> None:
    assert ctx.repo is not None and ctx.subject is not None
    plans.require(ctx.subject, feature)


@api.route(GEO, ["GET"], Need.ADMIN, response=schemas.GEO_RESTRICTIONS)
def get_geo_restrictions(ctx: Ctx, subject: str, repo: str) -> dict:
    _plan(ctx, "geo_restrictions")
    assert ctx.repo is not None
    return services.geo(ctx.repo)


@api.route(GEO, ["PUT"], Need.ADMIN, body=GeoBody, response=schemas.MESSAGE)
def update_geo_restrictions(ctx: Ctx, subject: str, repo: str) -> dict:
    _plan(ctx, "geo_restrictions")
    assert ctx.repo is not None
    return services.set_geo(ctx.repo, parse_body(ctx.raw_body, GeoBody))


@api.route(GEO, ["DELETE"], Need.ADMIN, response=schemas.GEO_RESTRICTIONS)
def delete_geo_restrictions(ctx: Ctx, subject: str, repo: str) -> dict:
    _plan(ctx, "geo_restrictions")
    assert ctx.repo is not None
    return services.delete_geo(ctx.repo)


@api.route(IP, ["GET"], Need.ADMIN, response=schemas.IP_RESTRICTIONS)
def get_ip_restrictions(ctx: Ctx, subject: str, repo: str) -> dict:
    assert ctx.repo is not None
    return services.ip(ctx.repo)


@api.route(IP, ["PUT"], Need.ADMIN, body=IpBody, response=schemas.IP_RESTRICTIONS)
def set_ip_restrictions(ctx: Ctx, subject: str, repo: str) -> dict:
    _plan(ctx, "ip_restrictions")
    assert ctx.repo is not None
    return services.set_ip(ctx.repo, parse_body(ctx.raw_body, IpBody))


@api.route(IP, ["PATCH"], Need.ADMIN, body=IpPatchBody, response=schemas.IP_RESTRICTIONS)
def update_ip_restrictions(ctx: Ctx, subject: str, repo: str) -> dict:
    _plan(ctx, "ip_restrictions")
    assert ctx.repo is not None
    return services.patch_ip(ctx.repo, parse_body(ctx.raw_body, IpPatchBody))


@api.route(IP, ["DELETE"], Need.ADMIN, response=schemas.MESSAGE)
def delete_ip_restrictions(ctx: Ctx, subject: str, repo: str) -> dict:
    _plan(ctx, "ip_restrictions")
    assert ctx.repo is not None
    return services.delete_ip(ctx.repo)
