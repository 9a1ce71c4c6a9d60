"""The HTTP request context of a route handler: what the policy decided (``auth.policy.Access``:
the caller, the subject and repository of the path, the rights) and the request itself (headers,
query, raw body, client address, request id).

Only views see a ``Ctx``; services take an ``Access`` (or the principal, the loaded items) and the
request values they need as arguments, so they run the same from a worker without a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, fields
from typing import Any

from chalicelib.auth.policy import Access
from chalicelib.records import dataclass


@dataclass(kw_only=True)
class Ctx(Access):
    """What a route handler gets: the policy's ``Access`` and the HTTP request."""

    # Never in a repr (an exception message or a log line built from a Ctx): the headers carry the
    # Authorization and X-GPG-PASSPHRASE, the query a signed URL's signature, the body passwords.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    query: Mapping[str, str] = field(default_factory=dict, repr=False)
    raw_body: bytes | None = field(default=None, repr=False)
    source_ip: str | None = None
    request_id: str = ""

    @classmethod
    def of(cls, access: Access, **request: Any) -> Ctx:
        """The context of a request (``headers``, ``query``, ...) that the policy resolved to ``access``."""
        return cls(**{f.name: getattr(access, f.name) for f in fields(Access)}, **request)
