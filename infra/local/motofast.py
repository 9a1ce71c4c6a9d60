"""Two costs of moto (5.2) that grow with the local AWS's data or are paid again on every request, removed
without changing what moto answers. Installed by ``infra.local.aws.LocalAws`` (tests and ``make serve``).

- ``TransactWriteItems`` deep-copied every table a transaction touches, all of its items, to roll back on
  failure: a cost that grew with the table (a test module's data) on every transaction. Here the backup is
  a copy of the items the transaction names (and the length of the table's stream, if any), put back
  on the same failures; the result is the same table state as moto's rollback.
- Every request listed its handler class's methods (``inspect.getmembers``) to find the action, and the
  server listed moto's package directory (``list_of_moto_modules``, a ``listdir`` and an ``isdir`` per
  entry) to route it; neither changes while the process runs, so each is computed once.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_installed = False
_local = threading.local()


class _CopyShim:
    """Stands for the ``copy`` module inside ``moto.dynamodb.models``: while a transaction runs in this
    thread, a deep copy of a whole table is the table itself (the items it names are saved instead)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_local, "transaction", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def install() -> None:
    """Patch moto (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    import moto.backends as backends
    import moto.core.responses as responses
    import moto.dynamodb.models as dynamodb_models

    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]

    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)

    backend = dynamodb_models.DynamoDBBackend
    original = backend.transact_write_items
    dynamodb_models.copy = _CopyShim()  # type: ignore[assignment]

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = _save(self, transact_items)
        _local.transaction = True
        try:
            return original(self, transact_items)
        except BaseException:
            _restore(saved)
            raise
        finally:
            _local.transaction = False

    backend.transact_write_items = transact_write_items


def _save(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash key, range key, deep copy of the item or None) for each item the transaction names,
    and (table, stream length) for each table with a stream."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: list[tuple[Any, ...]] = []
    streams: dict[int, Any] = {}
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") if "Key" in op else op.get("Item")
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            item = table.get_item(hash_key, range_key)
        except Exception:  # moto refuses it itself, before changing anything
            continue
        saved.append((table, hash_key, range_key, copy.deepcopy(item)))
        if table.stream_shard is not None and id(table) not in streams:
            streams[id(table)] = (table, len(table.stream_shard.items))
    return saved + list(streams.values())


def _restore(saved: list[tuple[Any, ...]]) -> None:
    for entry in reversed(saved):
        if len(entry) == 2:
            table, length = entry
            del table.stream_shard.items[length:]
            continue
        table, hash_key, range_key, item = entry
        if range_key is not None:
            bucket = table.items[hash_key]
            if item is None:
                bucket.pop(range_key, None)
            else:
                bucket[range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
