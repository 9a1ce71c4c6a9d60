"""Access keys: create, read, update, delete, and authentication as ``<id>@<subject>``.

A key's password is shown once (create, or an update that changes it) and stored hashed: generated
passwords (160 random bits) with SHA-256, passwords chosen by a person with salted scrypt; both are
compared in constant time. Authentication refuses (401) an unknown key or wrong password, an expired
key, a client address outside ``white_cidrs`` or inside ``black_cidrs``, and a key whose existence
check URL answers 404 (the key is then deleted). The check's result is kept on the key item for
``cache_for_secs``, so a key costs one HTTP call per period, not one per request.

Example::

    principal = authenticate_key("ci", "acme", "s3cret", source_ip="203.0.113.7")
    principal.name, principal.grants   # "ci@acme", (Grant(access="r", repo="tools", ...), ...)
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import secrets
import time
import urllib.request
from urllib.parse import quote

from pydantic import Field
from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import db, events, netsafety
from chalicelib.auth.principal import Grant, Principal
from chalicelib.auth.secrets import hash_api_key, hash_password, verify_api_key, verify_password
from chalicelib.entitlements.models import PRODUCT, AccessKey, EntitlementRef, key_ref
from chalicelib.errors import BadRequest, Conflict, NotFound, Unauthorized
from chalicelib.events import AccessKeyDeleted
from chalicelib.timefmt import now
from chalicelib.validation import Body, Flag

log = logging.getLogger("shelf")

KEY_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
MIN_CACHE_SECS = 60
MAX_CIDRS = 100
#: Seconds an existence check may take before it counts as a failure (which does not revoke).
CHECK_TIMEOUT = 3.0


class ExistenceCheck(Body):
    url: str = Field(max_length=2048)
    cache_for_secs: int = Field(default=MIN_CACHE_SECS, ge=MIN_CACHE_SECS, le=10**9)


class AccessKeyBody(Body):
    """Create and update (every field optional on update; ``password: ""`` regenerates)."""

    id: str | None = None
    password: str | None = Field(default=None, max_length=256)
    expiry: int | None = Field(default=None, le=2**53)
    existence_check: ExistenceCheck | None = None
    white_cidrs: list[str] | None = Field(default=None, max_length=MAX_CIDRS)
    black_cidrs: list[str] | None = Field(default=None, max_length=MAX_CIDRS)
    # The spec's samples spell them "white_cids" / "black_cids": accepted as well.
    white_cids: list[str] | None = Field(default=None, max_length=MAX_CIDRS)
    black_cids: list[str] | None = Field(default=None, max_length=MAX_CIDRS)
    api_only: Flag | None = None


# --- passwords --------------------------------------------------------------------------------


def new_password() -> str:
    """A generated access key password: 40 hex characters (160 random bits), like Bintray's."""
    return secrets.token_hex(20)


def _hash(password: str, generated: bool) -> str:
    return hash_api_key(password) if generated else hash_password(password)


