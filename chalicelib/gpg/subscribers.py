"""Reactions of the gpg domain."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.content.models import File
from chalicelib.events import VersionPublished
from chalicelib.gpg import services
from chalicelib.packages.models import Package, Version
from chalicelib.repositories.models import Repository


def version_published(event: VersionPublished) -> None:
    """Sign the published files (``gpg_sign_files``: Shelf's key; ``gpg_use_owner_key``: the owner's,
    with the request's X-GPG-PASSPHRASE if it is protected; no key, no signature). Costs nothing in
    repositories that do not sign files (the event says so)."""
    if not event.sign_files:
        return
    paths = [p for p in event.files if not services.is_signature(p)]
    if not paths:
        return
    try:
        repo = Repository.get(event.owner, event.repo)
        package = Package.get(event.repo_id, event.package)
        version = Version.get(package.id, event.version)
    except DoesNotExist:
        return
    signer = services.file_signer(repo)
    if signer is None:
        return
    files = [f for f in File.batch_get([(event.repo_id, p) for p in paths]) if f.published]
    services.sign_files(None, False, repo, package, version, files, signer)
