"""Who is calling: HTTP Basic authentication with a user name and API key, or with an access key
(``<key id>@<subject>`` and its password, ``chalicelib/entitlements/access_keys.py``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from pynamodb.exceptions import DoesNotExist

from chalicelib.accounts.models import USER, Subject
from chalicelib.auth.secrets import verify_api_key
from chalicelib.errors import Unauthorized


@dataclass(frozen=True)
class Grant:
    """What one entitlement gives an access key in one repository of the key's owner.

    ``repo_id`` is None for grants of a product (matched by repository name); ``package_id`` is None
    when the grant names no package or comes from a product (matched by package name).
    """

    access: str  # "r" or "rw"
    repo: str
    repo_id: str | None
    package: str | None = None
    package_id: str | None = None
    version: str | None = None
    path: str | None = None

    @property
    def writes(self) -> bool:
        return self.access == "rw"

    @property
    def whole_repo(self) -> bool:
        """The grant covers every file of its repository (repository scope without a path)."""
        return self.package is None and self.version is None and not self.path

    def in_repo(self, name: str, repo_id: str) -> bool:
        return self.repo == name and (self.repo_id is None or self.repo_id == repo_id)

    def covers(self, path: str, package: str | None, version: str | None, package_id: str | None) -> bool:
        """Whether a file at ``path`` of ``package``/``version`` (same repository) is in the grant."""
        if self.path and path != self.path and not path.startswith(self.path.rstrip("/") + "/"):
            return False
        if self.package is not None:
            if package != self.package:
                return False
            if self.package_id is not None and package_id is not None and package_id != self.package_id:
                return False
        return self.version is None or version == self.version


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, or the anonymous one (``name`` is None)."""

    name: str | None
    is_admin: bool = False
    subject: Subject | None = None
    #: An access key (``name`` is ``<key_id>@<key_owner>``): its id and the subject that owns it.
    key_id: str | None = None
    key_owner: str | None = None
    #: An access key's grants, loaded once at authentication.
    grants: tuple[Grant, ...] = ()
    #: The caller's roles in organisations looked up while serving this request (org -> role or None),
    #: so the policy and the query limits read a membership once (``policy.role_in``).
    roles: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def authenticated(self) -> bool:
        return self.name is not None

    @property
    def is_access_key(self) -> bool:
        return self.key_id is not None


ANONYMOUS = Principal(name=None)


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(user name, key) of an HTTP Basic ``Authorization`` header; None when there is none or it is
    malformed (not Basic, not base64 of UTF-8, no ``name:key``)."""
    scheme, _, encoded = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
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
        from chalicelib.entitlements.access_keys import authenticate_key

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
