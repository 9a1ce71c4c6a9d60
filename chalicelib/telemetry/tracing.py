"""X-Ray tracing through aws-xray-sdk, imported only when tracing is on (``settings().tracing``):
importing ``aws_xray_sdk.core`` costs 240–380 ms, which a cold start without tracing must not pay.

``install()`` configures the recorder and patches botocore (every boto3 and PynamoDB call becomes an
``aws`` subsegment: DynamoDB, S3, SQS) and ``http.client`` (the outbound calls of webhooks, signed-URL
callbacks and access-key existence checks, made by ``chalicelib.netsafety`` through urllib; botocore's
own connections are ignored by the SDK). Then:

- ``invocation(name)``: in Lambda, a subsegment of the function's segment (which Lambda creates when
  the function's tracing is Active); elsewhere a segment of its own, sent to ``AWS_XRAY_DAEMON_ADDRESS``
  (UDP, ``127.0.0.1:2000`` by default) when it ends;
- ``operation(name)``: a subsegment (the service operation a route handler runs);
- ``annotate(**values)``: indexed annotations (``subject``, ``repo``, ``route``, ``outcome``) on the
  current entity.

With tracing off all three do nothing and import nothing.

Example::

    with tracing.invocation("GET /repos/{subject}/{repo}"):
        with tracing.operation("repositories.get_repo"):
            tracing.annotate(subject="acme", repo="tools")
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.config import settings

#: The SDK's global recorder once ``install`` ran with tracing on; None otherwise.
_recorder: Any = None
#: Whether this process runs in Lambda (the function's segment is Lambda's, read-only).
IN_LAMBDA = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("LAMBDA_TASK_ROOT"))
SERVICE_NAME = "shelf"
#: What X-Ray keeps of an annotation value (longer strings are cut).
MAX_ANNOTATION = 250


def install() -> bool:
    """Start tracing if the settings ask for it (``SHELF_TRACING``), once; whether tracing is on."""
    if _recorder is None and settings().tracing:
        start(os.environ.get("AWS_XRAY_DAEMON_ADDRESS") or "127.0.0.1:2000")
    return _recorder is not None


def start(daemon_address: str) -> None:
    """Configure the recorder to send to ``daemon_address`` and patch botocore and http.client."""
    global _recorder
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import patch, xray_recorder
    from aws_xray_sdk.ext.httplib import add_ignored

    global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(
        service=SERVICE_NAME,
        sampling=False,  # locally every request is traced; in Lambda, Lambda decides
        context_missing="IGNORE_ERROR",  # work outside an invocation (start-up, tools) is not traced
        daemon_address=daemon_address,
    )
    patch(("botocore", "httplib"))
    for connection in ("AWSHTTPConnection", "AWSHTTPSConnection"):  # botocore's own: traced as "aws"
        add_ignored(subclass=f"botocore.awsrequest.{connection}")
    _recorder = xray_recorder


def stop() -> None:
    """Stop tracing (tests): the SDK's patches stay in place but pass every call through."""
    global _recorder
    if _recorder is not None:
        from aws_xray_sdk import global_sdk_config

        global_sdk_config.set_sdk_enabled(False)
        _recorder = None


def enabled() -> bool:
    return _recorder is not None


@contextmanager
def invocation(name: str) -> Iterator[Any]:
    """The entity of one invocation (a request, a batch of messages): see the module docstring."""
    if _recorder is None:
        yield None
        return
    if IN_LAMBDA:
        entity = _recorder.begin_subsegment(name[:200])
    else:
        entity = _recorder.begin_segment(SERVICE_NAME, sampling=1)
        entity.put_metadata("invocation", name)
    try:
        yield entity
    except BaseException as error:
        if entity is not None:
            entity.add_exception(error, _stack(error))
        raise
    finally:
        if IN_LAMBDA:
            _recorder.end_subsegment()
        else:
            _recorder.end_segment()


@contextmanager
def operation(name: str) -> Iterator[Any]:
    """A subsegment named ``name`` (e.g. ``packages.create_package``) around a service operation."""
    if _recorder is None:
        yield None
        return
    subsegment = _recorder.begin_subsegment(name[:200], "local")
    try:
        yield subsegment
    except BaseException as error:
        if subsegment is not None:
            subsegment.add_exception(error, _stack(error))
        raise
    finally:
        _recorder.end_subsegment()


def annotate(entity: Any, **values: str | int | bool | None) -> None:
    """Set indexed annotations on ``entity`` (from ``invocation``/``operation``); None values are skipped."""
    if entity is None:
        return
    for key, value in values.items():
        if value is not None:
            entity.put_annotation(key, value[:MAX_ANNOTATION] if isinstance(value, str) else value)


def http(entity: Any, method: str, url: str, status: int) -> None:
    """The HTTP request of an invocation segment (``url`` without its query: it may carry signatures)."""
    if entity is None:
        return
    entity.put_http_meta("method", method)
    entity.put_http_meta("url", url.split("?", 1)[0])
    entity.put_http_meta("status", status)
    if status == 429:
        entity.add_throttle_flag()
    elif status >= 500:
        entity.add_fault_flag()
    elif status >= 400:
        entity.add_error_flag()


def trace_id() -> str | None:
    """The current trace id (for log lines), or None when not tracing."""
    if _recorder is None:
        return None
    entity = _recorder.get_trace_entity() if _recorder.context else None
    return getattr(entity, "trace_id", None) if entity is not None else None


def _stack(error: BaseException) -> list:
    import traceback

    return traceback.extract_tb(error.__traceback__)
