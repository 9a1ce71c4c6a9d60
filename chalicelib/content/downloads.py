"""Download events: every download (signed or not) is recorded once, without a synchronous write to
a hot DynamoDB item — the request only sends one SQS message; a consumer aggregates later."""

from __future__ import annotations

from chalicelib import events, queues
from chalicelib.auth.principal import Principal
from chalicelib.content.models import File
from chalicelib.events import Downloaded
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
) -> None:
    """Queue the download event of ``file`` by ``principal`` (who, what, when, bytes, client address).

    A signed download carries its callback (``callback_*``): the events consumer calls
    ``signing.perform_callback(event)`` when ``callback_url`` is set, outside the request.
    """
    queues.send(
        queues.DOWNLOAD_EVENTS,
        {
            "id": event_id,
            "at": iso(now()),
            "user": principal.name,
            "access_key": principal.name if principal.is_access_key else None,
            "callback_id": callback_id,
            "ip": source_ip,
            "owner": file.owner,
            "repo": file.repo,
            "repo_id": file.repo_id,
            "package": file.package,
            "version": file.version,
            "path": file.path,
            "size": int(file.size),
            "callback_url": callback_url,
            "callback_method": callback_method,
            "callback_email": callback_email,
        },
    )
    events.publish(
        Downloaded(
            **({"id": event_id} if event_id else {}),
            owner=file.owner,
            repo=file.repo,
            package=file.package,
            version=file.version,
            path=file.path,
            size=int(file.size),
            user=principal.name,
            ip=source_ip,
            callback_id=callback_id,
        )
    )
