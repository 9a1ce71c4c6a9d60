"""Reactions of the docs_meta domain to other domains' events."""

from __future__ import annotations

from chalicelib.docs_meta.services import purge_package, purge_version
from chalicelib.events import PackageDeleted, VersionDeleted


def version_deleted(event: VersionDeleted) -> None:
    purge_version(event.package_id, event.version)


def package_deleted(event: PackageDeleted) -> None:
    purge_package(event.package_id)
