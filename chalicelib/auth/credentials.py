"""Authentication: HTTP Basic with a user name and API key, or with an access key (``<key id>@<subject>``
and its password, ``chalicelib/auth/access_keys.py``). npm's ``_authToken`` arrives as
``Authorization: Bearer <token>``; the token (what ``npm login`` answers) is the Basic credentials'
base64 ``name:key``, so both schemes authenticate the same way."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from pynamodb.exceptions import DoesNotExist

from chalicelib.accounts.models import USER, Subject
from chalicelib.auth.access_keys import authenticate_key
from chalicelib.auth.principal import ANONYMOUS, Principal
from chalicelib.auth.secrets import verify_api_key
from chalicelib.errors import Unauthorized


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(user name, key) of an HTTP Basic (or npm's Bearer) ``Authorization`` header; None when there is
    none or it is malformed (another scheme, not base64 of UTF-8, no ``name:key``)."""
    scheme, _, encoded = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() not in ("basic", "bearer"):
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, key = decoded.partition(":")
    return (name, key) if sep and name and key else None


def authenticate(headers: Mapping[str, str], source_ip: str | None = None) -> Principal:
    """The principal named by the ``Authorization`` header; anonymous when there is none.

    A name ``<key id>@<subject>`` is an access key (user names never contain ``@``); ``source_ip``
    is the client address its CIDRs are checked against.

    Wrong or malformed credentials are always a 401 ``This resource requires authentication`` (the
    real service's wording, whatever is wrong), even where anonymous access would do.
    """
    if not headers.get("authorization"):
        return ANONYMOUS
    credentials = basic_credentials(headers)
    if credentials is None:
        raise Unauthorized()
    name, key = credentials
    if "@" in name:
        key_id, _, owner = name.rpartition("@")
        if not key_id or not owner:
            raise Unauthorized()
        return authenticate_key(key_id, owner, key, source_ip)
    try:
        user = Subject.get(name)
    except DoesNotExist:
        user = None
    # Hash and compare even for unknown users so timing does not reveal which names exist.
    valid = verify_api_key(key, user.api_key_hash if user else None)
    if user is None or user.kind != USER or not valid:
        raise Unauthorized()
    return Principal.of_user(user)
