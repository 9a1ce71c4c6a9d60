"""Login events (chalicelib/events.py) of API requests, for the subject whose resource was requested.

Every request with credentials is a login: a failed one (wrong or malformed credentials naming a user)
is published every time; a successful one at most once per caller, subject and address every
``SUCCESS_EVERY`` seconds in this container, so that an authenticated client does not publish an event
per request (the stream records one per user and address per window across containers). A successful
login's event is best effort: if AWS fails to take it, the request goes on (the next one sends it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from chalicelib import events
from chalicelib.auth.credentials import basic_credentials
from chalicelib.auth.principal import Principal
from chalicelib.web.faults import service_fault

log = logging.getLogger(__name__)

SUCCESS_EVERY = 300.0
#: The most (caller, subject, address) remembered; beyond, the expired ones are forgotten.
REMEMBERED = 10_000

_recent: dict[tuple[str, str | None, str | None], float] = {}
_lock = threading.Lock()


def succeeded(principal: Principal, subject: str | None, ip: str | None) -> None:
    """Publish ``LoginSucceeded`` for an authenticated ``principal``, unless published lately."""
    if principal.name is None:
        return
    key = (principal.name, subject, ip)
    at = time.monotonic()
    with _lock:
        if _recent.get(key, 0.0) > at:
            return
        if len(_recent) >= REMEMBERED:
            for old in [k for k, until in _recent.items() if until <= at]:
                del _recent[old]
            if len(_recent) >= REMEMBERED:
                _recent.clear()
        _recent[key] = at + SUCCESS_EVERY
    try:
        events.publish(events.LoginSucceeded(subject=subject, user=principal.name, ip=ip))
    except Exception as error:
        # Best effort: the request's own work does not depend on its login event, so a queue that is
        # failing does not fail every authenticated request; the next request tries again.
        if not service_fault(error):
            raise
        with _lock:
            _recent.pop(key, None)
        log.warning("login event not sent: %s", type(error).__name__)


def failed(headers: Mapping[str, str], subject: str | None, ip: str | None) -> None:
    """Publish ``LoginFailed`` for the user the refused credentials name (none named: nothing)."""
    credentials = basic_credentials(headers)
    if credentials is not None:
        events.publish(events.LoginFailed(subject=subject, user=credentials[0], ip=ip))
