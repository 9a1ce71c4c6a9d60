"""Outbound URL safety: webhook and callback URLs are user input and must not reach inside the network.

A URL is acceptable when it is ``http`` or ``https`` with a host, and *every* address the host
resolves to is a global unicast address — no loopback, private (RFC 1918, unique local), link-local
(169.254.169.254, the instance metadata service), carrier-grade NAT, multicast, reserved or
unspecified addresses. IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the IPv4 address inside; IPv4-compatible
``::a.b.c.d`` and Teredo ``2001::/32`` are refused. Check at registration *and* again right before calling.

For local testing only, ``SHELF_OUTBOUND_ALLOW_CIDRS`` (``settings().outbound_allow_cidrs``, empty by
default) names networks that may be reached although they are not public (e.g. ``127.0.0.0/8`` for a
listener on the developer's machine).

Calling resolves the host once, checks every address, and connects to the checked one (the
``Host`` header, TLS SNI and certificate verification still use the URL's host name): a name whose
DNS answer changes between the check and the connection (DNS rebinding) cannot reach inside.

Example::

    reason = unsafe_reason("http://169.254.169.254/latest/meta-data")  # -> "... not a public address"
    check_public_url(url)   # raises BadRequest naming the reason
    call_public_url(urllib.request.Request(url), timeout=3, purpose="webhook")  # status or None
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import logging
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from chalicelib.config import settings
from chalicelib.errors import BadRequest

ALLOWED_SCHEMES = ("http", "https")

log = logging.getLogger("shelf")


#: NAT64 (RFC 6052): the last 32 bits are the IPv4 address the packets reach.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: IPv4-compatible addresses (``::a.b.c.d``, deprecated by RFC 4291; ``::`` and ``::1`` included).
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
#: Teredo (RFC 4380): tunnelled through a relay to an obfuscated IPv4 client.
_TEREDO = ipaddress.IPv6Network("2001::/32")


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def _address_refused(address: str) -> bool:
    """Whether ``address`` (a literal IP, maybe with an IPv6 zone) is not a public unicast address.

    IPv6 forms whose packets reach an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by that
    address; the deprecated IPv4-compatible form and Teredo are refused."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv4Address):
        return not _public(ip)
    if ip in _IPV4_COMPATIBLE or ip in _TEREDO:
        return True
    nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
    embedded = ip.ipv4_mapped or ip.sixtofour or nat64
    return not _public(embedded if embedded is not None else ip)


def _allowed_locally(address: str) -> bool:
    """Whether ``address`` is in a network of ``SHELF_OUTBOUND_ALLOW_CIDRS`` (local testing)."""
    networks = settings().outbound_allow_cidrs
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in networks)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return [str(info[4][0]) for info in infos]


def vet(url: str) -> tuple[str | None, str | None]:
    """Resolve ``url``'s host once: ``(address to connect to, None)`` when every address it resolves
    to is public, else ``(None, why it may not be called)``."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        # http.client refuses to send them (InvalidURL, whose message quotes the URL: a substituted
        # access-key password included); URL-encode them (%20).
        return None, "it contains spaces or control characters (URL-encode them)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, "it is not a valid URL"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return None, "only http and https URLs are allowed"
    host = parts.hostname
    if not host:
        return None, "it has no host"
    addresses = resolve_host(host, port or (443 if parts.scheme.lower() == "https" else 80))
    if not addresses:
        return None, f"host '{host}' does not resolve"
    for address in addresses:
        if _address_refused(address) and not _allowed_locally(address):
            return None, f"host '{host}' resolves to {address}, which is not a public address"
    return addresses[0], None


def unsafe_reason(url: str) -> str | None:
    """Why ``url`` may not be called from the server, or None when it may."""
    return vet(url)[1]


def check_public_url(url: str, field: str = "url") -> str:
    """``url`` if it is safe to call; otherwise 400 naming ``field`` and the reason."""
    reason = unsafe_reason(url)
    if reason is not None:
        raise BadRequest(f"Invalid value for '{field}': {reason}")
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect could lead anywhere, the internal network included


def _pinned(
    connection_class: type[http.client.HTTPConnection], address: str, host: str, **kwargs: Any
) -> http.client.HTTPConnection:
    """A ``connection_class`` for ``host`` whose socket goes to ``address`` (no second DNS lookup);
    the Host header and, for HTTPS, SNI and the certificate check use ``host``."""
    connection = connection_class(host, **kwargs)

    def create_connection(target: tuple[str, int], *args: Any) -> socket.socket:
        return socket.create_connection((address, target[1]), *args)

    connection._create_connection = create_connection  # type: ignore[attr-defined]
    return connection


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_pinned, http.client.HTTPConnection, self.address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str):
        super().__init__(context=ssl.create_default_context())  # verifies the host name
        self.address = address

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_pinned, http.client.HTTPSConnection, self.address)
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


def call_public_url(request: urllib.request.Request, timeout: float, purpose: str) -> int | None:
    """Send ``request`` to a user-given URL: checked again right now and sent to the checked
    address, no proxy, redirects not followed. The HTTP status, or None when refused or failed
    (logged with ``purpose``, never raised)."""
    address, reason = vet(request.full_url)
    if address is None:
        log.warning("%s refused: %s", purpose, reason)
        return None
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirect,
        _PinnedHTTPHandler(address),
        _PinnedHTTPSHandler(address),
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        # Never the URL: it may carry credentials (an existence check's password, a CI token).
        log.warning("%s failed: %s", purpose, _failure(error))
        return None


def _failure(error: Exception) -> str:
    """What went wrong in a call, without the URL (http.client's InvalidURL quotes it)."""
    if isinstance(error, http.client.InvalidURL):
        return "invalid URL"
    if isinstance(error, urllib.error.URLError):
        return f"{type(error).__name__}: {error.reason}"
    return f"{type(error).__name__}: {error}"
