"""The central permission policy. Every route declares a ``Need``; nothing checks rights ad hoc.

Rights on a subject's repositories (per the spec's Security lines):

============================  =========================================
caller                        rights
============================  =========================================
system administrator          read, publish, admin everywhere
the user who is the subject   read, publish, admin
org owner / org admin         read, publish, admin on the org's repos
org member                    read on the org's repos (private ones too)
member of a team              the team's permission on the repositories it
                              has one on (``read``; ``publish``: read and
                              publish; ``admin``: all), on top of the above
anyone else (or anonymous)    read on public repositories only
============================  =========================================

Teams (``chalicelib/teams/``) belong to an organisation or a user; their permissions sit on the
repository (``Repository.team_permissions``), so only callers who are not already all-rights, on a
repository with team permissions, cost one more read (``TeamMembership``). Members of a team with
``allow_repo_creation`` may also create and update the subject's repositories (``Need.MANAGE_REPOS``).

Private repositories are invisible (404) to callers without read rights, with one exception: an
anonymous request on a ``DOWNLOAD`` route of an existing private repository is challenged (401 with
``WWW-Authenticate``), because package managers send credentials only after a 401. A repository
that does not exist stays 404 for everybody. Any other refusal is a 403, ``forbidden`` for another
subject's admin resources (``require``).

Access keys (``<key id>@<subject>``, ``chalicelib/entitlements/``) reach exactly what their
entitlements grant, on their owner's repositories only:

- read on public repositories, like anyone; read (``r``) or read and publish (``rw``) on a repository
  from an entitlement covering the whole repository (repository scope without a path);
- on the routes acting on one file (``key_files=True``: download, upload, delete), any grant in the
  repository lets the request through ``resolve``; the handler then calls ``require_file`` with the
  file's path, package and version, which refuses (403) a key whose grants do not cover the file;
- never the admin API: a key is refused (403 "Access keys cannot ...") on ``ADMIN``, ``SYSADMIN``
  and ``AUTHENTICATED`` routes and on ``PUBLISH`` routes other than file upload and delete.
  ``KEY_HOLDER`` routes take users and access keys alike (e.g. accepting a EULA).

Example::

    access = resolve(Need.PUBLISH, {"subject": "acme", "repo": "tools"}, request.headers)
    access.can(Right.ADMIN)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import Enum, StrEnum
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import db, plans
from chalicelib.accounts.models import ADMIN, MEMBER, OWNER, Membership, Subject
from chalicelib.auth import signed_urls
from chalicelib.auth.credentials import authenticate
from chalicelib.auth.principal import Principal
from chalicelib.auth.restrictions import check_download
from chalicelib.content.paths import split_matrix
from chalicelib.errors import Forbidden, NotFound, Unauthorized
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository
from chalicelib.teams.models import Team, TeamMembership, map_dict
from chalicelib.validation import check_request_names


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
    DOWNLOAD = "download"  # like ANYONE, or a signed URL of the path; geo/IP restrictions apply
    AUTHENTICATED = "authenticated"  # any logged-in user; a repository in the path must be readable
    PUBLISH = "publish"  # publish right on the repository in the path
    ADMIN = "admin"  # admin right on the repository, or on the subject when no repository is named
    MANAGE_REPOS = "manage_repos"  # like ADMIN, or a team of the subject with allow_repo_creation
    SYSADMIN = "sysadmin"  # system administrators only
    KEY_HOLDER = "key_holder"  # an authenticated caller: a user or an access key


SUBJECT_PARAMS = ("subject", "org", "user")


@dataclass
class Access:
    """What the policy decided for one request: the caller, the subject and repository named in the
    path, the caller's rights on them, and what ``resolve`` learnt on the way (``extra``: the access
    key's name, a signed URL's claims, the creator team). No HTTP: ``chalicelib.web.context.Ctx``
    extends it with the request; services take an ``Access`` (or just what they need from it).

    The subject is loaded on first use: a download of a public file needs only the repository.
    """

    principal: Principal
    subject_name: str | None = None
    repo: Repository | None = None
    rights: frozenset[Right] = NO_RIGHTS
    extra: dict[str, Any] = field(default_factory=dict)
    _subject: Subject | None = field(default=None, repr=False)  # its item holds key and password hashes

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


def role_in(principal: Principal, org: str) -> str | None:
    """The authenticated ``principal``'s role in organisation ``org``, read once per request."""
    if org not in principal.roles:
        principal.roles[org] = org_role(org, principal.name or "")
    return principal.roles[org]


