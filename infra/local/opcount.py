"""Count the DynamoDB operations Shelf sends (tests and benchmarks).

Example::

    with count_operations() as ops:
        client.get("/repos/acme/tools")
    ops["GetItem"], ops["Scan"]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pynamodb.connection.base import Connection


@contextmanager
def count_operations() -> Iterator[Counter[str]]:
    """Count every DynamoDB operation dispatched by PynamoDB inside the block, by operation name."""
    counter: Counter[str] = Counter()
    original = Connection.dispatch

    def counting(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict:
        counter[operation_name] += 1
        return original(self, operation_name, operation_kwargs)

    Connection.dispatch = counting  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        Connection.dispatch = original  # type: ignore[method-assign]
