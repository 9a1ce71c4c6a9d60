"""Reactions of the attributes domain to other domains' events."""

from __future__ import annotations

from chalicelib.attributes.services import (
    purge_file_attributes,
    purge_package_attributes,
    purge_version_attributes,
)
from chalicelib.events import FileDeleted, PackageDeleted, VersionDeleted


def file_deleted(event: FileDeleted) -> None:
    purge_file_attributes(event.repo_id, event.path)


def version_deleted(event: VersionDeleted) -> None:
    purge_version_attributes(event.package_id, event.version)


def package_deleted(event: PackageDeleted) -> None:
    purge_package_attributes(event.package_id, event.package)
