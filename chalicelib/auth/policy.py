"""The central permission policy. Every route declares a ``Need``; nothing checks rights ad hoc.

Rights on a subject's repositories (per the spec's Security lines):

============================  =========================================
caller                        rights
============================  =========================================
system administrator          read, publish, admin everywhere
the user who is the subject   read, publish, admin
org owner / org admin         read, publish, admin on the org's repos
org member                    read, publish on the org's repos
anyone else (or anonymous)    read on public repositories only
============================  =========================================

Private repositories are invisible (404) to callers without read rights.

Example::

    ctx = resolve(request, Need.PUBLISH, {"subject": "acme", "repo": "tools"})
    ctx.can(Right.ADMIN)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import plans
from chalicelib.accounts.models import ADMIN, MEMBER, OWNER, Membership, Subject
from chalicelib.auth.principal import Principal, authenticate
from chalicelib.content import signing
from chalicelib.content.paths import split_matrix
from chalicelib.errors import Forbidden, NotFound, Unauthorized
from chalicelib.repositories.models import Repository


class Right(StrEnum):
    READ = "read"
    PUBLISH = "publish"
    ADMIN = "admin"


ALL_RIGHTS = frozenset(Right)
READ_ONLY = frozenset({Right.READ})
NO_RIGHTS: frozenset[Right] = frozenset()


class Need(Enum):
    """What a route requires. Path parameters ``subject``/``user``/``org`` and ``repo`` name the resource."""

    ANYONE = "anyone"  # no login; a repository in the path must be readable
    DOWNLOAD = "download"  # like ANYONE, or a valid signed URL of the path (``content/signing.py``)
    AUTHENTICATED = "authenticated"  # any logged-in user; a repository in the path must be readable
    PUBLISH = "publish"  # publish right on the repository in the path
    ADMIN = "admin"  # admin right on the repository, or on the subject when no repository is named
    SYSADMIN = "sysadmin"  # system administrators only


SUBJECT_PARAMS = ("subject", "org", "user")


@dataclass
class Ctx:
    """What a route handler gets: the caller, the subject and repository named in the path, the rights.

    The subject is loaded on first use: a download of a public file needs only the repository.
    """

    principal: Principal
    headers: Mapping[str, str]
    query: Mapping[str, str]
    raw_body: bytes | None
    subject_name: str | None = None
    repo: Repository | None = None
    rights: frozenset[Right] = NO_RIGHTS
    extra: dict[str, Any] = field(default_factory=dict)
    _subject: Subject | None = None

    @property
    def subject(self) -> Subject | None:
        if self._subject is None and self.subject_name is not None:
            self._subject = load_subject(self.subject_name)
        return self._subject

    def can(self, right: Right) -> bool:
        return right in self.rights


def org_role(org: str, user: str) -> str | None:
    """The role of ``user`` in organisation ``org`` (owner, admin, member) or None."""
    try:
        return Membership.get(org, user).type
    except DoesNotExist:
        return None


def rights_on(principal: Principal, owner: str, repo: Repository | None = None) -> frozenset[Right]:
    """The rights ``principal`` has on the subject named ``owner`` (and on ``repo`` of it, when given).

    Users and organisations share one name space, so a caller named ``owner`` is that user; any
    other caller's rights come from a membership of the organisation ``owner`` (none for a user).
    """
    if principal.is_admin:
        return ALL_RIGHTS
    if principal.authenticated:
        if principal.name == owner:
            return ALL_RIGHTS
        role = org_role(owner, principal.name or "")
        if role in (OWNER, ADMIN):
            return ALL_RIGHTS
        if role == MEMBER:
            return frozenset({Right.READ, Right.PUBLISH})
    if repo is not None and not repo.private:
        return READ_ONLY
    return NO_RIGHTS


def load_subject(name: str) -> Subject:
    """The subject ``name`` or a 404."""
    try:
        return Subject.get(name)
    except DoesNotExist:
        raise NotFound(f"Subject '{name}' was not found") from None


def load_repo(owner: str, name: str) -> Repository:
    """The repository ``name`` of ``owner`` or a 404."""
    try:
        return Repository.get(owner, name)
    except DoesNotExist:
        raise NotFound(f"Repo '{name}' was not found") from None


def signed_rights(ctx: Ctx, params: Mapping[str, str]) -> frozenset[Right]:
    """Read on the path of a valid signed URL (403 if forged, tampered, expired or revoked).

    The signature covers that exact path; unpublished files stay hidden (they need publish).
    """
    assert ctx.repo is not None and ctx.subject is not None
    path = split_matrix(params.get("file_path", "")).path
    ctx.extra["signed"] = signing.verify_download(ctx.subject, ctx.repo.name, path, ctx.query)
    return READ_ONLY


def resolve(
    need: Need,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    query: Mapping[str, str] | None = None,
    raw_body: bytes | None = None,
    with_repo: bool = True,
) -> Ctx:
    """Authenticate, load the repository (or subject) named in the path, and enforce ``need``."""
    principal = authenticate(headers)
    ctx = Ctx(principal=principal, headers=headers, query=query or {}, raw_body=raw_body)
    if need not in (Need.ANYONE, Need.DOWNLOAD) and not principal.authenticated:
        raise Unauthorized()
    if need is Need.SYSADMIN:
        if not principal.is_admin:
            raise Forbidden("This resource requires system administrator rights")
        ctx.rights = ALL_RIGHTS
        return ctx
    ctx.subject_name = next((params[p] for p in SUBJECT_PARAMS if p in params), None)
    if ctx.subject_name is None:
        return ctx
    if "repo" in params and with_repo:
        # The repository's existence implies its owner's: no need to read the subject here.
        ctx.repo = load_repo(ctx.subject_name, params["repo"])
    else:
        ctx.subject  # noqa: B018  (404 for an unknown subject)
    ctx.rights = rights_on(principal, ctx.subject_name, ctx.repo)
    if need is Need.DOWNLOAD and ctx.repo is not None and signing.is_signed(ctx.query):
        ctx.rights |= signed_rights(ctx, params)
    if ctx.repo is not None and Right.READ not in ctx.rights:
        # A private repository does not exist for those who may not read it.
        raise NotFound(f"Repo '{ctx.repo.name}' was not found")
    required = {Need.PUBLISH: Right.PUBLISH, Need.ADMIN: Right.ADMIN}.get(need)
    if required is not None:
        require(ctx, required)
    return ctx


def require(ctx: Ctx, right: Right) -> None:
    """Enforce ``right`` inside a handler whose route serves reads and writes on one path (e.g. the
    greedy file routes): 401 for anonymous callers, 403 for the others, like ``resolve`` does."""
    if not ctx.principal.authenticated:
        raise Unauthorized()
    if right not in ctx.rights:
        where = f"repository '{ctx.repo.name}'" if ctx.repo else f"subject '{ctx.subject_name}'"
        raise Forbidden(f"You do not have '{right}' permission on {where}")


def rate_limit_key(ctx: Ctx, need: Need) -> str | None:
    """Whose API query limit this request counts against (``chalicelib/ratelimits.py``), or None.

    Per the spec's *Limits*: only queries on resources that belong neither to the caller nor to an
    organisation the caller is a member of count, and only for non-Premium callers. Downloads are not
    API queries; system administrators are not limited. Anonymous callers count per source IP.
    """
    principal = ctx.principal
    if need is Need.DOWNLOAD or principal.is_admin:
        return None
    if not principal.authenticated:
        return f"ip:{ctx.extra.get('source_ip') or 'unknown'}"
    owner_name = principal.key_owner if principal.is_access_key else principal.name
    if ctx.subject_name is not None and ctx.subject_name == owner_name:
        return None
    if principal.is_access_key:
        return f"key:{principal.name}"
    if principal.subject is not None and plans.allows(principal.subject, "unlimited_queries"):
        return None
    if ctx.subject_name is not None and org_role(ctx.subject_name, principal.name or "") is not None:
        return None
    return f"user:{principal.name}"
