"""Background functions of the statistics domain: the download rollup."""

from __future__ import annotations

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent

functions = Blueprint(__name__)


@functions.schedule(Rate(1, unit=Rate.MINUTES))
def rollup_downloads(event: CloudWatchEvent) -> None:
    """Aggregate the download events recorded since the last run (chalicelib/stats/rollup.py)."""
    from chalicelib.stats.rollup import run

    run()
