"""``make cost``: dollars per million requests at AWS list prices (``bench/prices.py``), from the
operations and durations measured per request against the local AWS, next to CodeArtifact's.

Per route it measures, over real HTTP through the local gateway (as ``make bench`` does):

- DynamoDB request units, from every operation PynamoDB dispatches (``capacity_units``): a read of up
  to 4 KB is 0.5 unit (eventually consistent) or 1 (consistent), a write of up to 1 KB is 1 unit, by
  the larger of the item before and after (read around each write, uncounted, the reads' time taken
  off the durations), plus one per secondary-index entry it adds, changes or removes (``units_of``),
  transactional ones count twice, item sizes estimated from their JSON;
- S3 and SQS requests, at the application's boto3 clients;
- the work the request leaves for later: the queued messages it sent are delivered to their consumers
  (download events, lifecycle events) in batches of 10 as Lambda's SQS event source does, measuring
  their DynamoDB units, SQS receive + delete, Lambda invocations and durations;
- API Gateway: HTTP API requests, each metered in 512 KB increments of the request as sent (request
  line, headers, body);
- Lambda duration: the mean client-side latency through the gateway (an upper bound: it includes the
  local AWS and the gateway), billed at the API function's configured memory (``.chalice/config.json``,
  stage ``prod``, Chalice's default 128 MB when unset).

The public download through the CDN: CloudFront answers ``/dl/*`` from the S3 copy (one HTTPS request,
modelled), fetching from S3 on a miss (one GET, no transfer charge from S3 to CloudFront), at the stated
hit ratio; its statistics are measured: a CloudFront log file of ``--log-lines`` lines (a hot file,
and a long tail of one package per line) delivered, read by the ``cdn_logs`` job, its parts recorded
by the events consumer and rolled up (``cdn_download``).

The download-log job (``chalicelib/download_logs``, Premium packages only; not in the rows): one run
measured before and after a Premium subject's packages are downloaded (``download_log_job``), priced
per download for a package downloaded once a day and for a hot one (``--log-job-only`` alone).

Run: ``make cost`` (or ``.venv/bin/python -m bench.cost --runs 20 --hit-ratio 0.9``; ``--only upload``:
only the routes whose name contains it, without the download-log job).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import prices
from bench.__main__ import ADMIN, aws_calls, check, start

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Units:
    """DynamoDB request units."""

    read: float = 0.0
    write: float = 0.0
    #: Time ``capacity_units`` spent outside the operations (its uncounted reads): not the application's.
    probe_seconds: float = 0.0


@dataclass
class Usage:
    """What ``runs`` requests of one route used, in total (divide by ``runs`` for one request)."""

    route: str
    runs: int = 0
    api_gateway: int = 0  # requests through API Gateway and the API function
    api_gateway_billed: int = 0  # the requests the HTTP API bills for them (512 KB increments)
    lambda_seconds: float = 0.0  # billed duration of the API function
    background_invocations: int = 0  # consumer invocations (batches) the requests caused
    background_seconds: float = 0.0
    units: Units = field(default_factory=Units)  # of the requests
    background_units: Units = field(default_factory=Units)  # of the consumers
    sqs: int = 0  # requests' sends and the consumers' receive, delete and sends
    s3_put: int = 0
    s3_get: float = 0
    cloudfront: int = 0
    rollup_writes: int = 0  # CDN rows: the aggregate rows the rollup wrote for the log file


def _size(value: Any) -> int:
    """The approximate stored size of a DynamoDB item or key (its JSON)."""
    return len(json.dumps(value, default=str)) if value else 0


def _read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


@dataclass(frozen=True)
class _Index:
    """A secondary index of a table: its key attributes and what it projects (None: every attribute)."""

    keys: tuple[str, ...]
    projected: frozenset[str] | None

    def entry(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        """The index entry of ``item`` (None when the item lacks an index key: not in the index)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projected is None:
            return item
        return {name: value for name, value in item.items() if name in self.projected}


@dataclass(frozen=True)
class _Table:
    keys: tuple[str, ...]
    indexes: tuple[_Index, ...]


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, _Table]:
    """The application's tables by name, with their key attributes and secondary indexes (from the
    PynamoDB models; tables shared by several models get the union of their indexes)."""
    from pynamodb.indexes import AllProjection, IncludeProjection

    from chalicelib.db import all_models

    tables: dict[str, _Table] = {}
    for model in all_models():
        keys = tuple(name for name in (model._hash_keyname, model._range_keyname) if name)
        found = {index: None for index in tables.get(model.Meta.table_name, _Table(keys, ())).indexes}
        for index in model._indexes.values():
            attributes = index.Meta.attributes.values()
            index_keys = tuple(a.attr_name for a in attributes if a.is_hash_key) + tuple(
                a.attr_name for a in attributes if a.is_range_key
            )
            projection = index.Meta.projection
            projected: frozenset[str] | None = None
            if not isinstance(projection, AllProjection):
                extra = projection.non_key_attributes if isinstance(projection, IncludeProjection) else []
                projected = frozenset((*keys, *index_keys, *(extra or [])))
            found[_Index(index_keys, projected)] = None
        tables[model.Meta.table_name] = _Table(keys, tuple(found))
    return tables


def _key_id(table: str, key: dict[str, Any]) -> tuple[str, str]:
    return table, json.dumps(key, sort_keys=True, default=str)


def _key_of(table: str, item: dict[str, Any]) -> dict[str, Any] | None:
    known = _tables().get(table)
    if known is None or any(name not in item for name in known.keys):
        return None
    return {name: item[name] for name in known.keys}


