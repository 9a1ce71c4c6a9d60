"""Background functions of the CDN domain: download statistics from CloudFront's logs."""

from __future__ import annotations

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent

functions = Blueprint(__name__)


@functions.schedule(Rate(5, unit=Rate.MINUTES))
def cdn_logs(event: CloudWatchEvent) -> None:
    """Turn CloudFront's new standard logs into download events (chalicelib/cdn/logs.py)."""
    from chalicelib.cdn.logs import process_logs

    process_logs()
