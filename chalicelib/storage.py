"""File content in S3, content-addressed by SHA-256. Bytes are served through presigned URLs only.

boto3 is imported on first use: routes that never touch S3 do not pay for it at cold start.

Example::

    key = put_blob(data, sha256_hex)
    url = presign_get(sha256_hex, "tool-1.0.jar", seconds=30)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from chalicelib.config import settings

BLOB_PREFIX = "blobs/sha256/"
UPLOAD_PREFIX = "uploads/"


@lru_cache(maxsize=1)
def s3() -> Any:
    """The S3 client of this container (SigV4, as real regions require)."""
    import boto3
    from botocore.config import Config

    conf = settings()
    return boto3.client(
        "s3",
        region_name=conf.region,
        endpoint_url=conf.s3_endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def blob_key(sha256: str) -> str:
    """The object key of the content with this SHA-256."""
    return f"{BLOB_PREFIX}{sha256[:2]}/{sha256}"


def put_blob(data: bytes, sha256: str) -> str:
    """Store ``data`` under its SHA-256 key (idempotent: identical content shares one object)."""
    import base64

    key = blob_key(sha256)
    s3().put_object(
        Bucket=settings().bucket,
        Key=key,
        Body=data,
        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
    )
    return key


def content_disposition(filename: str) -> str:
    """``attachment`` with ``filename`` the standard way (RFC 6266, RFC 5987): a quoted ASCII
    ``filename="..."`` for every client and, when the name is not plain ASCII, the exact name as
    ``filename*=UTF-8''<percent-encoded>`` (which clients that know it prefer).

    Example: ``content_disposition("日本語.txt")`` ->
    ``attachment; filename="___.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt``
    """
    from urllib.parse import quote

    # The fallback: accents dropped (é -> e), other non-ASCII, quotes, backslashes, controls -> "_".
    stripped = "".join(c for c in unicodedata.normalize("NFKD", filename) if not unicodedata.combining(c))
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in stripped)
    if fallback == filename:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def presign_get(sha256: str, filename: str, seconds: int) -> str:
    """A URL that downloads the blob as ``filename`` for ``seconds`` (signed locally, no S3 call)."""
    return s3().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": settings().bucket,
            "Key": blob_key(sha256),
            "ResponseContentDisposition": content_disposition(filename),
        },
        ExpiresIn=seconds,
    )


def delete_blob(sha256: str) -> None:
    """Remove a blob (the collector calls this for unreferenced content only)."""
    s3().delete_object(Bucket=settings().bucket, Key=blob_key(sha256))


def create_bucket() -> None:
    """Create the content bucket (local AWS and tests)."""
    client = s3()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if settings().bucket not in existing:
        client.create_bucket(Bucket=settings().bucket)


# --- large uploads: staged under uploads/<id>, then moved to their content address ----------------


def staged_key(upload_id: str) -> str:
    """The object key a large upload is PUT to (through a presigned URL)."""
    return f"{UPLOAD_PREFIX}{upload_id}"


def presign_put(key: str, seconds: int, content_length: int) -> str:
    """A URL that PUTs exactly ``content_length`` bytes to ``key`` for ``seconds`` (signed locally)."""
    return s3().generate_presigned_url(
        "put_object",
        Params={"Bucket": settings().bucket, "Key": key, "ContentLength": content_length},
        ExpiresIn=seconds,
    )


def object_chunks(key: str, chunk_size: int = 8 * 1024 * 1024) -> Iterator[bytes]:
    """The bytes of object ``key``, streamed in chunks (never the whole object in memory)."""
    body = s3().get_object(Bucket=settings().bucket, Key=key)["Body"]
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def object_exists(key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3().head_object(Bucket=settings().bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def adopt_staged(key: str, sha256: str) -> str:
    """Copy staged object ``key`` to the blob key of ``sha256`` (server side; a managed transfer, so
    multipart copy above 5 GB); skipped when identical content is already stored."""
    target = blob_key(sha256)
    if not object_exists(target):
        bucket = settings().bucket
        s3().copy({"Bucket": bucket, "Key": key}, bucket, target)
    return target


def delete_object(key: str) -> None:
    s3().delete_object(Bucket=settings().bucket, Key=key)


def notify_uploads(queue_arn: str) -> None:
    """Send S3's ``ObjectCreated`` events of ``uploads/`` to the queue ``queue_arn`` (local AWS; deployed,
    the same notification is part of the bucket's configuration, see docs/architecture.md)."""
    s3().put_bucket_notification_configuration(
        Bucket=settings().bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "shelf-large-uploads",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}},
                }
            ]
        },
    )


# --- objects by key (metadata indexes: chalicelib/indexes) --------------------------------------


def put_object(key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    s3().put_object(Bucket=settings().bucket, Key=key, Body=data, ContentType=content_type)


def get_object(key: str) -> bytes:
    return s3().get_object(Bucket=settings().bucket, Key=key)["Body"].read()


def presign_key(key: str, filename: str, seconds: int, content_type: str | None = None) -> str:
    """A URL that downloads object ``key`` as ``filename`` for ``seconds`` (signed locally)."""
    params = {
        "Bucket": settings().bucket,
        "Key": key,
        "ResponseContentDisposition": content_disposition(filename),
    }
    if content_type:
        params["ResponseContentType"] = content_type
    return s3().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