#: The DynamoDB operations that write items.
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
#: What a write found and left: ``_key_id`` -> (the item before, the item after), None where absent.
Stored = dict[tuple[str, str], tuple[dict[str, Any] | None, dict[str, Any] | None]]


def _writes(operation: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each item write of an operation: (kind Put/Update/Delete, its request, with TableName)."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        yield operation[: -len("Item")], kwargs
    elif operation == "BatchWriteItem":
        for table, requests in kwargs.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    yield "Put", {"TableName": table, **request["PutRequest"]}
                elif "DeleteRequest" in request:
                    yield "Delete", {"TableName": table, **request["DeleteRequest"]}
    elif operation == "TransactWriteItems":
        for item in kwargs.get("TransactItems", []):
            for kind in ("Put", "Update", "Delete"):
                if kind in item:
                    yield kind, item[kind]


def _written_key(kind: str, request: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "Put":
        return _key_of(request.get("TableName", ""), request.get("Item") or {})
    return request.get("Key")


def _updated_attributes(request: dict[str, Any]) -> dict[str, Any]:
    """The top-level attributes an update expression sets or adds, with their value where it is a
    plain ``:value`` (else the first ``:value`` of the expression): an estimate of the written item."""
    names = request.get("ExpressionAttributeNames", {})
    values = request.get("ExpressionAttributeValues", {})
    expression = request.get("UpdateExpression", "")
    found: dict[str, Any] = {}
    parts = re.split(r"\b(SET|REMOVE|ADD|DELETE)\s", expression, flags=re.IGNORECASE)
    for keyword, body in zip(parts[1::2], parts[2::2], strict=False):
        if keyword.upper() not in ("SET", "ADD"):
            continue
        depth, start, actions = 0, 0, []
        for position, char in enumerate(body):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "," and depth == 0:
                actions.append(body[start:position])
                start = position + 1
        actions.append(body[start:])
        for action in actions:
            target, _, rest = (
                action.partition("=") if keyword.upper() == "SET" else action.strip().partition(" ")
            )
            name = re.split(r"[.\[]", target.strip(), maxsplit=1)[0]
            name = names.get(name, name)
            placeholders = re.findall(r":\w+", rest)
            found[name] = values.get(placeholders[0]) if placeholders else None
    return found


def _item_write_units(
    table: str, before: dict[str, Any] | None, after: dict[str, Any] | None, partial: bool = False
) -> float:
    """An item write in ``table``: the larger of the item before and after, 1 KB units, and one write
    per index entry added, changed or removed (a changed index key: a delete and a put, two), sized by
    its entry. ``partial``: ``after`` holds only the key and the attributes an update sets (the item's
    other attributes unknown): an index counts once, sized by ``after``, when the update sets its hash key."""
    units = _write_units(max(_size(before), _size(after)))
    for index in _tables().get(table, _Table((), ())).indexes:
        if partial:
            if after and index.keys[0] in after:
                units += _write_units(_size(after))
            continue
        old, new = index.entry(before), index.entry(after)
        if old is None and new is None:
            continue
        if old is None or new is None:
            units += _write_units(_size(old or new))
        elif any(old[key] != new[key] for key in index.keys):
            units += _write_units(_size(old)) + _write_units(_size(new))
        elif old != new:
            units += _write_units(_size(new))
    return units


def _estimate(kind: str, request: dict[str, Any], response: dict[str, Any]) -> tuple[Any, Any, bool]:
    """(before, after, partial) of a write from its request and response alone (no stored items)."""
    returned = response.get("Attributes")
    asked = request.get("ReturnValues", "NONE")
    if kind == "Put":
        return (returned if asked == "ALL_OLD" else None), request.get("Item"), False
    if kind == "Delete":
        return (returned if asked == "ALL_OLD" else request.get("Key")), None, False
    if returned and asked == "ALL_NEW":
        return None, returned, False
    if returned and asked == "ALL_OLD":
        return returned, {**returned, **_updated_attributes(request)}, False
    return None, {**_updated_attributes(request), **request.get("Key", {})}, True


def units_of(
    operation: str, kwargs: dict[str, Any], response: dict[str, Any], stored: Stored | None = None
) -> Units:
    """The request units of one DynamoDB operation (see the module docstring).

    Writes (PutItem, UpdateItem, DeleteItem, and each item of BatchWriteItem and TransactWriteItems) are
    billed by the larger of the item's size before and after, in 1 KB units, plus one write per
    secondary index (global or local) whose entry the write adds, changes or removes (two when it changes
    the index key: a delete and a put), sized by the projected entry. An item is in an index when it has
    every key attribute of the index. Transactional writes count twice, index writes included.

    ``stored``: the items as they were before and after each write (``capacity_units`` reads them,
    uncounted); exact. Without it, estimated from the request and response: a PutItem replaced nothing;
    an UpdateItem's item is its ``ReturnValues`` (``ALL_NEW``, what PynamoDB asks for, taken as what it
    added; ``ALL_OLD``: the item before, and after it the same with the attributes it sets) or else its
    key and the attributes it sets, an index counted once when the update sets the index's hash key;
    a DeleteItem removed its ``ALL_OLD`` item, else only its key (so no index)."""
    consistent = bool(kwargs.get("ConsistentRead"))
    if operation == "GetItem":
        return Units(read=_read_units(_size(response.get("Item")), consistent))
    if operation in ("Query", "Scan"):
        return Units(read=_read_units(sum(_size(i) for i in response.get("Items", [])), consistent))
    if operation == "BatchGetItem":
        read = 0.0
        for table, items in response.get("Responses", {}).items():
            strong = bool(kwargs.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
            read += sum(_read_units(_size(item), strong) for item in items)
        return Units(read=read)
    if operation in WRITE_OPERATIONS:
        units = Units()
        single = operation.endswith("Item") and operation != "BatchWriteItem"
        factor = 2.0 if operation == "TransactWriteItems" else 1.0
        for kind, request in _writes(operation, kwargs):
            table = request.get("TableName", "")
            key = _written_key(kind, request)
            if stored is not None and key is not None and _key_id(table, key) in stored:
                before, after = stored[_key_id(table, key)]
                partial = False
            else:
                before, after, partial = _estimate(kind, request, response if single else {})
            units.write += factor * _item_write_units(table, before, after, partial)
        for item in kwargs.get("TransactItems", []) if operation == "TransactWriteItems" else []:
            if "ConditionCheck" in item:
                units.read += 2.0
        return units
    if operation == "TransactGetItems":
        return Units(read=2.0 * len(kwargs.get("TransactItems", [])))
    return Units()  # DescribeTable and other control-plane calls: not billed per request


def _stored_items(client: Any, operation: str, kwargs: dict[str, Any], before: Stored | None) -> Stored:
    """The items the writes of an operation touch, read with ``client`` (uncounted, consistent): with
    ``before`` None, as they are (before the write); else the same keys again, after it (a PutItem's
    item is its ``Item``, a DeleteItem's none, an UpdateItem's its ``ALL_NEW`` attributes when returned)."""
    stored: Stored = {}
    for kind, request in _writes(operation, kwargs):
        table = request.get("TableName", "")
        key = _written_key(kind, request)
        if key is None or table not in _tables():
            continue
        identity = _key_id(table, key)
        if before is not None and kind == "Put":
            stored[identity] = (before.get(identity, (None, None))[0], request.get("Item"))
        elif before is not None and kind == "Delete":
            stored[identity] = (before.get(identity, (None, None))[0], None)
        else:
            item = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
            stored[identity] = (before[identity][0], item) if before is not None else (item, None)
    return stored


@contextmanager
def capacity_units() -> Iterator[Units]:
    """Sum the request units of every DynamoDB operation PynamoDB dispatches inside the block.

    Around each write it reads the written items before and after (GetItem on the botocore client, not
    counted), so that writes are billed by the items' real sizes and index entries (``units_of``'s
    ``stored``). The time it spends outside the operations themselves (those reads, its arithmetic) is
    ``Units.probe_seconds``, wall-clock (overlapping spans of concurrent threads counted once): the
    callers take it off the durations they measure."""
    import threading

    from pynamodb.connection.base import Connection

    total = Units()
    original = Connection.dispatch
    lock = threading.Lock()
    counted_until = [0.0]  # the end of the last span added to ``probe_seconds``

    def add_span(started: float) -> None:
        ended = time.perf_counter()
        with lock:
            total.probe_seconds += max(0.0, ended - max(started, counted_until[0]))
            counted_until[0] = max(counted_until[0], ended)

    def counting(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict:
        stored: Stored | None = None
        started = time.perf_counter()
        if operation_name in WRITE_OPERATIONS:
            stored = _stored_items(self.client, operation_name, operation_kwargs, None)
        add_span(started)
        response = original(self, operation_name, operation_kwargs)
        started = time.perf_counter()
        if stored is not None:
            returned = (response or {}).get("Attributes")
            if (
                operation_name == "UpdateItem"
                and operation_kwargs.get("ReturnValues") == "ALL_NEW"
                and returned
            ):
                identity = _key_id(operation_kwargs["TableName"], operation_kwargs["Key"])
                stored = {identity: (stored.get(identity, (None, None))[0], returned)}
            else:
                stored = _stored_items(self.client, operation_name, operation_kwargs, stored)
        used = units_of(operation_name, operation_kwargs, response or {}, stored)
        with lock:
            total.read += used.read
            total.write += used.write
        add_span(started)
        return response

    Connection.dispatch = counting  # type: ignore[method-assign]
    try:
        yield total
    finally:
        Connection.dispatch = original  # type: ignore[method-assign]


def api_memory_mb() -> int:
    """The API function's configured memory (stage ``prod`` of ``.chalice/config.json``)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    prod = config.get("stages", {}).get("prod", {})
    api = prod.get("lambda_functions", {}).get("api_handler", {})
    return int(api.get("lambda_memory_size") or prod.get("lambda_memory_size") or 128)


def deliver_queued(usage: Usage, clients: dict[str, Any]) -> None:
    """Deliver every queued message to its consumer in batches of 10, adding what that used."""
    import app as app_module
    from chalicelib import eventbus, queues
    from infra.local.gateway import LambdaContext

    consumers = {
        queues.EVENTS: eventbus.lifecycle_events,
        queues.UPLOAD_EVENTS: app_module.upload_events,
    }
    sqs = queues.sqs()
    delivered = True
    while delivered:
        delivered = False
        for short, consumer in consumers.items():
            url = queues.queue_url(short)
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                continue
            delivered = True
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": {},
                        "messageAttributes": {},
                        "eventSource": "aws:sqs",
                        "eventSourceARN": f"arn:aws:sqs:us-east-1:000000000000:{queues.queue_name(short)}",
                        "awsRegion": "us-east-1",
                    }
                    for m in messages
                ]
            }
            with capacity_units() as units, aws_calls(clients) as calls:
                started = time.perf_counter()
                consumer(event, LambdaContext())
                usage.background_seconds += _billed(time.perf_counter() - started - units.probe_seconds)
            usage.background_invocations += 1
            usage.background_units.read += units.read
            usage.background_units.write += units.write
            usage.sqs += 2 + sum(calls["sqs"].values())  # the event source's receive and delete
            usage.s3_put += sum(n for op, n in calls["s3"].items() if op.startswith(("Put", "Copy")))
            usage.s3_get += sum(n for op, n in calls["s3"].items() if not op.startswith(("Put", "Copy")))
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def _request_bytes(request: Any) -> int:
    """The size of a sent request (request line, headers, body): what an HTTP API meters."""
    body = request.body or b""
    headers = sum(len(f"{k}: {v}\r\n") for k, v in request.headers.items())
    return len(f"{request.method} {request.path_url} HTTP/1.1\r\n") + headers + len(body)


def _billed(seconds: float) -> float:
    """Lambda bills duration per millisecond, rounded up."""
    return math.ceil(seconds * 1000) / 1000


def measure(base: str, runs: int, only: str = "") -> list[Usage]:
    """Run each route ``runs`` times and deliver what it queued; the usage of each (``only``: the routes
    whose name contains it)."""
    import requests

    from chalicelib import queues, storage

    http = requests.Session()
    user = f"cost-{uuid.uuid4().hex[:8]}"
    body = {"email": f"{user}@example.com", "plan": "premium"}
    key = check(http.put(f"{base}/api/security/users/{user}", auth=ADMIN, json=body), 201).json()["api_key"]
    auth = (user, key)
    for repo, private in (("public", False), ("private", True)):
        settings = {"type": "generic", "private": private}
        check(http.post(f"{base}/repos/{user}/{repo}", auth=auth, json=settings), 201)
        package = {"name": "tool", "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
        check(http.post(f"{base}/packages/{user}/{repo}", auth=auth, json=package), 201)
        url = f"{base}/content/{user}/{repo}/tool/1.0/tool-1.0.bin;publish=1"
        check(http.put(url, auth=auth, data=os.urandom(1024)), 201)
    listed = {"name": "listed", "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
    check(http.post(f"{base}/packages/{user}/public", auth=auth, json=listed), 201)
    for i in range(10):
        url = f"{base}/content/{user}/public/listed/1.0/f{i}.bin;publish=1"
        check(http.put(url, auth=auth, data=os.urandom(1024)), 201)
    clients = {"s3": storage.s3(), "sqs": queues.sqs()}
    for short in (queues.EVENTS, queues.UPLOAD_EVENTS):
        queues.queue_url(short)  # resolved once per container, like the deployed code
    content = f"{base}/content/{user}/public"

    def upload(i: int) -> Callable[[], Any]:
        data = os.urandom(1024)
        return lambda: check(http.put(f"{content}/tool/1.0/small-{i}.bin", auth=auth, data=data), 201)

    def publish(i: int) -> Callable[[], Any]:
        check(http.put(f"{content}/tool/p{i}/p{i}.bin", auth=auth, data=os.urandom(1024)), 201)
        return lambda: check(http.post(f"{content}/tool/p{i}/publish", auth=auth, json={}), 200)

    def private_download(i: int) -> Callable[[], Any]:
        url = f"{base}/content/{user}/private/tool-1.0.bin"
        return lambda: check(http.get(url, auth=auth, allow_redirects=False), 302)

    def public_download_api(i: int) -> Callable[[], Any]:
        url = f"{base}/dl/{user}/public/tool-1.0.bin"
        return lambda: check(http.get(url, allow_redirects=False), 302)

    def listing(i: int) -> Callable[[], Any]:
        return lambda: check(http.get(f"{base}/packages/{user}/public/listed/files"), 200)

    scenarios = [
        ("upload 1 KiB (PUT /content)", upload),
        ("publish 1 file (POST .../publish)", publish),
        ("private download (GET /content, authenticated, 302 to S3)", private_download),
        ("public download through the API (GET /dl, anonymous, 302 to S3)", public_download_api),
        ("package files listing (GET /packages/.../files, 10 files, anonymous)", listing),
    ]
    deliver_queued(Usage("set-up"), clients)  # what the set-up queued is not the routes'
    results = []
    for route, prepare in scenarios:
        if only not in route:
            continue
        usage = Usage(route, runs=runs)
        requests_ = [prepare(i) for i in range(runs)]
        deliver_queued(Usage("preparation"), clients)
        seconds = []
        for request in requests_:
            with capacity_units() as units, aws_calls(clients) as calls:
                started = time.perf_counter()
                response = request()
                seconds.append(time.perf_counter() - started - units.probe_seconds)
            usage.api_gateway_billed += prices.http_api_requests(_request_bytes(response.request))
            usage.units.read += units.read
            usage.units.write += units.write
            usage.sqs += sum(calls["sqs"].values())
            usage.s3_put += sum(n for op, n in calls["s3"].items() if op.startswith(("Put", "Copy")))
            usage.s3_get += sum(n for op, n in calls["s3"].items() if not op.startswith(("Put", "Copy")))
        # Consumers get the messages in batches of up to 10, as Lambda's SQS event source sends them
        # under a steady load.
        deliver_queued(usage, clients)
        usage.api_gateway = runs
        usage.lambda_seconds = sum(_billed(s) for s in seconds)
        if route.startswith(("private download", "public download")):
            usage.s3_get += runs  # the client then fetches the object from S3 (the presigned GET)
        results.append(usage)
    return results


def serving_only(usage: Usage) -> Usage:
    """``usage`` without what its consumers used (the SQS messages sent by the request remain)."""
    sent = usage.sqs - 2 * usage.background_invocations  # each consumer batch: receive + delete
    return Usage(
        usage.route,
        runs=usage.runs,
        api_gateway=usage.api_gateway,
        api_gateway_billed=usage.api_gateway_billed,
        lambda_seconds=usage.lambda_seconds,
        units=usage.units,
        sqs=max(0, sent),
        s3_put=usage.s3_put,
        s3_get=usage.s3_get,
        cloudfront=usage.cloudfront,
    )


def dollars(usage: Usage, memory_mb: int) -> dict[str, float]:
    """Cost of one million requests of ``usage``, by part."""
    per = prices.MILLION / usage.runs
    gb = memory_mb / 1024
    invocations = usage.api_gateway + usage.background_invocations
    return {
        "API Gateway": usage.api_gateway_billed * per * prices.API_GATEWAY_HTTP_PER_MILLION / prices.MILLION,
        "Lambda": (
            invocations * per * prices.LAMBDA_PER_MILLION_REQUESTS / prices.MILLION
            + (usage.lambda_seconds + usage.background_seconds) * per * gb * prices.LAMBDA_PER_GB_SECOND
        ),
        "DynamoDB": (
            (usage.units.read + usage.background_units.read) * per * prices.DYNAMODB_PER_MILLION_RRU
            + (usage.units.write + usage.background_units.write) * per * prices.DYNAMODB_PER_MILLION_WRU
        )
        / prices.MILLION,
        "SQS": usage.sqs * per * prices.SQS_PER_MILLION_REQUESTS / prices.MILLION,
        "S3": (usage.s3_put * prices.S3_PUT_PER_MILLION + usage.s3_get * prices.S3_GET_PER_MILLION)
        * per
        / prices.MILLION,
        "CloudFront": usage.cloudfront * per * prices.CLOUDFRONT_HTTPS_PER_MILLION / prices.MILLION,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="requests per route (default 20)")
    parser.add_argument("--hit-ratio", type=float, default=0.9, help="CDN cache hit ratio (default 0.9)")
    parser.add_argument(
        "--log-lines", type=int, default=LOG_LINES, help=f"lines per CDN log file (default {LOG_LINES})"
    )
    parser.add_argument("--log-job-only", action="store_true", help="only the download-log job's figures")
    parser.add_argument("--only", default="", help="only the routes whose name contains this (e.g. upload)")
    args = parser.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    base = start()
    # First: the other rows' downloads (some recorded in buckets ahead of the clock) would be
    # rewritten by the job's runs too. Not with --only (its rows only).
    log_job = None if args.only else download_log_job(base)
    if args.log_job_only:
        assert log_job is not None, "--log-job-only and --only exclude each other"
        print_download_log_job(log_job)
        return
    measured = measure(base, args.runs, args.only)
    memory = api_memory_mb()
    cdn_rows = []
    if args.only in "public download through the CDN":  # "" (every row) or a part of it
        user = _cdn_user(base)
        cdn_rows = [cdn_download(user, args.hit_ratio, s, args.log_lines) for s in ("hot", "tail")]
    rows = [*cdn_rows, *measured]

    print(f"\nDollars per million requests, AWS list prices {prices.REGION} as of {prices.PRICES_AS_OF}")
    print(f"(API function {memory} MB; {args.runs} requests per route; CDN hit ratio {args.hit_ratio:.0%})\n")
    parts = ["API Gateway", "Lambda", "DynamoDB", "SQS", "S3", "CloudFront"]
    print("| route | " + " | ".join(parts) + " | total | of which consumers | CodeArtifact | target |")
    print("|---|" + "---|" * (len(parts) + 4))
    for usage in rows:
        cost = dollars(usage, memory)
        total = sum(cost.values())
        consumers = total - sum(dollars(serving_only(usage), memory).values())
        target = 1.2 if usage in cdn_rows else 4.0
        verdict = "OK" if total <= target else f"over by ${total - target:.2f}"
        cells = " | ".join(f"${cost[p]:.3f}" for p in parts)
        print(
            f"| {usage.route} | {cells} | **${total:.2f}** | ${consumers:.2f} | "
            f"${prices.CODEARTIFACT_PER_MILLION_REQUESTS:.2f} | ≤ ${target:.1f}: {verdict} |"
        )
    print("\nPer request (mean):\n")
    print(
        "| route | DynamoDB RRU (request + consumers) | DynamoDB WRU (request + consumers) | SQS requests "
        "| S3 PUT | S3 GET | API function ms | consumer invocations | consumer ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for u in rows:
        n = u.runs
        print(
            f"| {u.route} | {u.units.read / n:.3g} + {u.background_units.read / n:.3g} | "
            f"{u.units.write / n:.3g} + {u.background_units.write / n:.3g} | {u.sqs / n:.3g} | "
            f"{u.s3_put / n:.3g} | {u.s3_get / n:.3g} | {u.lambda_seconds / n * 1000:.1f} | "
            f"{u.background_invocations / n:.3g} | {u.background_seconds / n * 1000:.1f} |"
        )
    for u in cdn_rows:
        print(f"\n{u.route}: {u.rollup_writes / u.runs:.3g} aggregate row writes per download.")
    rest_extra = prices.API_GATEWAY_REST_PER_MILLION - prices.API_GATEWAY_HTTP_PER_MILLION
    edge = prices.LAMBDA_EDGE_PER_MILLION_REQUESTS + prices.LAMBDA_EDGE_PER_GB_SECOND * 0.125 * 0.001 * 1e6
    print(
        f"\nAPI rows: API Gateway HTTP API ${prices.API_GATEWAY_HTTP_PER_MILLION:.2f} per million requests "
        f"(512 KB increments; REST would add ${rest_extra:.2f}), requests to ApiUrl. Through the CDN URL "
        f"add CloudFront ${prices.CLOUDFRONT_HTTPS_PER_MILLION:.2f}, and on the paths that take uploads "
        f"(/content, /maven, /npm, ...: not infra.cloudformation.NO_UPLOAD_PATHS) the upload front's "
        f"Lambda@Edge ${edge:.2f} (1 ms at 128 MB)."
    )
    print(
        f"\nTransfer out per GB: CloudFront ${prices.CLOUDFRONT_TRANSFER_PER_GB}, S3 (redirect downloads) "
        f"${prices.S3_TRANSFER_PER_GB}, CodeArtifact ${prices.CODEARTIFACT_TRANSFER_PER_GB}."
    )
    if log_job is not None:
        print_download_log_job(log_job)


# --- the download-log job ---------------------------------------------------------------------------

#: Packages downloaded once, and downloads of one hot package, in the measured run.
LOG_JOB_PACKAGES = 20
LOG_JOB_HOT_DOWNLOADS = 50
#: Hourly runs that read one download's event: the later runs of its day (12 on average) and the next
#: day's 3 until the day is final (``GRACE``, 2 h: the runs at 00:xx, 01:xx, 02:xx still rewrite it).
LOG_RUNS_PER_EVENT = 15
#: Files written a day for a package downloaded between every two hourly runs: today's on each of the
#: 24 runs, yesterday's once more on the first run after midnight.
HOT_FILES_PER_DAY = 25
#: Downloads a day of the hot package priced (it has downloads between every two runs).
HOT_PER_DAY = 10_000


@dataclass
class LogJobRun:
    """What the downloads added to one run of the job (the run after them minus a run before them)."""

    files: int = 0  # files written (one per package downloaded)
    events: int = 0  # download events newly read
    event_read_units: float = 0.0  # ``bucket_index`` Query units of those events
    event_bytes: int = 0  # their items' size (JSON): the units without each Query's rounding up
    file_read_units: float = 0.0  # the other reads: package GetItems, the owner's plan
    s3_requests: int = 0  # PUT and LIST (both billed at the PUT price; DELETE is free)
    seconds: float = 0.0  # the run's extra duration against the local AWS (an upper bound)

    def minus(self, before: LogJobRun, events: int) -> LogJobRun:
        """What this run did beyond ``before``, for ``events`` downloads made between the two."""
        return LogJobRun(
            files=self.files - before.files,
            events=events,
            event_read_units=self.event_read_units - before.event_read_units,
            event_bytes=self.event_bytes - before.event_bytes,
            file_read_units=self.file_read_units - before.file_read_units,
            s3_requests=self.s3_requests - before.s3_requests,
            seconds=max(0.0, self.seconds - before.seconds),
        )


def _job_run(clients: dict[str, Any]) -> LogJobRun:
    """What one run of the job did (``events``: 0, the caller knows how many downloads it made)."""
    from pynamodb.connection.base import Connection

    from chalicelib.download_logs import services

    event_units, other_units = Units(), Units()
    event_bytes = 0
    original = Connection.dispatch

    def counting(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict:
        response = original(self, operation_name, operation_kwargs)
        events = operation_name == "Query" and operation_kwargs.get("IndexName", "").endswith("bucket_index")
        used = units_of(operation_name, operation_kwargs, response or {})
        if events:
            nonlocal event_bytes
            event_bytes += sum(_size(item) for item in (response or {}).get("Items", []))
        (event_units if events else other_units).read += used.read
        return response

    Connection.dispatch = counting  # type: ignore[method-assign]
    try:
        with aws_calls(clients) as calls:
            started = time.perf_counter()
            files = services.run().files
            seconds = time.perf_counter() - started
    finally:
        Connection.dispatch = original  # type: ignore[method-assign]
    return LogJobRun(
        files=files,
        event_read_units=event_units.read,
        event_bytes=event_bytes,
        file_read_units=other_units.read,
        s3_requests=sum(n for op, n in calls["s3"].items() if op.startswith(("Put", "List"))),
        seconds=seconds,
    )


def download_log_job(base: str) -> LogJobRun:
    """Measure what downloads of a Premium subject's packages add to a run of the download-log job:
    ``LOG_JOB_PACKAGES`` packages downloaded once and one downloaded ``LOG_JOB_HOT_DOWNLOADS`` times
    (through the API: one ``DownloadEvent`` each), by running the job before and after them. Run it
    before the other rows: their downloads would be written by those runs too."""
    import requests

    from chalicelib import queues, storage

    http = requests.Session()
    user, auth = _premium_user(http, base, "logs")
    for i in range(LOG_JOB_PACKAGES + 1):
        _publish(http, base, auth, f"p{i}", f"p{i}.bin")
    clients = {"s3": storage.s3(), "sqs": queues.sqs()}
    deliver_queued(Usage("set-up"), clients)
    _job_run(clients)  # what earlier rows downloaded is written
    before = _job_run(clients)  # the same day's events read again, nothing written
    paths = [f"p{i}.bin" for i in range(LOG_JOB_PACKAGES)] + ["p20.bin"] * LOG_JOB_HOT_DOWNLOADS
    for path in paths:
        check(http.get(f"{base}/dl/{user}/public/{path}", allow_redirects=False), 302)
    deliver_queued(Usage("downloads"), clients)
    return _job_run(clients).minus(before, events=len(paths))


def log_job_dollars(run: LogJobRun, downloads_per_day: int) -> dict[str, float]:
    """Dollars per million downloads of a package downloaded ``downloads_per_day`` times a day: its
    files (``HOT_FILES_PER_DAY`` at most, one per run with new downloads) shared by its downloads, and
    each download's event read by ``LOG_RUNS_PER_EVENT`` runs. Duration at 128 MB (the job's memory)."""
    files = min(downloads_per_day, HOT_FILES_PER_DAY) / downloads_per_day  # per download
    per_file = 1 / run.files
    per_event = 1 / run.events
    gb = 128 / 1024
    return {
        "S3": files * run.s3_requests * per_file * prices.S3_PUT_PER_MILLION,
        "DynamoDB": (
            files * run.file_read_units * per_file + LOG_RUNS_PER_EVENT * run.event_read_units * per_event
        )
        * prices.DYNAMODB_PER_MILLION_RRU,
        "Lambda": files * run.seconds * per_file * gb * prices.LAMBDA_PER_GB_SECOND * prices.MILLION,
    }


def print_download_log_job(run: LogJobRun) -> None:
    print(
        f"\nDownload-log job (Premium packages only), per million downloads; measured: {run.files} files, "
        f"{run.events} events: per file {run.s3_requests / run.files:.3g} S3 PUT+LIST, "
        f"{run.file_read_units / run.files:.3g} RRU, {run.seconds / run.files * 1000:.1f} ms (local AWS); "
        f"per event read {run.event_read_units / run.events:.3g} RRU "
        f"({run.event_bytes / run.events:.0f} bytes: {run.event_bytes / run.events / 8192:.3g} RRU in full "
        f"Query pages), read by {LOG_RUNS_PER_EVENT} runs\n"
    )
    print("| package | S3 | DynamoDB | Lambda | total |")
    print("|---|---|---|---|---|")
    for label, per_day in (
        ("downloaded once a day", 1),
        (f"hot ({HOT_PER_DAY:,} downloads a day)", HOT_PER_DAY),
    ):
        cost = log_job_dollars(run, per_day)
        cells = " | ".join(f"${cost[p]:.3f}" for p in ("S3", "DynamoDB", "Lambda"))
        print(f"| {label} | {cells} | **${sum(cost.values()):.2f}** |")


#: Lines of the CloudFront log file the CDN rows read (``--log-lines``), and the edge addresses.
LOG_LINES = 1000
LOG_ADDRESSES = ("81.2.69.160", "8.8.8.8", "5.9.0.1", "133.242.0.1", "1.1.1.1", "200.160.2.3")
LOG_BUCKET = "shelf-bench-cdn-logs"


def _log_file(paths: list[str], minutes: int = 5) -> bytes:
    """A CloudFront standard log file (gzip) of one ``GET 200`` per path, over ``minutes``."""
    import gzip

    from chalicelib.timefmt import now

    fields = (
        "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
        "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
        "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
        "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
        "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
    )
    start = now()
    out = ["#Version: 1.0", f"#Fields: {fields}"]
    for i, path in enumerate(paths):
        at = start.timestamp() - minutes * 60 * (1 - i / len(paths))
        stamp = time.strftime("%Y-%m-%d\t%H:%M:%S", time.gmtime(at))
        request_id = uuid.uuid4().bytes.hex()[:28] + "=="
        ip = LOG_ADDRESSES[i % len(LOG_ADDRESSES)]
        out.append(
            f"{stamp}\tFRA56-P1\t1234\t{ip}\tGET\td1.cloudfront.net\t{path}\t200\t-\tcurl/8.5.0\t-\t-\t"
            f"Hit\t{request_id}\td1.cloudfront.net\thttps\t120\t0.002\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t"
            "Hit\tHTTP/2.0\t-\t-\t53122\t0.001\tHit\tapplication/octet-stream\t1024\t-\t-"
        )
    return gzip.compress(("\n".join(out) + "\n").encode())


def _cdn_user(base: str) -> str:
    """A user with a public repository holding the published ``tool-1.0.bin`` (1 KiB)."""
    import requests

    http = requests.Session()
    user, auth = _premium_user(http, base, "cdn")
    _publish(http, base, auth, "tool", "tool-1.0.bin")
    return user


def _premium_user(http: Any, base: str, prefix: str) -> tuple[str, tuple[str, str]]:
    """A new Premium user named ``<prefix>-…`` with a generic repository ``public``: (name, auth)."""
    user = f"{prefix}-{uuid.uuid4().hex[:8]}"
    body = {"email": f"{user}@example.com", "plan": "premium"}
    key = check(http.put(f"{base}/api/security/users/{user}", auth=ADMIN, json=body), 201).json()["api_key"]
    auth = (user, key)
    check(http.post(f"{base}/repos/{user}/public", auth=auth, json={"type": "generic"}), 201)
    return user, auth


def _publish(http: Any, base: str, auth: tuple[str, str], package: str, name: str) -> None:
    """Package ``package`` in the user's ``public`` repository with version 1.0 holding the published
    file ``name`` (1 KiB)."""
    user = auth[0]
    body = {"name": package, "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
    check(http.post(f"{base}/packages/{user}/public", auth=auth, json=body), 201)
    url = f"{base}/content/{user}/public/{package}/1.0/{name};publish=1"
    check(http.put(url, auth=auth, data=os.urandom(1024)), 201)


def _tail_files(user: str, repo: str, count: int) -> list[str]:
    """``count`` published files, each in a package of its own (written directly: the bench's set-up)."""
    from chalicelib.content.models import File
    from chalicelib.repositories.models import Repository
    from chalicelib.timefmt import now

    found = Repository.get(user, repo)
    paths = []
    with File.batch_write() as batch:
        for i in range(count):
            path = f"tail/t{i:05d}-1.0.bin"
            batch.save(
                File(
                    found.id,
                    path,
                    name=path.rsplit("/", 1)[-1],
                    name_lower=path.rsplit("/", 1)[-1],
                    owner=user,
                    repo=repo,
                    package=f"tail{i:05d}",
                    package_id=f"bench-tail-{i}",
                    version="1.0",
                    version_key=f"bench-tail-{i}#1.0",
                    size=1024,
                    sha1="0" * 40,
                    sha256="0" * 64,
                    created=now(),
                    published=True,
                    published_at=now(),
                )
            )
            paths.append(path)
    return paths


def cdn_download(user: str, hit_ratio: float, scenario: str, lines: int = LOG_LINES) -> Usage:
    """The public download through CloudFront, measured: one HTTPS request and an S3 GET on a miss
    (no API Gateway, no Lambda per download); the log file's delivery (one S3 PUT) and the log job's
    reading of it (LIST share, GET, DELETE, the DynamoDB reads of its repositories and files, one
    ``DownloadsLogged`` message per part, its duration); the consumers recording each part as one
    item; and the rollup's aggregate writes for those downloads. ``scenario``: ``hot`` (every line
    the same file) or ``tail`` (every line a file of its own package: no aggregate row is shared but
    the repository's and the subject's)."""
    import dataclasses

    from chalicelib import queues, storage
    from chalicelib.cdn import logs
    from chalicelib.config import settings
    from chalicelib.stats import recording, rollup
    from chalicelib.timefmt import now, read_iso

    clients = {"s3": storage.s3(), "sqs": queues.sqs()}
    if scenario == "hot":
        paths = [f"/dl/{user}/public/tool-1.0.bin"] * lines
        label = f"public download through the CDN, hot file ({lines}-line log files, {hit_ratio:.0%} hits)"
    else:
        paths = [f"/dl/{user}/public/{p}" for p in _tail_files(user, "public", lines)]
        label = f"public download through the CDN, long tail ({lines} packages a log, {hit_ratio:.0%} hits)"
    usage = Usage(label, runs=lines)
    usage.cloudfront = lines
    usage.s3_get = lines * (1 - hit_ratio)  # type: ignore[assignment]
    usage.s3_put = 1  # CloudFront delivering the log file into the log bucket

    storage.s3().create_bucket(Bucket=LOG_BUCKET)
    configured = dataclasses.replace(settings(), cdn_log_bucket=LOG_BUCKET)
    real_settings = logs.settings
    logs.settings = lambda: configured  # type: ignore[assignment]
    try:
        rollup.run(until=now() + _chunk())  # what earlier rows recorded is not this row's
        deliver_queued(Usage("earlier"), clients)
        key = f"cloudfront/EBENCH.{uuid.uuid4().hex[:8]}.gz"
        storage.s3().put_object(Bucket=LOG_BUCKET, Key=key, Body=_log_file(paths))
        with capacity_units() as units, aws_calls(clients) as calls:
            started = time.perf_counter()
            assert logs.process_logs() == lines
            usage.background_seconds += _billed(time.perf_counter() - started - units.probe_seconds)
        usage.background_invocations += 1
        usage.background_units.read += units.read
        usage.background_units.write += units.write
        usage.sqs += sum(calls["sqs"].values())
        # A run lists once for up to FILES_PER_RUN files (its share); DELETE is free.
        listed = sum(n for op, n in calls["s3"].items() if op.startswith("List"))
        usage.s3_put += listed / logs.FILES_PER_RUN  # type: ignore[assignment]
        usage.s3_put += sum(n for op, n in calls["s3"].items() if op.startswith(("Put", "Copy")))
        usage.s3_get += sum(n for op, n in calls["s3"].items() if op.startswith(("Get", "Head")))
        # Recorded in the chunk after the one the flush above closed (as a later minute would).
        mark = rollup.watermark()
        later = max(now(), read_iso(mark + "Z") if mark else now()) + 2 * _chunk()
        real_now = recording.now
        recording.now = lambda: later  # type: ignore[assignment]
        try:
            deliver_queued(usage, clients)
        finally:
            recording.now = real_now  # type: ignore[assignment]
        with capacity_units() as units:
            started = time.perf_counter()
            report = rollup.run(until=later + _chunk())
            usage.background_seconds += _billed(time.perf_counter() - started - units.probe_seconds)
        assert report.events == lines, report
        usage.background_units.read += units.read
        usage.background_units.write += units.write
        usage.rollup_writes = report.writes
    finally:
        logs.settings = real_settings  # type: ignore[assignment]
    return usage


def _chunk() -> Any:
    from datetime import timedelta

    from chalicelib.stats import rollup

    return timedelta(seconds=rollup.chunk_seconds() + 1)


if __name__ == "__main__":
    main()