def rights_on(principal: Principal, owner: str, repo: Repository | None = None) -> frozenset[Right]:
    """The rights ``principal`` has on the subject named ``owner`` (and on ``repo`` of it, when given).

    Users and organisations share one name space, so a caller named ``owner`` is that user; any
    other caller's rights come from a membership of the organisation ``owner`` (none for a user)
    and from the permissions on ``repo`` of the teams of ``owner`` they are in.
    """
    if principal.is_access_key:
        return key_rights(principal, owner, repo)
    if principal.is_admin:
        return ALL_RIGHTS
    if principal.authenticated:
        if principal.name == owner:
            return ALL_RIGHTS
        role = role_in(principal, owner)
        if role in (OWNER, ADMIN):
            return ALL_RIGHTS
        # Members read the organisation's repositories; publish and admin come only from teams (an
        # organisation's teams hold its members, a user's any users).
        base = READ_ONLY if role == MEMBER or (repo is not None and not repo.private) else NO_RIGHTS
        return base | team_rights(principal.name or "", owner, repo, base)
    if repo is not None and not repo.private:
        return READ_ONLY
    return NO_RIGHTS


#: What a team permission on a repository grants.
TEAM_PERMISSION_RIGHTS = {
    "read": READ_ONLY,
    "publish": frozenset({Right.READ, Right.PUBLISH}),
    "admin": ALL_RIGHTS,
}


def member_teams(owner: str, user: str) -> frozenset[str]:
    """The teams of subject ``owner`` that ``user`` belongs to (one GetItem)."""
    try:
        return frozenset(TeamMembership.get(owner, user).teams or ())
    except DoesNotExist:
        return frozenset()


def team_rights(user: str, owner: str, repo: Repository | None, have: frozenset[Right]) -> frozenset[Right]:
    """What ``user``'s teams grant on ``repo`` of ``owner`` beyond ``have``. Reads the caller's
    teams only when the repository gives some team more than ``have``."""
    if repo is None or not repo.team_permissions:
        return NO_RIGHTS
    permissions = map_dict(repo.team_permissions)
    if all(TEAM_PERMISSION_RIGHTS.get(p, NO_RIGHTS) <= have for p in permissions.values()):
        return NO_RIGHTS
    rights: frozenset[Right] = NO_RIGHTS
    for team in member_teams(owner, user) & permissions.keys():
        rights |= TEAM_PERMISSION_RIGHTS.get(permissions[team], NO_RIGHTS)
    return rights


def readable(principal: Principal, owner: str, repos: list[Repository]) -> list[Repository]:
    """Those of ``repos`` (of ``owner``) that ``principal`` may read, for listings: private ones need
    read on the subject or a team permission on the repository (at most one more read in all)."""
    if Right.READ in rights_on(principal, owner):
        return repos
    teams: frozenset[str] | None = None
    out = []
    for repo in repos:
        if repo.private:
            permissions = map_dict(repo.team_permissions)
            if not permissions or not principal.authenticated or principal.is_access_key:
                continue
            if teams is None:
                teams = member_teams(owner, principal.name or "")
            if not teams & permissions.keys():
                continue
        out.append(repo)
    return out


def readable_packages(
    principal: Principal, owner: str, packages: list[tuple[Repository, str]]
) -> set[tuple[str, str]]:
    """Which ``(repository, package name)`` of ``owner`` (e.g. a product's members) ``principal``
    may read, as ``(repo name, package name)``: users through their rights on the repositories
    (``readable``); access keys on public repositories, and on their owner's private ones through a
    grant that may cover the package (repository, path, package, version or product scope)."""
    repos = {repo.name: repo for repo, _ in packages}
    allowed = {repo.name for repo in readable(principal, owner, list(repos.values()))}
    out = {(repo.name, name) for repo, name in packages if repo.name in allowed}
    if principal.is_access_key and owner == principal.key_owner:
        for repo, name in packages:
            if any(g.in_repo(repo.name, repo.id) and g.package in (None, name) for g in principal.grants):
                out.add((repo.name, name))
    return out


def repo_creator_team(owner: str, user: str) -> Team | None:
    """A team of ``owner`` with ``allow_repo_creation`` that ``user`` belongs to (its business unit
    is the default of the repositories they create), or None."""
    names = member_teams(owner, user)
    if not names:
        return None
    teams = Team.batch_get([(owner, name) for name in sorted(names)])
    return next((t for t in sorted(teams, key=lambda t: t.name) if t.allow_repo_creation), None)


