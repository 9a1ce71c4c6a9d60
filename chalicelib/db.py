"""DynamoDB plumbing shared by the domain models (PynamoDB).

Each domain declares its models with ``Meta = table_meta("name")``; ``all_models()`` lists them
for table creation (local AWS, tests) and for the CloudFormation resources in ``infra/``.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import pynamodb.models
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.config import settings
from chalicelib.errors import NotFound

M = TypeVar("M", bound=Model)

#: Modules that define models; imported lazily by ``all_models``.
MODEL_MODULES = (
    "chalicelib.accounts.models",
    "chalicelib.repositories.models",
    "chalicelib.packages.models",
    "chalicelib.content.models",
    "chalicelib.stats.models",
    "chalicelib.attributes.models",
    "chalicelib.links.models",
    "chalicelib.docs_meta.models",
    "chalicelib.teams.models",
    "chalicelib.entitlements.models",
    "chalicelib.licenses.models",
    "chalicelib.ratelimits",
    "chalicelib.products.models",
    "chalicelib.webhooks.models",
    "chalicelib.stream.models",
    "chalicelib.npm.models",
    "chalicelib.indexes.models",
    "chalicelib.gpg.models",
    "chalicelib.thresholds.models",
    "chalicelib.download_logs.models",
    "chalicelib.outbox",
)


def table_meta(name: str) -> type:
    """A PynamoDB ``Meta`` class for table ``name`` under the configured prefix and endpoint."""
    conf = settings()

    class Meta:
        table_name = conf.table_prefix + name
        region = conf.region
        host = conf.dynamodb_endpoint
        billing_mode = "PAY_PER_REQUEST"

    return Meta


def all_models() -> list[type[Model]]:
    """Every model class of the application, in a stable order."""
    found: list[type[Model]] = []
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for model in getattr(module, "MODELS", ()):
            found.append(model)
    return found


def create_tables(wait: bool = True, empty: bool = False) -> None:
    """Create every table that does not exist yet (local AWS and tests); ``empty``: none exists (a
    just-reset local AWS, whose tables are active at once), so neither look nor wait."""
    for model in all_models():
        if empty:
            model.create_table(wait=False, billing_mode="PAY_PER_REQUEST")
        elif not model.exists():
            model.create_table(wait=wait, billing_mode="PAY_PER_REQUEST")


_connection: Connection | None = None


def connection() -> Connection:
    """The container's one low-level connection: every model's and the transactions'."""
    global _connection
    if _connection is None:
        conf = settings()
        _connection = Connection(region=conf.region, host=conf.dynamodb_endpoint)
    return _connection


class SharedTableConnection(TableConnection):
    """A model's table connection over the container's one ``Connection`` (one botocore client).

    PynamoDB gives each model a connection of its own, and each creates a botocore session and client
    on first use: about 10 MB and tens of milliseconds per model, paid again by every cold container.
    """

    def __init__(self, table_name: str, *args: Any, meta_table: Any = None, **kwargs: Any) -> None:
        self.table_name = table_name
        self.connection = connection()
        if meta_table is not None and table_name not in self.connection._tables:
            self.connection.add_meta_table(meta_table)


# PynamoDB builds a model's connection with the ``TableConnection`` name of its models module.
pynamodb.models.TableConnection = SharedTableConnection  # type: ignore[misc]


def transaction() -> TransactWrite:
    """A write transaction; use as a context manager."""
    return TransactWrite(connection=connection())


def get_or_404(
    model: type[M], hash_key: Any, range_key: Any = None, *, missing: str, consistent_read: bool = False
) -> M:
    """``model.get(hash_key, range_key)``, or a 404 saying ``missing`` when there is no such item."""
    try:
        return model.get(hash_key, range_key, consistent_read=consistent_read)
    except DoesNotExist:
        raise NotFound(missing) from None


def condition_failed(error: Exception) -> bool:
    """Whether a PynamoDB write (put, update, delete) failed its condition."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def cancelled_by_condition(error: TransactWriteError, index: int) -> bool:
    """Whether action ``index`` of a cancelled transaction failed its condition."""
    reasons = error.cancellation_reasons or []
    return (
        index < len(reasons)
        and reasons[index] is not None
        and (reasons[index].code == "ConditionalCheckFailed")
    )


#: Attempts of a transaction DynamoDB cancels because another one was writing the same item.
TRANSACTION_ATTEMPTS = 8


def transaction_conflict(error: TransactWriteError) -> bool:
    """Whether DynamoDB cancelled the transaction because another transaction was writing one of
    its items at the same moment (``TransactionConflict``): nothing was written, trying again is safe."""
    return any(
        reason is not None and reason.code == "TransactionConflict"
        for reason in error.cancellation_reasons or []
    )


def backoff(attempt: int) -> None:
    """A short random pause before retrying a conflicted transaction."""
    time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 5)))


def run_transaction(write: Callable[[TransactWrite], None]) -> None:
    """Run ``write(tx)`` in one transaction, again (after a ``backoff``) when DynamoDB cancels it for
    a conflicting one, up to ``TRANSACTION_ATTEMPTS`` times. Any other ``TransactWriteError`` (a
    failed condition: see ``cancelled_by_condition``) reaches the caller; nothing was written then."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            with transaction() as tx:
                write(tx)
            return
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            failed = any(cancelled_by_condition(error, index) for index in range(len(reasons)))
            if failed or not transaction_conflict(error) or attempt + 1 == TRANSACTION_ATTEMPTS:
                raise
            backoff(attempt)


def batch_delete(items: Iterable[Model]) -> int:
    """Delete ``items`` (of any models) in batches; returns how many were deleted."""
    by_model: dict[type[Model], list[Model]] = {}
    for item in items:
        by_model.setdefault(type(item), []).append(item)
    count = 0
    for model, group in by_model.items():
        with model.batch_write() as batch:
            for item in group:
                batch.delete(item)
                count += 1
    return count


def page(items: Iterator[Any], start: int, size: int | None) -> list[Any]:
    """Skip ``start`` items of an iterator and take at most ``size`` (all when None)."""
    out: list[Any] = []
    for position, item in enumerate(items):
        if position < start:
            continue
        if size is not None and len(out) >= size:
            break
        out.append(item)
    return out
