"""Reactions of the packages domain to lifecycle events (its own deletions' cascades included)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.events import PackageDeleted, RepositoryDeleted, VersionDeleted, VersionPublished
from chalicelib.packages.models import Package
from chalicelib.packages.services import purge_package_records, purge_repository_contents
from chalicelib.packages.versions import mark_published, refresh_latest


def repository_deleted(event: RepositoryDeleted) -> None:
    """Delete every package of the deleted repository (each publishes PackageDeleted)."""
    purge_repository_contents(event.repo_id)


def package_deleted(event: PackageDeleted) -> None:
    """Delete the versions and Maven coordinates of the deleted package."""
    purge_package_records(event)


def version_deleted(event: VersionDeleted) -> None:
    """The package's newest/latest pointers leave the deleted version (idempotent)."""
    try:
        package = Package.get(event.repo_id, event.package)
    except DoesNotExist:
        return
    if package.id == event.package_id and event.version in (
        package.newest_version,
        package.latest_published_version,
    ):
        refresh_latest(package)


def version_published(event: VersionPublished) -> None:
    """The version is published, and the package's latest published version if newest."""
    mark_published(event)