def _verify(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a SHA-256 or scrypt hash (None: always False,
    at the cost of a SHA-256 so unknown keys answer as fast as generated ones)."""
    if stored and stored.startswith("scrypt$"):
        return verify_password(password, stored)
    return verify_api_key(password, stored) and stored is not None


# --- validation -------------------------------------------------------------------------------


def _cidrs(values: list[str], field: str) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except (ValueError, TypeError):
            raise BadRequest(f"Invalid value for '{field}': {value!r} is not a CIDR") from None
    return out


def _expiry(value: int) -> int:
    if value <= int(time.time() * 1000):
        raise BadRequest("Invalid value for 'expiry': it is in the past (Unix epoch milliseconds)")
    return value


def _check_url(value: str) -> str:
    return netsafety.check_public_url(value, "existence_check.url")


def _apply(key: AccessKey, body: AccessKeyBody) -> None:
    """Copy the given fields of ``body`` to ``key`` (validated)."""
    fields = body.model_fields_set
    if "expiry" in fields:
        key.expiry = _expiry(body.expiry) if body.expiry is not None else None
    if "existence_check" in fields:
        check = body.existence_check
        key.check_url = _check_url(check.url) if check else None
        key.check_cache_secs = check.cache_for_secs if check else None
        key.check_valid_until = None
    white = body.white_cidrs if "white_cidrs" in fields else body.white_cids
    black = body.black_cidrs if "black_cidrs" in fields else body.black_cids
    if {"white_cidrs", "white_cids"} & fields:
        key.white_cidrs = _cidrs(white or [], "white_cidrs")
    if {"black_cidrs", "black_cids"} & fields:
        key.black_cidrs = _cidrs(black or [], "black_cidrs")
    if body.api_only is not None:
        key.api_only = body.api_only


def _password(body: AccessKeyBody) -> tuple[str, str]:
    """The password to set (given, or generated when absent or empty) and its hash."""
    if body.password:
        return body.password, _hash(body.password, generated=False)
    password = new_password()
    return password, _hash(password, generated=True)


# --- CRUD -------------------------------------------------------------------------------------


def username(key: AccessKey) -> str:
    return f"{key.id}@{key.owner}"


def describe(key: AccessKey) -> dict:
    """Get Access Key (never the password)."""
    check = {"url": key.check_url, "cache_for_secs": int(key.check_cache_secs or MIN_CACHE_SECS)}
    return {
        "id": key.id,
        "username": username(key),
        "expiry": int(key.expiry) if key.expiry is not None else None,
        "existence_check": check if key.check_url else None,
        "white_cidrs": list(key.white_cidrs or []),
        "black_cidrs": list(key.black_cidrs or []),
        "api_only": bool(key.api_only),
    }


def get_key(owner: str, key_id: str) -> AccessKey:
    try:
        return AccessKey.get(owner, key_id)
    except DoesNotExist:
        raise NotFound(f"Access key '{key_id}' was not found") from None


def list_keys(owner: str) -> list[str]:
    return [key.id for key in AccessKey.query(owner, attributes_to_get=["id"])]


def create_key(owner: str, body: AccessKeyBody) -> dict:
    """Create Access Key: 201 body ``{"username", "password"}``; 409 if the id exists."""
    key_id = body.id or secrets.token_hex(8)
    if not KEY_ID.fullmatch(key_id) or ".." in key_id:
        raise BadRequest(
            f"Invalid value for 'id': {key_id!r} (letters, digits, '.', '-', '_'; at most 64 characters)"
        )
    password, password_hash = _password(body)
    key = AccessKey(owner, key_id, uid=secrets.token_hex(16), password_hash=password_hash, created=now())
    _apply(key, body)
    try:
        key.save(condition=AccessKey.id.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            raise Conflict(f"Access key '{key_id}' already exists") from None
        raise
    return {"username": username(key), "password": password}


def update_key(owner: str, key_id: str, body: AccessKeyBody) -> dict:
    """Update Access Key: only the given fields change; ``password: ""`` regenerates it."""
    key = get_key(owner, key_id)
    _apply(key, body)
    password = None
    if "password" in body.model_fields_set and body.password is not None:
        password, key.password_hash = _password(body)
    try:
        key.save(condition=AccessKey.uid == key.uid)
    except PutError as error:
        if db.condition_failed(error):
            raise NotFound(f"Access key '{key_id}' was not found") from None
        raise
    out = describe(key)
    out.pop("id")
    if password is not None:
        out = {"username": out.pop("username"), "password": password, **out}
    return out


def delete_key(owner: str, key_id: str) -> None:
    """Delete Access Key: it stops working at once; its grant rows and its place in entitlements go."""
    key = get_key(owner, key_id)
    key.delete()
    events.publish(AccessKeyDeleted(owner=owner, key_id=key_id))


# --- authentication ---------------------------------------------------------------------------


def authenticate_key(key_id: str, owner: str, password: str, source_ip: str | None) -> Principal:
    """The principal of access key ``key_id@owner``, with its grants; 401 when refused."""
    try:
        key: AccessKey | None = AccessKey.get(owner, key_id)
    except DoesNotExist:
        key = None
    valid = _verify(password, key.password_hash if key else None)
    if key is None or not valid:
        raise Unauthorized()
    if key.expiry is not None and int(key.expiry) <= int(time.time() * 1000):
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
    current = int(time.time())
    if key.check_valid_until is not None and current < int(key.check_valid_until):
        return True
    url = str(key.check_url).replace(":username", quote(username(key), safe=""))
    url = url.replace(":password", quote(password, safe=""))
    status = call_existence_check(url)
    if status == 404:
        log.info("access key %s revoked by its existence check", username(key))
        with contextlib.suppress(NotFound):
            delete_key(key.owner, key.id)
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
    from chalicelib.products.models import Product

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