def key_rights(principal: Principal, owner: str, repo: Repository | None) -> frozenset[Right]:
    """An access key's rights on a repository: read when it is public, and what its entitlements on
    the whole repository grant (``r``: read, ``rw``: read and publish) when its owner owns it."""
    rights: set[Right] = set()
    if repo is not None and not repo.private:
        rights.add(Right.READ)
    if repo is not None and owner == principal.key_owner:
        for grant in principal.grants:
            if grant.whole_repo and grant.in_repo(repo.name, repo.id):
                rights.add(Right.READ)
                if grant.writes:
                    rights.add(Right.PUBLISH)
    return frozenset(rights)


def _key_file_rights(principal: Principal, repo: Repository) -> frozenset[Right]:
    """On a single-file route: read (and publish with an ``rw`` grant) when the key has any grant in
    ``repo``; ``require_file`` decides about the file itself."""
    if repo.owner != principal.key_owner:
        return NO_RIGHTS
    grants = [g for g in principal.grants if g.in_repo(repo.name, repo.id)]
    if not grants:
        return NO_RIGHTS
    return frozenset({Right.READ, Right.PUBLISH}) if any(g.writes for g in grants) else READ_ONLY


def _refuse_access_key(need: Need, key_files: bool) -> None:
    """Access keys never reach the admin API (403): they pass only ``ANYONE``, ``DOWNLOAD`` and
    ``KEY_HOLDER`` routes, and ``PUBLISH`` ones acting on one file (upload, delete)."""
    if need in (Need.ANYONE, Need.DOWNLOAD, Need.KEY_HOLDER):
        return
    if need is Need.PUBLISH:
        if not key_files:
            raise Forbidden("Access keys cannot use this resource: they may only upload and delete files")
        return
    if need is Need.AUTHENTICATED:
        raise Forbidden("Access keys cannot use this resource: it needs a user")
    raise Forbidden("Access keys cannot use administration resources")


def load_subject(name: str) -> Subject:
    """The subject ``name`` or a 404."""
    return db.get_or_404(Subject, name, missing=f"Subject '{name}' was not found")


def load_repo(owner: str, name: str) -> Repository:
    """The repository ``name`` of ``owner`` or a 404."""
    return db.get_or_404(Repository, owner, name, missing=f"Repo '{name}' was not found")


def signed_rights(ctx: Access, params: Mapping[str, str], query: Mapping[str, str]) -> frozenset[Right]:
    """Read on the path of a valid signed URL (403 if forged, tampered, expired or revoked).

    The signature covers that exact path; unpublished files stay hidden (they need publish).
    """
    assert ctx.repo is not None and ctx.subject is not None
    path = split_matrix(params.get("file_path", "")).path
    ctx.extra["signed"] = signed_urls.verify_download(ctx.subject, ctx.repo.name, path, query)
    return READ_ONLY


def resolve(
    need: Need,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    query: Mapping[str, str] | None = None,
    with_repo: bool = True,
    source_ip: str | None = None,
    key_files: bool = False,
) -> Access:
    """Authenticate, load the repository (or subject) named in the path, and enforce ``need``.

    ``source_ip``: the client address (access key CIDRs); ``key_files``: the route acts on one file
    and checks it with ``require_file`` (access keys with a grant in the repository pass here).
    """
    query = query or {}
    principal = authenticate(headers, source_ip)
    # After authentication (wrong credentials are a 401 whatever the path), before any key is read.
    check_request_names(params, query)
    ctx = Access(principal=principal)
    if need not in (Need.ANYONE, Need.DOWNLOAD) and not principal.authenticated:
        raise Unauthorized()
    if principal.is_access_key:
        _refuse_access_key(need, key_files)
        ctx.extra["access_key"] = principal.name
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
    if need is Need.MANAGE_REPOS and Right.ADMIN not in ctx.rights and not principal.is_access_key:
        team = repo_creator_team(ctx.subject_name, principal.name or "")
        if team is not None:  # may create and update the subject's repositories (not delete them)
            ctx.extra["creator_team"] = team
            ctx.rights |= READ_ONLY
    if principal.is_access_key and key_files and ctx.repo is not None:
        ctx.rights |= _key_file_rights(principal, ctx.repo)
    if need is Need.DOWNLOAD and ctx.repo is not None and signed_urls.is_signed(query):
        ctx.rights |= signed_rights(ctx, params, query)
    if ctx.repo is not None and Right.READ not in ctx.rights:
        if need is Need.DOWNLOAD and not principal.authenticated:
            # Package managers (Maven, apt, dnf, pip, npm) send credentials only after a challenge.
            raise Unauthorized()
        # A private repository does not exist for those who may not read it.
        raise NotFound(f"Repo '{ctx.repo.name}' was not found")
    if need is Need.DOWNLOAD and ctx.repo is not None and Right.ADMIN not in ctx.rights:
        # Geo/IP restrictions (403); the repository's admins are exempt so they cannot lock themselves out.
        check_download(ctx.repo, source_ip, headers)
    required = {Need.PUBLISH: Right.PUBLISH, Need.ADMIN: Right.ADMIN, Need.MANAGE_REPOS: Right.ADMIN}
    if required.get(need) is not None and "creator_team" not in ctx.extra:
        require(ctx, required[need])
    return ctx


