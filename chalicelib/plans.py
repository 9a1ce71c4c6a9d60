"""Plan rules: which features need which subject plan, and how a refusal is answered. Every plan
rule of the spec is checked here and nowhere else; each feature answers with the status and wording
the real Bintray was observed to answer (``/work/shared/bintray-observed.md``, rule 1; the features
it does not name follow the closest observed rule, see docs/compatibility.md "Plans").

Existence comes before the plan (rule 2): a route naming an item (a team, product, EULA, access
key ...) passes ``exists``, which is called (and raises its 404) only when the plan refuses.

Example::

    require(subject, "version_update_max_days")          # 403 unless the subject is on Enterprise
    require(owner, "url_signing", repo="tools")          # 403 "Repository '/acme/tools' must be premium"
    require(owner, "teams", exists=lambda: get_team(owner.name, "devs"))   # 404 first, then 400
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.accounts.models import Subject
from chalicelib.errors import BadRequest, Forbidden, ShelfError
from chalicelib.records import dataclass

PLAN_RANK = {"oss": 0, "premium": 1, "enterprise": 2}

#: The observed wordings (``{subject}``, ``{repo}``, ``{package}`` are filled in).
NONE_PREMIUM = "This action is not allowed for none-premium subject {subject}"
PREMIUM_REPOSITORY = "Repository '/{subject}/{repo}' must be premium"
ENTITLEMENTS = "This resource is only available for subjects with entitlement management enabled"
ENTERPRISE = "This resource is only available for Enterprise users"
GEO = (
    "Account Plan is not suitable for repo geo restriction. "
    "Geo restrictions are only available for Enterprise accounts"
)
IP = "Your repo commercial type does not support IP restrictions."
STATISTICS = "This resource is only available for premium packages."
USAGE = "This resource is only available for Premium users"
REPOSITORY_USAGE = "This resource is only available for Premium repositories"
USAGE_THRESHOLDS = "Usage thresholds are only available for organizations on an Enterprise plan."
PRODUCT_PACKAGE = "Package {repo}/{package} should be under premium repository to be part of a product"


@dataclass(frozen=True)
class Rule:
    """A feature's minimum plan and the refusal below it."""

    minimum: str
    status: int
    message: str


def _subject_feature(minimum: str = "premium") -> Rule:
    return Rule(minimum, 400, NONE_PREMIUM)


#: feature -> rule. Bintray's "Pro" plan is Shelf's "premium".
FEATURES: dict[str, Rule] = {
    # Observed (rule 1): subject features answer 400 "none-premium subject".
    "teams": _subject_feature(),
    "team_permissions": _subject_feature(),
    "proprietary_licenses": _subject_feature(),
    "url_signing_key": _subject_feature(),
    # Observed: features with their own 403 wording.
    "url_signing": Rule("premium", 403, PREMIUM_REPOSITORY),
    "access_keys": Rule("premium", 403, ENTITLEMENTS),
    "entitlements": Rule("premium", 403, ENTITLEMENTS),
    "geo_restrictions": Rule("enterprise", 403, GEO),
    "ip_restrictions": Rule("premium", 403, IP),
    "product_packages": Rule("premium", 400, PRODUCT_PACKAGE),
    "statistics": Rule("premium", 403, STATISTICS),
    "usage": Rule("premium", 403, USAGE),
    "repository_usage": Rule("premium", 403, REPOSITORY_USAGE),
    "business_unit_usage": Rule("enterprise", 403, ENTERPRISE),
    # Not named by the observations: the closest observed rule.
    "custom_licenses": _subject_feature(),  # a package naming the subject's proprietary licenses
    "public_stats": _subject_feature(),  # a package setting of its subject
    "dynamic_download": Rule("premium", 403, PREMIUM_REPOSITORY),  # a signed URL, like URL signing
    # Enterprise features: the observed wording of the Enterprise-only usage report.
    "version_update_max_days": Rule("enterprise", 403, ENTERPRISE),
    "business_unit": Rule("enterprise", 403, ENTERPRISE),
    "products": Rule("enterprise", 403, ENTERPRISE),
    "eulas": Rule("enterprise", 403, ENTERPRISE),
    "product_entitlements": Rule("enterprise", 403, ENTERPRISE),
    # Not observed: the observed wording of package statistics (a package's logs, like its statistics).
    "download_logs": Rule("premium", 403, STATISTICS),
    # Observed: usage thresholds with their own wording.
    "usage_thresholds": Rule("enterprise", 403, USAGE_THRESHOLDS),
    # Never refused: non-Premium callers are counted instead (``chalicelib/ratelimits.py``).
    "unlimited_queries": Rule("premium", 429, ""),
}


def allows(subject: Subject, feature: str) -> bool:
    """Whether ``subject``'s plan includes ``feature``."""
    return PLAN_RANK.get(subject.plan, 0) >= PLAN_RANK[FEATURES[feature].minimum]


def refusal(subject: Subject, feature: str, **names: str) -> ShelfError:
    """The error refusing ``feature`` to ``subject`` (``names``: ``repo``, ``package`` of the message)."""
    rule = FEATURES[feature]
    message = rule.message.format(subject=subject.name, **names)
    error = BadRequest(message) if rule.status == 400 else Forbidden(message)
    error.plan_refusal = True  # type: ignore[attr-defined]  # counted as a refusal (chalicelib.telemetry)
    return error


def require(subject: Subject, feature: str, exists: Callable[[], object] | None = None, **names: str) -> None:
    """Refuse ``feature`` (its rule's status and message) unless ``subject``'s plan includes it;
    ``exists`` is called first when it refuses, so a named item that does not exist is a 404."""
    if allows(subject, feature):
        return
    if exists is not None:
        exists()
    raise refusal(subject, feature, **names)
