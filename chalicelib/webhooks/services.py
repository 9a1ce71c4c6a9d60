"""Webhook services: register, list, delete and test a package's webhook, and deliver releases.

A subject registers at most ``LIMIT`` webhooks, one per package (registering again replaces it, with
a new secret, and reactivates it). On each publish of a version (``VersionPublished``), the queued
subscriber calls ``deliver_release``: the package's active webhook gets the spec's payload with
``X-Bintray-Hook-Hmac`` (base64 HMAC-SHA256 of the package name keyed by the webhook's secret).

Delivery: each call is an *attempt* of the event's ``WebhookDelivery`` (keyed by registration and event
id, so an event delivered again by SQS after a success is not sent twice). A failed attempt (no answer,
or not 2xx) adds one to the webhook's ``failure_count``; a success resets it; ``DEACTIVATE_AFTER``
consecutive failures deactivate the webhook. An event is tried at most ``MAX_ATTEMPTS`` times.

Targets are user input: checked by ``netsafety`` at registration and again at each call.

Example::

    hook, secret, remaining = register(repo, package, parse_register_body(raw), by="alice")
    deliver_release(event)  # True when settled (delivered, given up, or nothing to deliver)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import urllib.request
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError

from chalicelib import db, netsafety
from chalicelib.docs_meta.models import BINTRAY, DocsMeta, version_kind
from chalicelib.errors import BadRequest, NotFound
from chalicelib.events import VersionPublished
from chalicelib.packages.models import Package, Version
from chalicelib.packages.services import get_package
from chalicelib.packages.versions import get_version
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import iso, now
from chalicelib.validation import BeforeValidator, Body, Field, parse_body
from chalicelib.webhooks.models import (
    DELIVERED,
    FAILED,
    RETRYING,
    Webhook,
    WebhookCount,
    WebhookDelivery,
    target_key,
)

#: Webhooks a subject may register (the spec's "up to 10 webhook callbacks").
LIMIT = 10
#: Consecutive failed calls that deactivate a webhook (the spec's "7 subsequent failures").
DEACTIVATE_AFTER = 7
#: Calls of one release event to one webhook before it is given up.
MAX_ATTEMPTS = 3
#: Seconds to wait before the second attempt (doubled for each next one) when retrying in-process.
RETRY_BACKOFF = 1.0
#: Seconds a target has to answer.
CALL_TIMEOUT = 3.0
#: How long delivery records are kept (SQS keeps a message at most 14 days).
DELIVERY_TTL = timedelta(days=14)

LIMIT_HEADERS = ("X-Bintray-WebHookLimit-Limit", "X-Bintray-WebHookLimit-Remaining")
HMAC_HEADER = "X-Bintray-Hook-Hmac"


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


Method = Annotated[Literal["post", "put", "get"], BeforeValidator(_lower)]


class RegisterBody(Body):
    """``POST /webhooks/{subject}/{repo}/{package}``."""

    url: str = Field(min_length=1, max_length=2048)
    method: Method = "post"


class TestBody(Body):
    """``POST /webhooks/{subject}/{repo}/{package}/{version}``: optionally another URL or method."""

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    method: Method | None = None


def expand(url: str, repo: str, package: str) -> str:
    """``url`` with its ``%r`` and ``%p`` tokens replaced by the repository and package names."""
    return url.replace("%r", quote(repo, safe="")).replace("%p", quote(package, safe=""))


def parse_register_body(raw: bytes | None, repo: str, package: str) -> RegisterBody:
    """The registration body; 400 for a missing or unsafe ``url`` or another ``method``."""
    if not raw or not raw.strip():
        raise BadRequest("Missing required field 'url'")
    body = parse_body(raw, RegisterBody)
    netsafety.check_public_url(expand(body.url, repo, package))
    return body


def parse_test_body(raw: bytes | None, repo: str, package: str) -> TestBody:
    body = parse_body(raw, TestBody)
    if body.url is not None:
        netsafety.check_public_url(expand(body.url, repo, package))
    return body


def hook_hmac(secret: str, package: str) -> str:
    """``X-Bintray-Hook-Hmac``: base64 HMAC-SHA256 of the package name keyed by the webhook's secret."""
    return base64.b64encode(hmac.new(secret.encode(), package.encode(), hashlib.sha256).digest()).decode()


