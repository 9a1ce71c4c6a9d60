"""Link services: link and unlink a package, linked packages of a repository, files through links.

A link shows a package of another owner's repository in the target repository's package list
(``"linked": true``) and serves its *published* files under the target repository's download paths.
With a ``path_prefix`` only the package's files under that path are included (the spec: "a specific
path to include the files from"); files keep their paths.

A link serves only while its creator may still read the source repository (checked at download time:
one read of the source repository, and of the creator's rights only for a private source), and
downloads through it obey the source repository's IP and geo restrictions as well as the target's
(the policy checks the target's; the source's admins are exempt from the source's).

Example::

    link_package(ctx.principal, target_repo, "acme", "tools", "cli", LinkBody(path_prefix="com/acme"))
    linked_file(ctx.principal, target_repo, "com/acme/cli/1.0/cli-1.0.jar", ctx.source_ip, ctx.headers)
"""

from __future__ import annotations

from collections.abc import Mapping

from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import db
from chalicelib.accounts.models import Subject
from chalicelib.auth.policy import Right, load_repo, rights_on
from chalicelib.auth.principal import Principal
from chalicelib.auth.restrictions import check_download, restricted
from chalicelib.content.models import File
from chalicelib.content.paths import check_file_path, storable
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.links.models import Link
from chalicelib.packages.models import Package
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import now
from chalicelib.validation import Body, Field

#: Unlinking a package that is not linked (the real service's 404).
NOT_LINKED = "Not Found"


class LinkBody(Body):
    """``PUT /repository/{subject}/{repo}/links/{source_subject}/{source_repo}/{source_package}``."""

    path_prefix: str | None = Field(default=None, max_length=1024)


def _prefix(raw: str | None) -> str:
    prefix = (raw or "").strip().strip("/")
    if not prefix:
        return ""
    try:
        return check_file_path(prefix)
    except BadRequest:
        raise BadRequest(f"Invalid value for 'path_prefix': {raw!r} is not a valid path") from None


def _refused(package: str, reason: str) -> Forbidden:
    """The real service's refusal of a link (403)."""
    return Forbidden(f"unable to create link for package {package}. can't create link {reason}")


def _readable_source(principal: Principal, owner: str, repo: str, package: str) -> tuple[Repository, Package]:
    """The source repository and package, or 404 (a private source stays invisible without read)."""
    source_repo = load_repo(owner, repo)
    if Right.READ not in rights_on(principal, owner, source_repo):
        raise NotFound(f"Repo '{repo}' was not found")
    return source_repo, db.get_or_404(
        Package, source_repo.id, package, missing=f"Package '{package}' was not found"
    )


def link_package(
    principal: Principal,
    target: Repository,
    source_owner: str,
    source_repo: str,
    package: str,
    body: LinkBody,
) -> Link:
    """Link ``source_owner/source_repo/package`` into ``target``: 404 unknown or unreadable source,
    403 same owner or private into public, 409 already linked (or a package of that name in ``target``)."""
    prefix = _prefix(body.path_prefix)
    repo, source = _readable_source(principal, source_owner, source_repo, package)
    if source_owner == target.owner:
        raise _refused(package, "between repositories of the same owner")
    if repo.private and not target.private:
        raise _refused(package, "from a private repository into a public one")
    try:
        Package.get(target.id, package, attributes_to_get=["name"])
    except DoesNotExist:
        pass
    else:
        raise Conflict(f"Repository '{target.name}' already has a package named '{package}'")
    link = Link(
        target.id,
        source.id,
        owner=target.owner,
        repo=target.name,
        repo_private=bool(target.private),
        source_owner=source_owner,
        source_repo=source_repo,
        source_repo_id=repo.id,
        source_package=package,
        path_prefix=prefix,
        created=now(),
        created_by=principal.name,
    )

    def write(tx: TransactWrite) -> None:
        # Condition checks first: moto reports cancellation reasons in this order.
        tx.condition_check(Repository, target.owner, target.name, condition=Repository.id == target.id)
        tx.condition_check(Package, repo.id, package, condition=Package.id == source.id)
        tx.save(link, condition=Link.source_package_id.does_not_exist())

    try:
        db.run_transaction(write)
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            raise NotFound(f"Repo '{target.name}' was not found") from None
        if db.cancelled_by_condition(error, 1):
            raise NotFound(f"Package '{package}' was not found") from None
        if db.cancelled_by_condition(error, 2):
            # A retry of a link whose request failed after writing it: its source package's
            # ``linked_to_repos`` may not show it yet.
            refresh_linked_to_repos(repo.id, package, source.id)
            raise Conflict(f"Package '{package}' is already linked into '{target.name}'") from None
        raise
    refresh_linked_to_repos(repo.id, package, source.id, added=link)
    return link


