"""Reactions of the content domain to other domains' events."""

from __future__ import annotations

from chalicelib.content.services import purge_package_files, purge_version_files
from chalicelib.events import PackageDeleted, VersionDeleted


def version_deleted(event: VersionDeleted) -> None:
    """Delete the file records of the deleted version (each publishes FileDeleted)."""
    purge_version_files(event.package_id, event.version)


def package_deleted(event: PackageDeleted) -> None:
    """Delete the file records of the deleted package (each publishes FileDeleted)."""
    purge_package_files(event.package_id)
