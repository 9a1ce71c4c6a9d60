"""Background functions of download logs: writing them, on a schedule."""

from __future__ import annotations

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent

functions = Blueprint(__name__)


@functions.schedule(Rate(1, unit=Rate.HOURS))
def write_download_logs(event: CloudWatchEvent) -> None:
    """Rewrite today's (and, until final, yesterday's) download logs (chalicelib/download_logs)."""
    from chalicelib.download_logs.services import run

    run()
