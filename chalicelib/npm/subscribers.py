"""In-request subscribers of the npm domain (declared in ``subscriptions.py``): the registry's items
follow the versions and packages they describe."""

from __future__ import annotations

from chalicelib.events import PackageDeleted, VersionDeleted
from chalicelib.npm import services


def version_deleted(event: VersionDeleted) -> None:
    services.version_gone(event.repo_id, event.package, event.package_id, event.version)


def package_deleted(event: PackageDeleted) -> None:
    services.package_gone(event.repo_id, event.package, event.package_id)
