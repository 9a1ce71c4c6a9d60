"""Download events: every download (signed or not) is recorded once, without a synchronous write to
DynamoDB — the request only publishes one ``Downloaded`` lifecycle event (one SQS message); the
statistics domain records it and a scheduled rollup aggregates (chalicelib/stats)."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib import events
from chalicelib.auth.principal import Principal
from chalicelib.config import settings
from chalicelib.content.models import File
from chalicelib.events import Downloaded
from chalicelib.restrictions.countries import request_country
from chalicelib.timefmt import iso, now


def record(
    principal: Principal,
    file: File,
    event_id: str,
    source_ip: str | None = None,
    callback_id: str | None = None,
    callback_url: str | None = None,
    callback_method: str | None = None,
    callback_email: str | None = None,
    business_unit: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Publish the download event of ``file`` by ``principal`` (who, what, when, bytes, client address).

    A signed download carries its callback (``callback_*``): the statistics recorder calls
    ``signing.perform_callback`` for it once, outside the request. The country is the request's only
    with ``SHELF_COUNTRY_SOURCE=cloudfront`` (a header); otherwise the recorder looks the address up.
    """
    country = None
    if settings().country_source == "cloudfront":
        country = request_country(source_ip, headers or {})
    events.publish(
        Downloaded(
            **({"id": event_id} if event_id else {}),
            at=iso(now()) or "",
            owner=file.owner,
            repo=file.repo,
            repo_id=file.repo_id,
            package=file.package,
            version=file.version,
            path=file.path,
            size=int(file.size),
            user=principal.name,
            access_key=principal.name if principal.is_access_key else None,
            ip=source_ip,
            country=country,
            business_unit=business_unit,
            callback_id=callback_id,
            callback_url=callback_url,
            callback_method=callback_method,
            callback_email=callback_email,
        )
    )
