"""Fault injection: fail the Nth AWS call (DynamoDB, S3, SQS, KMS, CloudFront, SES) the app makes, through
botocore's event hooks on the app's own clients (``storage.s3()``, ``queues.sqs()``, PynamoDB's one
connection ``db.connection()``, ``keystore.kms()``, ...), and check what the failure left behind.

Example::

    faults = Faults()
    with faults.counting() as calls:        # how many calls the operation makes
        api.put(...)
    with faults.failing(3):                 # the 3rd of them fails
        answer = api.put(...)

A failing call never reaches AWS (``before-call`` answers it): by default with an error answer of the
service (500 ``InternalError``, 503 ``SlowDown``, 400 ``ProvisionedThroughputExceededException``...,
chosen by N so that every kind is seen), every fourth N with ``EndpointConnectionError`` (the service
unreachable). ``lost=True`` lets the call through and loses its answer instead (``after-call`` raises
``ReadTimeoutError``): the write happened, the app does not know it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

#: (HTTP status, error code) answers per service, cycled through by N.
ANSWERS = {
    "dynamodb": [
        (500, "InternalServerError"),
        (400, "ProvisionedThroughputExceededException"),
        (400, "ThrottlingException"),
    ],
    "s3": [(500, "InternalError"), (503, "SlowDown"), (503, "ServiceUnavailable")],
    "sqs": [(500, "InternalError"), (503, "ServiceUnavailable"), (400, "ThrottlingException")],
    "kms": [
        (500, "KMSInternalException"),
        (503, "ServiceUnavailableException"),
        (400, "ThrottlingException"),
    ],
}
DEFAULT_ANSWERS = [(500, "InternalFailure"), (503, "ServiceUnavailable"), (400, "Throttling")]


def app_clients() -> list[Any]:
    """Every botocore client the app talks to AWS with (each created on first use, so create them)."""
    from chalicelib import db, mail, queues, storage
    from chalicelib.cdn import copies
    from chalicelib.gpg import keystore

    clients = [storage.s3(), queues.sqs(), db.connection().client, keystore.kms(), mail.ses()]
    for factory in (getattr(copies, "cloudfront", None),):
        if callable(factory):
            clients.append(factory())
    return clients


class Faults:
    """Counts the app's AWS calls while armed, and fails one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = False
        self.fail_at: int | None = None
        self.lost = False
        self.calls: list[str] = []  # "service.Operation" of each call while armed
        self.failed: str | None = None  # the call that was failed
        self._registered: set[int] = set()

    @property
    def armed(self) -> bool:
        return self._armed

    def install(self) -> None:
        """Hook the app's clients (again after a client was re-created)."""
        for client in app_clients():
            if id(client) in self._registered:
                continue
            self._registered.add(id(client))
            client.meta.events.register_first("before-call.*.*", self._before_call)
            client.meta.events.register_first("after-call.*.*", self._after_call)

    def _service(self, model: Any) -> str:
        return model.service_model.endpoint_prefix

    def _before_call(self, model: Any, params: Any, **kwargs: Any) -> Any:
        if not self._armed:
            return None
        with self._lock:
            self.calls.append(f"{self._service(model)}.{model.name}")
            n = len(self.calls)
        if n != self.fail_at or self.lost:
            return None
        self.failed = self.calls[-1]
        if n % 4 == 0:
            raise EndpointConnectionError(endpoint_url=f"https://{self._service(model)}.local")
        answers = ANSWERS.get(self._service(model), DEFAULT_ANSWERS)
        status, code = answers[n % len(answers)]
        body = {"Error": {"Code": code, "Message": f"injected fault at call {n}"}}
        body["ResponseMetadata"] = {"HTTPStatusCode": status}
        return AWSResponse(f"https://{self._service(model)}.local", status, {}, None), body

    def _after_call(self, model: Any, **kwargs: Any) -> None:
        if not self._armed or not self.lost:
            return
        with self._lock:
            n = len(self.calls)
            if n != self.fail_at or self.failed is not None:
                return
            self.failed = self.calls[-1]
        raise ReadTimeoutError(endpoint_url=f"https://{self._service(model)}.local")

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """Count the calls of the block (nothing fails)."""
        with self.failing(None) as calls:
            yield calls

    @contextmanager
    def failing(self, n: int | None, lost: bool = False) -> Iterator[list[str]]:
        """Fail the ``n``th call of the block (``lost``: after it was made)."""
        self.install()
        with self._lock:
            self.calls = []
            self.fail_at, self.lost, self.failed = n, lost, None
            self._armed = True
        try:
            yield self.calls
        finally:
            with self._lock:
                self._armed = False
