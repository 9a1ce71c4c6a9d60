"""File content in S3, content-addressed by SHA-256. Bytes are served through presigned URLs only.

boto3 is imported on first use: routes that never touch S3 do not pay for it at cold start.

Example::

    key = put_blob(data, sha256_hex)
    url = presign_get(sha256_hex, "tool-1.0.jar", seconds=30)
"""

from __future__ import annotations

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


def presign_get(sha256: str, filename: str, seconds: int) -> str:
    """A URL that downloads the blob as ``filename`` for ``seconds`` (signed locally, no S3 call)."""
    safe = filename.replace('"', "")
    return s3().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": settings().bucket,
            "Key": blob_key(sha256),
            "ResponseContentDisposition": f'attachment; filename="{safe}"',
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
