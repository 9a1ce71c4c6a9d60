"""Usage thresholds (the spec's Usage Thresholds): one per organisation, repository or business unit
of an organisation, each with up to three limits in bytes (0: no alert of that kind) and whom to alert.

Order of the checks (``/work/shared/bintray-observed.md``): the policy's 403 ``forbidden`` for callers
without the admin right (a business unit's existence comes first: 404 ``BusinessUnit 'x' was not
found``, as observed), then 404 for a subject that is not an organisation, then the plan (403 below
Enterprise, ``plans.require(org, "usage_thresholds")``).

Example::

    create(org, ORGANIZATION, None, None, NewThresholdBody(daily_download_bytes=10_000))
    describe(get(org.name, scope_key(ORGANIZATION)))   # {"monthly_storage_bytes": 0, ...}
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib import db, plans
from chalicelib.accounts.models import Subject
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.repositories.models import Repository
from chalicelib.thresholds.models import KINDS, UsageThreshold, scope_key
from chalicelib.timefmt import now
from chalicelib.validation import AfterValidator, Body, Field, Flag, needs_one_of

#: The largest threshold accepted (DynamoDB numbers hold it; no storage is that large).
MAX_BYTES = 10**18
MAX_EMAILS = 20
EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
NOT_FOUND = "Usage threshold was not found"


def _email(value: str) -> str:
    if len(value) > 254 or not EMAIL.fullmatch(value):
        raise ValueError("expected an email address")
    return value


Email = Annotated[str, AfterValidator(_email)]
Bytes = Annotated[int, Field(ge=0, le=MAX_BYTES)]


class ThresholdBody(Body):
    """``POST`` and ``PATCH /usage_threshold/...``: every field optional (``POST`` needs one limit)."""

    monthly_storage_bytes: Bytes | None = None
    monthly_download_bytes: Bytes | None = None
    daily_download_bytes: Bytes | None = None
    alert_to_emails: list[Email] | None = Field(default=None, max_length=MAX_EMAILS)
    alert_to_admins: Flag | None = None


class NewThresholdBody(ThresholdBody):
    """``POST /usage_threshold/...``: at least one limit above 0."""

    model_config = needs_one_of(*KINDS, value={"type": "integer", "minimum": 1})


# --- scopes -------------------------------------------------------------------------------------


def require_org(subject: Subject | None) -> Subject:
    """The organisation of the path (404 for a user or none), on a plan with usage thresholds."""
    if subject is None or not subject.is_org:
        raise NotFound(f"Organization '{subject.name if subject else ''}' was not found")
    plans.require(subject, "usage_thresholds")
    return subject


def repo_scope(repo: Repository) -> str:
    return scope_key("repo", repo.id)


# --- the thresholds -----------------------------------------------------------------------------


def describe(threshold: UsageThreshold) -> dict[str, Any]:
    """The spec's shape."""
    return {
        "monthly_storage_bytes": int(threshold.monthly_storage_bytes or 0),
        "monthly_download_bytes": int(threshold.monthly_download_bytes or 0),
        "daily_download_bytes": int(threshold.daily_download_bytes or 0),
        "alert_to_emails": list(threshold.alert_to_emails or []),
        "alert_to_admins": bool(threshold.alert_to_admins),
    }


def get(org: str, scope: str) -> UsageThreshold:
    return db.get_or_404(UsageThreshold, org, scope, missing=NOT_FOUND)


def create(
    org: Subject, kind: str, name: str | None, repo_id: str | None, body: NewThresholdBody
) -> UsageThreshold:
    """Set the thresholds of a scope that has none (409 if it has); at least one limit above 0."""
    if not any(getattr(body, k) for k in KINDS):
        raise BadRequest(
            "At least one threshold type must be specified: monthly_storage_bytes, "
            "monthly_download_bytes or daily_download_bytes"
        )
    at = now()
    scope = scope_key(kind, repo_id if kind == "repo" else name)
    threshold = UsageThreshold(
        org.name,
        scope,
        org_scope=f"{org.name}#{scope}",
        kind=kind,
        name=name,
        repo_id=repo_id,
        alert_to_emails=sorted(set(body.alert_to_emails or [])),
        alert_to_admins=True if body.alert_to_admins is None else body.alert_to_admins,
        created=at,
        updated=at,
        **{k: getattr(body, k) or 0 for k in KINDS},
    )
    try:
        threshold.save(condition=UsageThreshold.scope.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            raise Conflict("Usage threshold already exists") from None
        raise
    return threshold


def update(org: str, scope: str, body: ThresholdBody) -> UsageThreshold:
    """Change the given fields (0 disables a limit); 404 when the scope has no thresholds."""
    given = body.model_fields_set
    actions: list[Any] = [UsageThreshold.updated.set(now())]
    for kind in KINDS:
        if kind in given:
            actions.append(getattr(UsageThreshold, kind).set(getattr(body, kind) or 0))
    if "alert_to_emails" in given:
        actions.append(UsageThreshold.alert_to_emails.set(sorted(set(body.alert_to_emails or []))))
    if "alert_to_admins" in given:
        actions.append(UsageThreshold.alert_to_admins.set(body.alert_to_admins is not False))
    threshold = UsageThreshold(org, scope)
    try:
        threshold.update(actions=actions, condition=UsageThreshold.scope.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            raise NotFound(NOT_FOUND) from None
        raise
    return threshold


def delete(org: str, scope: str) -> None:
    """Remove a scope's thresholds; 404 when it has none."""
    try:
        UsageThreshold(org, scope).delete(condition=UsageThreshold.scope.exists())
    except DeleteError as error:
        if db.condition_failed(error):
            raise NotFound(NOT_FOUND) from None
        raise


def delete_all(org: str, scope_prefix: str | None = None) -> int:
    """Remove an organisation's thresholds (those whose scope starts with ``scope_prefix``)."""
    condition = UsageThreshold.scope.startswith(scope_prefix) if scope_prefix else None
    items = list(UsageThreshold.query(org, range_key_condition=condition))
    return db.batch_delete(items)