#: The observed refusal of another subject's admin resources (its teams, products, entitlements,
#: signed EULAs, proprietary licenses ...): what ``require`` answers for the admin right, and for any
#: right on a subject without a repository. Only private repositories hide behind 404.
FORBIDDEN = "forbidden"


def require(ctx: Access, right: Right, message: str | None = None) -> None:
    """Enforce ``right`` inside a handler whose route serves reads and writes on one path (e.g. the
    greedy file routes): 401 for anonymous callers, 403 for the others, like ``resolve`` does.

    The 403 says ``forbidden`` (or ``message``), except for the publish right on a repository."""
    if not ctx.principal.authenticated:
        raise Unauthorized()
    if right not in ctx.rights:
        if message is None and right is not Right.ADMIN and ctx.repo is not None:
            message = f"You do not have '{right}' permission on repository '{ctx.repo.name}'"
        raise Forbidden(message or FORBIDDEN)


def rate_limit_key(ctx: Access, need: Need, source_ip: str | None = None) -> str | None:
    """Whose API query limit this request counts against (``chalicelib/ratelimits.py``), or None.

    Per the spec's *Limits*: only queries on resources that belong neither to the caller nor to an
    organisation the caller is a member of count, and only for non-Premium callers. Downloads are not
    API queries; system administrators are not limited. Anonymous callers count per source IP.
    """
    principal = ctx.principal
    if need is Need.DOWNLOAD or principal.is_admin:
        return None
    if not principal.authenticated:
        return f"ip:{source_ip or 'unknown'}"
    owner_name = principal.key_owner if principal.is_access_key else principal.name
    if ctx.subject_name is not None and ctx.subject_name == owner_name:
        return None
    if principal.is_access_key:
        return f"key:{principal.name}"
    if principal.subject is not None and plans.allows(principal.subject, "unlimited_queries"):
        return None
    if ctx.subject_name is not None and role_in(principal, ctx.subject_name) is not None:
        return None
    return f"user:{principal.name}"


def enforce_on_subject(ctx: Access, name: str, right: Right) -> None:
    """For routes naming their subject in the query (e.g. Entitlement Search's ``scope``): load the
    subject (404), compute the caller's rights on it and enforce ``right`` like ``resolve`` does
    (the observed refusal of these searches is 403 ``Forbidden``)."""
    ctx.subject_name = name
    ctx.subject  # noqa: B018  (404 for an unknown subject)
    ctx.rights = rights_on(ctx.principal, name)
    require(ctx, right, "Forbidden")


def require_file(
    ctx: Access,
    right: Right,
    path: str,
    package: str | None = None,
    version: str | None = None,
    package_id: str | None = None,
) -> None:
    """Enforce ``right`` (read, or publish for upload and delete) on one file of ``ctx.repo`` for an
    access key: 403 unless one of its grants covers the file's path, package and version (reading a
    public repository needs none). A no-op for users, whose ``ctx.rights`` already decided."""
    principal = ctx.principal
    if not principal.is_access_key:
        return
    repo = ctx.repo
    assert repo is not None
    if right is Right.READ and not repo.private:
        return
    mine = principal.grants if repo.owner == principal.key_owner else ()
    grants = [g for g in mine if g.in_repo(repo.name, repo.id) and (right is Right.READ or g.writes)]
    if package is not None and package_id is None and any(g.package_id for g in grants):
        from chalicelib.packages.models import Package

        try:
            package_id = Package.get(repo.id, package).id
        except DoesNotExist:
            package_id = ""
    if any(g.covers(path, package, version, package_id) for g in grants):
        return
    action = "download" if right is Right.READ else "change"
    raise Forbidden(f"Access key '{principal.name}' is not entitled to {action} '{path}'")
