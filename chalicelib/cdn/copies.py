"""The CDN copies: written on publish, removed on delete or when the repository may no longer be served
without the Lambda path (private, geo or IP restrictions), each removal invalidated in CloudFront.

Example::

    publish_copies(repo, ["hello-1.0.tar.gz"])    # dl/alice/tools/hello-1.0.tar.gz
    remove_copy("alice", "tools", "hello-1.0.tar.gz")
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from pynamodb.exceptions import DoesNotExist

from chalicelib import storage
from chalicelib.auth.restrictions import restricted
from chalicelib.config import settings
from chalicelib.content.models import File
from chalicelib.repositories.models import Repository

PREFIX = "dl/"
#: Copies of files: a day in caches (a changed or deleted file is invalidated); other objects (indexes)
#: change with every publish, so a minute.
FILE_CACHE_CONTROL = "public, max-age=86400"
INDEX_CACHE_CONTROL = "public, max-age=60"


def copy_key(owner: str, repo: str, path: str) -> str:
    """The object key CloudFront serves at ``/dl/<owner>/<repo>/<path>``."""
    return f"{PREFIX}{owner}/{repo}/{path}"


def servable(repo: Repository | None) -> bool:
    """Whether ``repo``'s content may be served by the CDN (public, no download restriction)."""
    return repo is not None and not repo.private and not restricted(repo)


def current_repository(owner: str, name: str, repo_id: str) -> Repository | None:
    """The repository, if it still exists as the one of ``repo_id`` (not deleted and re-created)."""
    try:
        repo = Repository.get(owner, name, consistent_read=True)
    except DoesNotExist:
        return None
    return repo if repo.id == repo_id else None


def _copy(source_key: str, target_key: str, filename: str, cache_control: str) -> None:
    conf = settings()
    storage.s3().copy(
        {"Bucket": conf.bucket, "Key": source_key},
        conf.bucket,
        target_key,
        ExtraArgs={
            "MetadataDirective": "REPLACE",
            "CacheControl": cache_control,
            "ContentDisposition": storage.content_disposition(filename),
            "ContentType": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        },
    )


def _exists(key: str) -> bool:
    return storage.object_exists(key)


def publish_copies(repo: Repository, paths: Iterable[str], replaced: bool = False) -> int:
    """Copy the published files at ``paths`` of ``repo`` to their CDN keys (nothing when the repository
    may not be served so); ``replaced``: the content changed, invalidate cached answers. Returns how many."""
    if not servable(repo):
        return 0
    written = []
    for path in paths:
        try:
            record = File.get(repo.id, path, consistent_read=True)
        except DoesNotExist:
            continue
        if not record.published:
            continue
        _copy(
            storage.blob_key(record.sha256),
            copy_key(repo.owner, repo.name, path),
            record.name,
            FILE_CACHE_CONTROL,
        )
        written.append(path)
    if replaced and written:
        invalidate([cdn_path(repo.owner, repo.name, p) for p in written])
    return len(written)


def put_object_copy(repo: Repository, path: str, key: str) -> bool:
    """Serve S3 object ``key`` (an index) at ``/dl/<owner>/<repo>/<path>`` (when the repository may be);
    whether it was copied. A ``key`` gone already (a late delivery: a newer generation replaced it,
    and its own event follows) is skipped."""
    if not servable(repo):
        return False
    try:
        _copy(key, copy_key(repo.owner, repo.name, path), path.rsplit("/", 1)[-1], INDEX_CACHE_CONTROL)
    except Exception as error:  # botocore's ClientError; boto3 is not imported at module level
        if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    invalidate([cdn_path(repo.owner, repo.name, path)])
    return True


def remove_copy(owner: str, repo: str, path: str) -> bool:
    """Remove the copy at ``path`` (and invalidate it) if there is one."""
    key = copy_key(owner, repo, path)
    if not _exists(key):
        return False
    storage.delete_object(key)
    invalidate([cdn_path(owner, repo, path)])
    return True


def remove_all(owner: str, repo: str) -> int:
    """Remove every copy of the repository (files and indexes) and invalidate them; returns how many."""
    conf = settings()
    client = storage.s3()
    prefix = copy_key(owner, repo, "")
    removed = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=conf.bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=conf.bucket, Delete={"Objects": keys, "Quiet": True})
            removed += len(keys)
    if removed:
        invalidate([cdn_path(owner, repo, "*")])
    return removed


def sync_repository(owner: str, name: str, repo_id: str) -> int:
    """Make the copies match the repository's current state: all published files when it may be served,
    none otherwise. Returns how many copies were written (or removed)."""
    repo = current_repository(owner, name, repo_id)
    if not servable(repo):
        return remove_all(owner, name)
    assert repo is not None
    published = [f.path for f in File.query(repo.id) if f.published]
    return publish_copies(repo, published)


# --- invalidations ---------------------------------------------------------------------------------


def cdn_path(owner: str, repo: str, path: str) -> str:
    """The URL path of a copy as CloudFront names it in an invalidation (percent-encoded; a trailing
    ``*`` stays a wildcard)."""
    wildcard = path.endswith("*")
    encoded = quote(f"/{copy_key(owner, repo, path.rstrip('*') if wildcard else path)}", safe="/")
    return encoded + ("*" if wildcard else "")


@lru_cache(maxsize=1)
def cloudfront() -> Any:
    import boto3

    conf = settings()
    return boto3.client("cloudfront", region_name=conf.region, endpoint_url=conf.s3_endpoint)


def invalidate(paths: list[str]) -> str | None:
    """Ask CloudFront to drop cached answers for ``paths``; None when no distribution is configured
    (locally). Returns the invalidation's id."""
    distribution = settings().cdn_distribution_id
    if not distribution or not paths:
        return None
    answer = cloudfront().create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": uuid.uuid4().hex,
        },
    )
    return answer["Invalidation"]["Id"]
