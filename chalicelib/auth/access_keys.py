"""Authentication as an access key (``<id>@<subject>`` and its password), for ``auth.principal``.

Refused (401): an unknown key or wrong password, an expired key, a client address outside
``white_cidrs`` or inside ``black_cidrs``, and a key whose existence check URL answers 404 (the key is
then deleted: ``AccessKeyDeleted``). The check's result is kept on the key item for
``cache_for_secs``, so a key costs one HTTP call per period, not one per request. Managing keys is the
entitlements domain's (``chalicelib/entitlements/access_keys.py``).

Example::

    principal = authenticate_key("ci", "acme", "s3cret", source_ip="203.0.113.7")
    principal.name, principal.grants   # "ci@acme", (Grant(access="r", repo="tools", ...), ...)
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.request
from urllib.parse import quote

from pynamodb.exceptions import DoesNotExist

from chalicelib import events, netsafety
from chalicelib.auth.principal import Grant, Principal
from chalicelib.auth.secrets import verify_api_key, verify_password
from chalicelib.entitlements.models import PRODUCT, AccessKey, EntitlementRef, key_ref
from chalicelib.errors import Unauthorized
from chalicelib.events import AccessKeyDeleted
from chalicelib.products.models import Product
from chalicelib.timefmt import now_ms

log = logging.getLogger("shelf")

#: The shortest time an existence check's result is kept.
MIN_CACHE_SECS = 60
#: Seconds an existence check may take before it counts as a failure (which does not revoke).
CHECK_TIMEOUT = 3.0


def username(key: AccessKey) -> str:
    return f"{key.id}@{key.owner}"


def _verify(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a SHA-256 or scrypt hash (None: always False,
    at the cost of a SHA-256 so unknown keys answer as fast as generated ones)."""
    if stored and stored.startswith("scrypt$"):
        return verify_password(password, stored)
    return verify_api_key(password, stored) and stored is not None


def authenticate_key(key_id: str, owner: str, password: str, source_ip: str | None) -> Principal:
    """The principal of access key ``key_id@owner``, with its grants; 401 when refused."""
    try:
        key: AccessKey | None = AccessKey.get(owner, key_id)
    except DoesNotExist:
        key = None
    valid = _verify(password, key.password_hash if key else None)
    if key is None or not valid:
        raise Unauthorized()
    if key.expiry is not None and int(key.expiry) <= now_ms():
        raise Unauthorized(f"Access key '{key_id}@{owner}' has expired")
    if not address_allowed(key, source_ip):
        raise Unauthorized(f"Access key '{key_id}@{owner}' may not be used from this address")
    if key.check_url and not still_exists(key, password):
        raise Unauthorized(f"Access key '{key_id}@{owner}' was revoked by its existence check")
    return Principal(name=username(key), key_id=key.id, key_owner=owner, grants=load_grants(key))


def address_allowed(key: AccessKey, source_ip: str | None) -> bool:
    """Inside a white CIDR (when there are any) and outside every black CIDR; an unknown client
    address passes only a key without CIDRs."""
    if not key.white_cidrs and not key.black_cidrs:
        return True
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return False

    def inside(cidrs: list[str]) -> bool:
        return any(
            address.version == network.version and address in network
            for network in (ipaddress.ip_network(c, strict=False) for c in cidrs)
        )

    if key.white_cidrs and not inside(list(key.white_cidrs)):
        return False
    return not inside(list(key.black_cidrs or []))


def call_existence_check(url: str) -> int | None:
    """GET ``url`` (SSRF-checked again now, no redirects, short timeout): the status, or None."""
    request = urllib.request.Request(url, method="GET")
    return netsafety.call_public_url(request, CHECK_TIMEOUT, "access key existence check")


def still_exists(key: AccessKey, password: str) -> bool:
    """Whether the key's source identity still exists: False (and the key is deleted) only when its
    existence check URL answers 404. A result is cached on the key for ``cache_for_secs``."""
    current = now_ms() // 1000
    if key.check_valid_until is not None and current < int(key.check_valid_until):
        return True
    url = str(key.check_url).replace(":username", quote(username(key), safe=""))
    url = url.replace(":password", quote(password, safe=""))
    status = call_existence_check(url)
    if status == 404:
        log.info("access key %s revoked by its existence check", username(key))
        remove_key(key)
        return False
    until = current + int(key.check_cache_secs or MIN_CACHE_SECS)
    try:
        key.update(actions=[AccessKey.check_valid_until.set(until)], condition=AccessKey.uid == key.uid)
    except Exception as error:  # noqa: BLE001  (a failed cache write only costs another check)
        log.warning("existence check result not cached: %s", error)
    return True


def load_grants(key: AccessKey) -> tuple[Grant, ...]:
    """The key's grants: ONE Query on its reference rows (rows of an earlier key of the same id are
    ignored); product grants expand to the product's packages (one GetItem per product)."""
    grants: list[Grant] = []
    for row in EntitlementRef.query(key_ref(key.owner, key.id)):
        if row.key_uid != key.uid:
            continue
        if row.scope == PRODUCT:
            grants.extend(_product_grants(key.owner, str(row.product), row.access))
            continue
        grants.append(
            Grant(
                access=row.access,
                repo=str(row.repo),
                repo_id=row.repo_id,
                package=row.package,
                package_id=row.package_id,
                version=row.version,
                path=row.path,
            )
        )
    return tuple(grants)


def _product_grants(owner: str, product: str, access: str) -> list[Grant]:
    try:
        found = Product.get(owner, product)
    except DoesNotExist:
        return []
    out = []
    for member in found.packages or []:
        repo, _, package = member.partition("/")
        if repo and package:
            out.append(Grant(access=access, repo=repo, repo_id=None, package=package))
    return out


def remove_key(key: AccessKey) -> None:
    """Delete ``key``: it stops working at once; its grant rows and its place in entitlements go (the
    subscribers of ``AccessKeyDeleted``)."""
    key.delete()
    events.publish(AccessKeyDeleted(owner=key.owner, key_id=key.id))