def render(hook: Webhook) -> dict[str, Any]:
    """A webhook as listed (the spec's fields, then Shelf's)."""
    return {
        "package": hook.package,
        "url": hook.url,
        "failure_count": int(hook.failure_count or 0),
        "repo": hook.repo,
        "method": hook.method,
        "active": bool(hook.active),
        "created": iso(hook.created),
    }


def limit_headers(remaining: int) -> dict[str, str]:
    return {LIMIT_HEADERS[0]: str(LIMIT), LIMIT_HEADERS[1]: str(max(remaining, 0))}


# --- registration ------------------------------------------------------------------------------


def list_webhooks(subject: str, repo: Repository | None = None) -> list[Webhook]:
    """The webhooks of ``subject`` (of ``repo`` only, when given), by repository and package (one Query)."""
    condition = Webhook.target.startswith(f"{repo.id}/") if repo is not None else None
    return list(Webhook.query(subject, range_key_condition=condition))


def _transact(build: Any) -> int | None:
    """Run the writes ``build(tx)`` adds in one transaction, retried on conflicts; None, or the index
    of the write whose condition failed (nothing was written)."""
    for attempt in range(db.TRANSACTION_ATTEMPTS):
        try:
            with db.transaction() as tx:
                build(tx)
            return None
        except TransactWriteError as error:
            failed = next((i for i in range(2) if db.cancelled_by_condition(error, i)), None)
            if failed is not None:
                return failed
            if db.transaction_conflict(error) and attempt + 1 < db.TRANSACTION_ATTEMPTS:
                db.backoff(attempt)
                continue
            raise
    raise AssertionError("unreachable")


def _count(subject: str) -> int:
    try:
        return int(WebhookCount.get(subject, consistent_read=True).count or 0)
    except DoesNotExist:
        return 0


def register(repo: Repository, package: str, body: RegisterBody, by: str | None) -> tuple[Webhook, str, int]:
    """Register (or replace) the webhook of ``package``: ``(webhook, secret, remaining)``. 404 for an
    unknown package, 400 beyond the limit."""
    get_package(repo, package)
    secret = secrets.token_urlsafe(32)
    hook = Webhook(
        repo.owner,
        target_key(repo.id, package),
        id=uuid.uuid4().hex,
        repo=repo.name,
        repo_id=repo.id,
        package=package,
        url=body.url,
        method=body.method,
        secret=secret,
        registered_by=by,
        created=now(),
        failure_count=0,
        active=True,
    )
    counter = WebhookCount(repo.owner)

    def create(tx: Any) -> None:
        tx.save(hook, condition=Webhook.target.does_not_exist())
        tx.update(
            counter,
            actions=[WebhookCount.count.add(1)],
            condition=WebhookCount.count.does_not_exist() | (WebhookCount.count < LIMIT),
        )

    failed = _transact(create)
    if failed == 1:
        raise BadRequest(
            f"Webhook limit reached: subject '{repo.owner}' has {LIMIT} webhooks, the most it may register",
            limit_headers(0),
        )
    if failed == 0:  # the package has one: replace it (new id and secret, active again)
        try:
            hook.save(condition=Webhook.target.exists())
        except PutError as error:
            if not db.condition_failed(error):
                raise
            return register(repo, package, body, by)  # deleted meanwhile: a new one after all
    return hook, secret, LIMIT - _count(repo.owner)


def get_webhook(repo: Repository, package: str) -> Webhook:
    """The webhook of ``package`` or a 404."""
    return db.get_or_404(
        Webhook,
        repo.owner,
        target_key(repo.id, package),
        missing=f"Webhook for package '{package}' was not found",
    )


def _remove(subject: str, target: str) -> bool:
    """Delete one webhook with its place in the count; False when it did not exist."""

    def remove(tx: Any) -> None:
        tx.delete(Webhook(subject, target), condition=Webhook.target.exists())
        tx.update(WebhookCount(subject), actions=[WebhookCount.count.add(-1)])

    return _transact(remove) is None


def delete(repo: Repository, package: str) -> None:
    """Delete the webhook of ``package`` (404 when there is none)."""
    if not _remove(repo.owner, target_key(repo.id, package)):
        raise NotFound(f"Webhook for package '{package}' was not found")


def delete_all(subject: str, prefix: str = "") -> int:
    """Delete the webhooks of ``subject`` whose target starts with ``prefix`` (cascades); how many."""
    condition = Webhook.target.startswith(prefix) if prefix else None
    hooks = list(Webhook.query(subject, range_key_condition=condition, attributes_to_get=["target"]))
    return sum(_remove(subject, hook.target) for hook in hooks)


