"""Precomputed packuments in S3: ``npm/<repo id>/<package id>/full.json`` and ``abbreviated.json``.

A packument is served with one GetObject whatever the number of versions; it is rebuilt (one Query of
the package's manifests) only when the package changes. Tarball URLs are stored relative to a marker
(``BASE``) that serving replaces with the registry's address as the client reached it.
"""

from __future__ import annotations

from chalicelib.config import settings
from chalicelib.storage import s3

#: Stands for ``<scheme>://<host>/npm/<subject>/<repo>`` in stored documents.
BASE = "@@SHELF_NPM_BASE@@"
FULL, ABBREVIATED = "full", "abbreviated"


def key(repo_id: str, package_id: str, kind: str) -> str:
    return f"npm/{repo_id}/{package_id}/{kind}.json"


def put(repo_id: str, package_id: str, kind: str, text: str) -> None:
    s3().put_object(
        Bucket=settings().bucket,
        Key=key(repo_id, package_id, kind),
        Body=text.encode("utf-8"),
        ContentType="application/json",
    )


def get(repo_id: str, package_id: str, kind: str) -> str | None:
    """The stored document, or None when there is none yet."""
    client = s3()
    try:
        answer = client.get_object(Bucket=settings().bucket, Key=key(repo_id, package_id, kind))
    except client.exceptions.NoSuchKey:
        return None
    return answer["Body"].read().decode("utf-8")


def delete(repo_id: str, package_id: str) -> None:
    for kind in (FULL, ABBREVIATED):
        s3().delete_object(Bucket=settings().bucket, Key=key(repo_id, package_id, kind))
