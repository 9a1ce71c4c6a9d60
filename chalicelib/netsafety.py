"""Outbound URL safety: webhook and callback URLs are user input and must not reach inside the network.

A URL is acceptable when it is ``http`` or ``https`` with a host, and *every* address the host
resolves to is a global unicast address — no loopback, private (RFC 1918, unique local), link-local
(169.254.169.254, the instance metadata service), carrier-grade NAT, multicast, reserved or
unspecified addresses. Check at registration *and* again right before calling (DNS may change).

Example::

    reason = unsafe_reason("http://169.254.169.254/latest/meta-data")  # -> "... not a public address"
    check_public_url(url)   # raises BadRequest naming the reason
    call_public_url(urllib.request.Request(url), timeout=3, purpose="webhook")  # status or None
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from chalicelib.errors import BadRequest

ALLOWED_SCHEMES = ("http", "https")

log = logging.getLogger("shelf")


def _address_refused(address: str) -> bool:
    """Whether ``address`` (a literal IP, maybe with an IPv6 zone) is not a public unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return [str(info[4][0]) for info in infos]


def unsafe_reason(url: str) -> str | None:
    """Why ``url`` may not be called from the server, or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "only http and https URLs are allowed"
    host = parts.hostname
    if not host:
        return "it has no host"
    addresses = resolve_host(host, port or (443 if parts.scheme.lower() == "https" else 80))
    if not addresses:
        return f"host '{host}' does not resolve"
    for address in addresses:
        if _address_refused(address):
            return f"host '{host}' resolves to {address}, which is not a public address"
    return None


def check_public_url(url: str, field: str = "url") -> str:
    """``url`` if it is safe to call; otherwise 400 naming ``field`` and the reason."""
    reason = unsafe_reason(url)
    if reason is not None:
        raise BadRequest(f"Invalid value for '{field}': {reason}")
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect could lead anywhere, the internal network included


def call_public_url(request: urllib.request.Request, timeout: float, purpose: str) -> int | None:
    """Send ``request`` to a user-given URL: checked again right now, redirects not followed. The HTTP
    status, or None when refused or failed (logged with ``purpose``, never raised)."""
    reason = unsafe_reason(request.full_url)
    if reason is not None:
        log.warning("%s refused: %s", purpose, reason)
        return None
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError, ValueError) as error:
        log.warning("%s failed: %s", purpose, error)
        return None
