"""Pagination per the spec: ``start_pos`` in, ``X-RangeLimit-*`` headers out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Response

from chalicelib.validation import non_negative_int
from chalicelib.web.routing import json_response

#: The spec's page size (anonymous callers and search results).
PAGE_SIZE = 50
#: The most an authenticated caller gets in one listing.
AUTHENTICATED_PAGE_SIZE = 10_000


def start_pos(query: Mapping[str, str]) -> int:
    """The ``start_pos`` query parameter (0 when absent); 400 unless a non-negative integer."""
    raw = query.get("start_pos")
    if raw is None or raw == "":
        return 0
    return non_negative_int(raw, "start_pos")


def paged_response(items: list[Any], start: int, total: int) -> Response:
    """A JSON list with ``X-RangeLimit-Total``, ``-StartPos`` and ``-EndPos``."""
    end = start + len(items) - 1 if items else start
    headers = {
        "X-RangeLimit-Total": str(total),
        "X-RangeLimit-StartPos": str(start),
        "X-RangeLimit-EndPos": str(max(end, start)),
    }
    return json_response(items, 200, headers)
