"""Plan rules: which features need which subject plan. Every "only available for Premium /
Enterprise" rule of the spec is checked here and nowhere else.

Example::

    require(subject, "version_update_max_days")   # 403 unless the subject is on Enterprise
"""

from __future__ import annotations

from chalicelib.accounts.models import Subject
from chalicelib.errors import Forbidden

PLAN_RANK = {"oss": 0, "premium": 1, "enterprise": 2}
PLAN_TITLE = {"premium": "Premium", "enterprise": "Enterprise"}

#: feature -> (minimum plan, what the feature is called in messages)
FEATURES: dict[str, tuple[str, str]] = {
    "version_update_max_days": ("enterprise", "'version_update_max_days'"),
    "custom_licenses": ("premium", "'custom_licenses'"),
    "public_stats": ("premium", "'public_stats'"),
    "url_signing": ("premium", "URL signing"),
    "dynamic_download": ("premium", "Dynamic download"),
    # Organisations and commerce (#5). Bintray's "Pro" plan is Shelf's "premium".
    "teams": ("premium", "Team management"),
    "business_unit": ("enterprise", "'business_unit'"),
    "access_keys": ("premium", "Access key management"),
    "entitlements": ("premium", "Entitlement management"),
    "product_entitlements": ("enterprise", "A product-scope entitlement"),
    "products": ("enterprise", "Product management"),
    "eulas": ("enterprise", "EULA management"),
    "proprietary_licenses": ("premium", "Proprietary license management"),
    "geo_restrictions": ("enterprise", "Geo restriction"),
    "unlimited_queries": ("premium", "Unlimited API querying"),
}


def allows(subject: Subject, feature: str) -> bool:
    """Whether ``subject``'s plan includes ``feature``."""
    minimum, _ = FEATURES[feature]
    return PLAN_RANK.get(subject.plan, 0) >= PLAN_RANK[minimum]


def require(subject: Subject, feature: str) -> None:
    """403 naming the plan ``feature`` needs, unless ``subject`` has it."""
    if not allows(subject, feature):
        minimum, title = FEATURES[feature]
        raise Forbidden(f"{title} is only available for Bintray {PLAN_TITLE[minimum]} accounts")
