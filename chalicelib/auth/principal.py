"""Who is calling: HTTP Basic authentication with a user name and API key."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from chalicelib.accounts.models import USER, Subject
from chalicelib.auth.secrets import verify_api_key
from chalicelib.errors import Unauthorized


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, or the anonymous one (``name`` is None)."""

    name: str | None
    is_admin: bool = False
    subject: Subject | None = None

    @property
    def authenticated(self) -> bool:
        return self.name is not None


ANONYMOUS = Principal(name=None)


def authenticate(headers: Mapping[str, str]) -> Principal:
    """The principal named by the ``Authorization`` header; anonymous when there is none.

    Wrong or malformed credentials are always a 401, even where anonymous access would do.
    """
    header = headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized("Only HTTP Basic authentication with a user name and API key is supported")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Malformed Basic authorization header") from None
    name, sep, key = decoded.partition(":")
    if not sep or not name or not key:
        raise Unauthorized("Malformed Basic authorization header")
    try:
        user = Subject.get(name)
    except DoesNotExist:
        user = None
    # Hash and compare even for unknown users so timing does not reveal which names exist.
    valid = verify_api_key(key, user.api_key_hash if user else None)
    if user is None or user.kind != USER or not valid:
        raise Unauthorized("Wrong user name or API key")
    return Principal(name=user.name, is_admin=user.is_admin, subject=user)
