"""Background functions of usage thresholds: their evaluation, on a schedule."""

from __future__ import annotations

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent

functions = Blueprint(__name__)


@functions.schedule(Rate(5, unit=Rate.MINUTES))
def evaluate_usage_thresholds(event: CloudWatchEvent) -> None:
    """Alert crossed usage thresholds, once per threshold and period (chalicelib/thresholds/alerts.py)."""
    from chalicelib.thresholds.alerts import run

    run()
