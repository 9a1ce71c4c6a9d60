"""Configuration read from the environment, once per container.

Example::

    from chalicelib.config import settings
    settings().table_prefix  # "shelf-local-"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    """Deployment settings; every field comes from an environment variable."""

    stage: str
    region: str
    table_prefix: str
    dynamodb_endpoint: str | None
    s3_endpoint: str | None
    bucket: str
    #: API queries a non-Premium caller may make per UTC day / month on resources of others (0: no limit).
    rate_limit_daily: int = 300
    rate_limit_monthly: int = 1440
    #: Where a download's country comes from for geo restrictions: "ipdb" (offline IP database) or
    #: "cloudfront" (the CloudFront-Viewer-Country header). See chalicelib/restrictions/countries.py.
    country_source: str = "ipdb"
    #: The longest a long-poll answer of the event stream waits for events (below API Gateway's 29 s).
    stream_wait_seconds: float = 25.0


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this container (read once)."""
    env = os.environ
    return Settings(
        stage=env.get("SHELF_STAGE", "local"),
        region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
        table_prefix=env.get("SHELF_TABLE_PREFIX", "shelf-"),
        dynamodb_endpoint=env.get("SHELF_DYNAMODB_ENDPOINT") or None,
        s3_endpoint=env.get("SHELF_S3_ENDPOINT") or None,
        bucket=env.get("SHELF_BUCKET", "shelf-content"),
        rate_limit_daily=int(env.get("SHELF_RATE_LIMIT_DAILY", "300")),
        rate_limit_monthly=int(env.get("SHELF_RATE_LIMIT_MONTHLY", "1440")),
        country_source=env.get("SHELF_COUNTRY_SOURCE", "ipdb").strip().lower(),
        stream_wait_seconds=float(env.get("SHELF_STREAM_WAIT_SECONDS", "25")),
    )
