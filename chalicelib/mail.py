"""Email through Amazon SES (moto's SES locally). boto3 is imported on first use.

Example::

    send(["ops@example.com"], "Usage threshold crossed", "acme used 12 GB ...")
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from chalicelib.config import settings


@lru_cache(maxsize=1)
def ses() -> Any:
    import boto3

    conf = settings()
    return boto3.client("ses", region_name=conf.region, endpoint_url=conf.s3_endpoint)


def send(to: Sequence[str], subject: str, body: str) -> str:
    """Send a plain-text email from the configured sender (``SHELF_ALERT_SENDER``) to ``to``
    (one message, every recipient in To); returns SES's message id."""
    answer = ses().send_email(
        Source=settings().alert_sender,
        Destination={"ToAddresses": list(to)},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
        },
    )
    return str(answer["MessageId"])


def verify_sender() -> None:
    """Verify the sender identity (local AWS and tests; deployed, the identity is set up once)."""
    ses().verify_email_identity(EmailAddress=settings().alert_sender)