def unlink_package(target: Repository, source_owner: str, source_repo: str, package: str) -> None:
    """Remove the link of ``source_owner/source_repo/package`` from ``target``; 404 ``Not Found`` if
    there is none."""
    condition = (
        (Link.source_owner == source_owner)
        & (Link.source_repo == source_repo)
        & (Link.source_package == package)
    )
    found = next(iter(Link.query(target.id, filter_condition=condition)), None)
    if found is None:
        _refresh_source(source_owner, source_repo, package)  # a retry: the link may be gone already
        raise NotFound(NOT_LINKED)
    try:
        found.delete(condition=Link.source_package_id.exists())
    except DeleteError as error:
        if db.condition_failed(error):
            raise NotFound(NOT_LINKED) from None
        raise
    refresh_linked_to_repos(found.source_repo_id, package, found.source_package_id, removed=found)


def _refresh_source(source_owner: str, source_repo: str, package: str) -> None:
    """Recompute ``linked_to_repos`` of a source package named by its path, if it exists."""
    try:
        repo = Repository.get(source_owner, source_repo)
        source = Package.get(repo.id, package)
    except DoesNotExist:
        return
    refresh_linked_to_repos(repo.id, package, source.id)


def refresh_linked_to_repos(
    source_repo_id: str, package: str, package_id: str, added: Link | None = None, removed: Link | None = None
) -> None:
    """Recompute the source package's ``linked_to_repos`` from its links (idempotent).

    ``added``/``removed``: the link just written or deleted (the index may not show it yet).
    Names of public target repositories only: a private repository never shows to readers of the source.
    """
    links = {link.repo_id: link for link in Link.source_index.query(package_id)}
    if added is not None:
        links[added.repo_id] = added
    if removed is not None:
        links.pop(removed.repo_id, None)
    names = sorted({link.repo for link in links.values() if not link.repo_private})
    try:
        Package(source_repo_id, package).update(
            actions=[Package.linked_to_repos.set(names)], condition=Package.id == package_id
        )
    except UpdateError as error:
        if not db.condition_failed(error):  # the package is gone: nothing to show
            raise


def linked_names(repo: Repository, start_name: str | None) -> list[str]:
    """Names of the packages linked into ``repo`` (optionally starting with ``start_name``), sorted."""
    links = Link.query(repo.id, attributes_to_get=["source_package"])
    return sorted(link.source_package for link in links if link.source_package.startswith(start_name or ""))


def linked_file(
    principal: Principal, repo: Repository, path: str, source_ip: str | None, headers: Mapping[str, str]
) -> File | None:
    """The published file at ``path`` of a package linked into ``repo`` (under the link's prefix) that
    the link still serves, or None; 403 when the source repository's restrictions refuse ``principal``
    downloading from ``source_ip`` (``headers``: its country, see ``auth.restrictions``)."""
    if not storable(path):
        return None
    for link in Link.query(repo.id):
        if link.path_prefix and not path.startswith(link.path_prefix + "/"):
            continue
        try:
            record = File.get(link.source_repo_id, path)
        except DoesNotExist:
            continue
        if not record.published or record.package_id != link.source_package_id:
            continue
        source = _serving_source(link)
        if source is None:
            continue
        if restricted(source) and Right.ADMIN not in rights_on(principal, source.owner, source):
            check_download(source, source_ip, headers)
        return record
    return None


def _serving_source(link: Link) -> Repository | None:
    """The source repository of ``link`` while its creator may read it (None: gone, or no longer
    readable by them). A public source costs no read of the creator."""
    try:
        source = Repository.get(link.source_owner, link.source_repo)
    except DoesNotExist:
        return None
    if source.id != link.source_repo_id:
        return None
    if not source.private:
        return source
    creator = link.created_by or link.owner
    try:
        user = Subject.get(creator)
    except DoesNotExist:
        return None
    return source if Right.READ in rights_on(Principal.of_user(user), source.owner, source) else None


# --- cascades ----------------------------------------------------------------------------------


def purge_package_links(package_id: str) -> None:
    """Remove the links of a deleted source package (idempotent)."""
    db.batch_delete(Link.source_index.query(package_id))


def purge_repository_links(repo_id: str) -> None:
    """Remove the links into a deleted target repository and update their sources (idempotent)."""
    links = list(Link.query(repo_id))
    db.batch_delete(links)
    for link in links:
        refresh_linked_to_repos(
            link.source_repo_id, link.source_package, link.source_package_id, removed=link
        )
