"""Reactions of the links domain to other domains' events."""

from __future__ import annotations

from chalicelib.events import PackageDeleted, RepositoryDeleted
from chalicelib.links.services import purge_package_links, purge_repository_links


def repository_deleted(event: RepositoryDeleted) -> None:
    purge_repository_links(event.repo_id)


def package_deleted(event: PackageDeleted) -> None:
    purge_package_links(event.package_id)
