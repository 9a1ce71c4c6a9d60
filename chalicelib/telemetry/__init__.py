"""Telemetry: X-Ray traces (``tracing``), structured JSON logs (``logs``) and CloudWatch Embedded
Metric Format lines (``metrics``). Each invocation is wrapped once, centrally, by
``chalicelib.web.telemetry.observe`` (an app middleware); route handlers get a subsegment from the
route wrapper (``chalicelib.web.routing``); domains count uploads, downloads and publishes through
in-request event subscribers (``telemetry.subscribers``), never by calling telemetry themselves.

Settings (``chalicelib/config.py``): ``SHELF_TRACING=1`` turns tracing on (aws-xray-sdk is imported
only then), ``SHELF_LOG_FORMAT=json`` turns on JSON logs and EMF metric lines (the default in Lambda).
"""


def install() -> None:
    """Turn on what the settings ask for: JSON logs and X-Ray tracing (run once by app.py)."""
    from chalicelib.telemetry import logs, tracing

    logs.install()
    tracing.install()
