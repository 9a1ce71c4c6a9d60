"""Configuration read from the environment, once per container.

Example::

    from chalicelib.config import settings
    settings().table_prefix  # "shelf-local-"
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache

from chalicelib.records import dataclass


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
    #: Networks outbound calls to user-given URLs (webhooks, signed-URL callbacks, access-key existence
    #: checks) may reach although they are not public, e.g. ``127.0.0.0/8``: for local testing only
    #: (``SHELF_OUTBOUND_ALLOW_CIDRS``, comma separated; empty by default). See chalicelib/netsafety.py.
    outbound_allow_cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: The longest a long-poll answer of the event stream waits for events (below API Gateway's 29 s).
    stream_wait_seconds: float = 25.0
    #: X-Ray tracing through aws-xray-sdk (``SHELF_TRACING=1``; imported only then). Locally a segment
    #: per request goes to ``AWS_XRAY_DAEMON_ADDRESS`` (127.0.0.1:2000 by default). See chalicelib/telemetry.
    tracing: bool = False
    #: ``json``: structured log lines (with the request id) and EMF metric lines on stdout, the default
    #: in Lambda; ``text``: Python's logging as configured by the host (the default elsewhere).
    log_format: str = "text"
    log_level: str = "INFO"
    #: The CloudFront distribution serving public downloads (chalicelib/cdn): invalidated when a copy
    #: goes; None (locally): no invalidation.
    cdn_distribution_id: str | None = None
    #: Where CloudFront writes its standard logs (bucket, key prefix), read by the CDN statistics function.
    cdn_log_bucket: str | None = None
    cdn_log_prefix: str = "cloudfront/"
    #: The secret the stack's CloudFront sends the API with every request: only then is the client's
    #: address taken from X-Forwarded-For (chalicelib/web/client.py). None: never.
    cdn_origin_secret: str | None = None
    #: How long a metadata-index calculation waits after the first change (a burst of uploads: one run).
    index_debounce_seconds: int = 5

    #: How long after an ingest bucket closes the download rollup reads it (``SHELF_STATS_LAG_SECONDS``;
    #: covers GSI propagation and recorders' clocks). See chalicelib/stats/rollup.py.
    stats_lag_seconds: float = 10.0
    #: The download rollup's chunk of ingest time (``SHELF_STATS_ROLLUP_SECONDS``): each aggregate row
    #: is written at most once per chunk; statistics lag by up to a chunk plus the lag.
    stats_rollup_seconds: int = 60
    #: The sender of usage-threshold alert emails (an SES-verified identity; ``SHELF_ALERT_SENDER``).
    alert_sender: str = "alerts@shelf.local"
    #: Days a package's daily download log is kept (``SHELF_DOWNLOAD_LOG_RETENTION_DAYS``).
    download_log_retention_days: int = 90

#: The buckets of a deployment, by the environment variable that names them: the CloudFormation template
#: (infra/cloudformation.py) creates one per entry, with a per-stack name passed in that variable.
BUCKET_VARIABLES = {"content": "SHELF_BUCKET", "logs": "SHELF_CDN_LOG_BUCKET"}


def _networks(value: str, variable: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The CIDRs of a comma-separated setting (a configuration error names ``variable``)."""
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
        )
    except ValueError as error:
        raise ValueError(f"{variable}: {error}") from None


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
        outbound_allow_cidrs=_networks(
            env.get("SHELF_OUTBOUND_ALLOW_CIDRS", ""), "SHELF_OUTBOUND_ALLOW_CIDRS"
        ),
        stream_wait_seconds=float(env.get("SHELF_STREAM_WAIT_SECONDS", "25")),
        cdn_distribution_id=env.get("SHELF_CDN_DISTRIBUTION_ID") or None,
        cdn_log_bucket=env.get("SHELF_CDN_LOG_BUCKET") or None,
        cdn_log_prefix=env.get("SHELF_CDN_LOG_PREFIX", "cloudfront/"),
        cdn_origin_secret=env.get("SHELF_CDN_ORIGIN_SECRET") or None,
        tracing=env.get("SHELF_TRACING", "").strip().lower() in ("1", "true", "on", "yes"),
        log_format=(
            env.get("SHELF_LOG_FORMAT") or ("json" if env.get("AWS_LAMBDA_FUNCTION_NAME") else "text")
        ).strip().lower(),
        log_level=env.get("SHELF_LOG_LEVEL", "INFO").strip().upper(),
        index_debounce_seconds=int(env.get("SHELF_INDEX_DEBOUNCE_SECONDS", "5")),
        stats_lag_seconds=float(env.get("SHELF_STATS_LAG_SECONDS", "10")),
        stats_rollup_seconds=int(env.get("SHELF_STATS_ROLLUP_SECONDS", "60")),
        alert_sender=env.get("SHELF_ALERT_SENDER", "alerts@shelf.local"),
        download_log_retention_days=int(env.get("SHELF_DOWNLOAD_LOG_RETENTION_DAYS", "90")),
    )
