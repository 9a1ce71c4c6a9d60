"""The client's address: API Gateway's ``sourceIp``, or behind the stack's CloudFront the viewer's.

Behind CloudFront ``sourceIp`` is CloudFront's. The distribution sends the stack's origin secret in
``X-Shelf-Origin-Secret`` on every request to the API (a custom origin header, replacing any a viewer
sends) and appends the viewer's address to ``X-Forwarded-For``; only a request carrying the secret
(``SHELF_CDN_ORIGIN_SECRET``) has its address taken from there: the hop before CloudFront's.

Example::

    client_address({"identity": {"sourceIp": "130.176.1.1"}},
                   {"x-shelf-origin-secret": secret, "x-forwarded-for": "198.51.100.7, 130.176.1.1"})
    # "198.51.100.7"
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from chalicelib.config import settings

ORIGIN_SECRET_HEADER = "x-shelf-origin-secret"


def client_address(context: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """The address of the client of this request (see the module's docstring)."""
    source = (context.get("identity") or {}).get("sourceIp")
    secret = settings().cdn_origin_secret
    given = headers.get(ORIGIN_SECRET_HEADER)
    if not secret or not given or not hmac.compare_digest(given.encode(), secret.encode()):
        return source
    hops = [hop.strip() for hop in (headers.get("x-forwarded-for") or "").split(",") if hop.strip()]
    if hops and hops[-1] == source:  # API Gateway appended CloudFront's address
        hops.pop()
    return hops[-1] if hops else source
