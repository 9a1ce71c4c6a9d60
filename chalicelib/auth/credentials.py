"""Authentication: HTTP Basic with a user name and API key, or with an access key (``<key id>@<subject>``
and its password, ``chalicelib/auth/access_keys.py``)."""

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


def authenticate(headers: Mapping[str, str], source_ip: str | None = None) -> Principal:
    """The principal named by the ``Authorization`` header; anonymous when there is none.

    A name ``<key id>@<subject>`` is an access key (user names never contain ``@``); ``source_ip``
    is the client address its CIDRs are checked against.

    Wrong or malformed credentials are always a 401 ``This resource requires authentication`` (the
    real service's wording, whatever is wrong), even where anonymous access would do.
    """
    header = headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized() from None
    name, sep, key = decoded.partition(":")
    if not sep or not name or not key:
        raise Unauthorized()
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
    return Principal(name=user.name, is_admin=user.is_admin, subject=user)
