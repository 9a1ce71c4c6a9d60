"""Access keys: create, read, update, delete (authenticating as one: ``chalicelib/auth/access_keys.py``).

A key's password is shown once (create, or an update that changes it) and stored hashed: generated
passwords (160 random bits) with SHA-256, passwords chosen by a person with salted scrypt; both are
compared in constant time. Authentication refuses (401) an unknown key or wrong password, an expired
key, a client address outside ``white_cidrs`` or inside ``black_cidrs``, and a key whose existence
check URL answers 404 (the key is then deleted). The check's result is kept on the key item for
``cache_for_secs``, so a key costs one HTTP call per period, not one per request.

Example::

    create_key(owner, body)   # {"username": "ci@acme", "password": ...}

Authentication as a key lives in ``chalicelib/auth/access_keys.py``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets

from pynamodb.exceptions import PutError

from chalicelib import db, netsafety
from chalicelib.auth.access_keys import MIN_CACHE_SECS, remove_key, username
from chalicelib.auth.secrets import hash_api_key, hash_password
from chalicelib.entitlements.models import AccessKey
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.timefmt import now, now_ms
from chalicelib.validation import Body, Field, Flag

log = logging.getLogger("shelf")

KEY_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
MAX_CIDRS = 100


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
    if value <= now_ms():
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
    return db.get_or_404(AccessKey, owner, key_id, missing=f"Access key '{key_id}' was not found")


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
    remove_key(get_key(owner, key_id))