# --- calls -------------------------------------------------------------------------------------


def release_payload(package: Package, version: Version) -> dict[str, Any]:
    """The spec's payload: package, version, released (ISO 8601) and the version's release notes."""
    try:
        notes = DocsMeta.get(package.id, version_kind(version.name))
        release_notes = notes.content if notes.source == BINTRAY else None
    except DoesNotExist:
        release_notes = None
    return {
        "package": package.name,
        "version": version.name,
        "released": iso(version.released),
        "release_notes": release_notes,
    }


def call(
    hook: Webhook, payload: dict[str, Any], url: str | None = None, method: str | None = None
) -> int | None:
    """Send ``payload`` to the webhook (or to ``url`` with ``method``): the target's status, or None
    when it could not be called (refused by the outbound rules, unreachable, timed out)."""
    method = (method or hook.method).upper()
    target = expand(url or hook.url, hook.repo, hook.package)
    data = json.dumps(payload).encode() if method in ("POST", "PUT") else None
    request = urllib.request.Request(target, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "Shelf-Webhooks")
    request.add_header(HMAC_HEADER, hook_hmac(hook.secret, hook.package))
    return netsafety.call_public_url(request, CALL_TIMEOUT, "webhook")


def succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def test(repo: Repository, package: str, version: str, body: TestBody) -> tuple[dict[str, Any], int | None]:
    """Call the webhook of ``package`` now for ``version``: ``(payload sent, target's status)``. A
    test changes neither ``failure_count`` nor ``active``."""
    found = get_package(repo, package)
    release = get_version(found, version)
    hook = get_webhook(repo, package)
    payload = release_payload(found, release)
    return payload, call(hook, payload, body.url, body.method)


# --- delivery ----------------------------------------------------------------------------------


def _record_outcome(hook: Webhook, status: int | None) -> bool:
    """Count the call on the webhook (a success resets ``failure_count``); returns whether the
    webhook is still active. Conditional on the same registration (a replaced one starts afresh)."""
    same = Webhook.id == hook.id
    seen = [Webhook.last_called.set(now())]
    if status is not None:
        seen.append(Webhook.last_status.set(status))
    try:
        if succeeded(status):
            hook.update(actions=[Webhook.failure_count.set(0), *seen], condition=same)
            return True
        hook.update(actions=[Webhook.failure_count.add(1), *seen], condition=same)
        if hook.failure_count >= DEACTIVATE_AFTER:
            hook.update(
                actions=[Webhook.active.set(False)],
                condition=same & (Webhook.failure_count >= DEACTIVATE_AFTER),
            )
            return False
        return True
    except UpdateError as error:
        if not db.condition_failed(error):
            raise
        return False  # replaced or deleted meanwhile


def deliver_release(event: VersionPublished) -> bool:
    """One attempt to deliver ``event`` to its package's webhook. True when settled: delivered,
    given up (``MAX_ATTEMPTS``, or the webhook deactivated), or nothing to deliver; False when
    another attempt is due."""
    try:
        hook = Webhook.get(event.owner, target_key(event.repo_id, event.package))
    except DoesNotExist:
        return True  # the usual case: one GetItem per publish
    if not hook.active:
        return True
    try:
        package = Package.get(event.repo_id, event.package)
        version = Version.get(package.id, event.version)
    except DoesNotExist:
        return True  # deleted meanwhile: nothing to announce
    delivery_id = f"{hook.id}#{event.id}"
    try:
        delivery = WebhookDelivery.get(delivery_id, consistent_read=True)
    except DoesNotExist:
        delivery = WebhookDelivery(delivery_id, state=RETRYING, attempts=0)
    if delivery.state != RETRYING:
        return True  # delivered (or given up) already: SQS delivered the event again
    status = call(hook, release_payload(package, version))
    active = _record_outcome(hook, status)
    delivery.attempts = int(delivery.attempts or 0) + 1
    delivery.last_status = status
    if succeeded(status):
        delivery.state = DELIVERED
    elif not active or delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = FAILED
    delivery.expires_at = now() + DELIVERY_TTL
    delivery.save()
    return delivery.state != RETRYING


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (0-based): exponential backoff."""
    return RETRY_BACKOFF * 2**attempt
