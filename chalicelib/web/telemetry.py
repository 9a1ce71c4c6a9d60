"""Telemetry of every invocation, in one app middleware (``app.register_middleware(observe, "all")``):
an X-Ray segment (locally) or subsegment (in Lambda) annotated with ``route``, ``subject``, ``repo``
and ``outcome``; the request id and route bound to every log line; one access log line per HTTP
request (the route template, never the query string, which may carry signatures); one EMF metric
line per invocation. See ``chalicelib/telemetry``.

Outcomes of HTTP requests: ``ok`` (< 400), ``refused`` (401, 403, 429, and 402/403 plan refusals),
``client_error`` (other 4xx), ``fault`` (5xx).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chalice.app import Request, Response

from chalicelib.auth.policy import SUBJECT_PARAMS
from chalicelib.telemetry import logs, metrics, tracing

log = logging.getLogger("shelf.access")

REFUSED = frozenset({401, 402, 403, 429})


def outcome(status: int) -> str:
    """The ``outcome`` annotation of an HTTP status."""
    if status < 400:
        return "ok"
    if status in REFUSED:
        return "refused"
    return "client_error" if status < 500 else "fault"


def observe(event: Any, get_response: Any) -> Any:
    """Chalice middleware for every event type: see the module docstring."""
    if isinstance(event, Request):
        return _http(event, get_response)
    return _background(event, get_response)


def _http(request: Request, get_response: Any) -> Response:
    context = request.context or {}
    route = f"{request.method} {context.get('resourcePath') or request.path}"
    params = request.uri_params or {}
    subject = next((params[p] for p in SUBJECT_PARAMS if p in params), None)
    repo = params.get("repo")
    request_id = context.get("requestId") or ""
    token = logs.bind(request_id=request_id, route=route, subject=subject, repo=repo)
    started = time.perf_counter()
    try:
        collect = metrics.collecting(route=route, subject=subject, repo=repo, request_id=request_id)
        with collect as current, tracing.invocation(route) as entity:
            tracing.annotate(entity, route=route, subject=subject, repo=repo)
            status = 500
            try:
                response: Response = get_response(request)
                status = response.status_code
            finally:
                refused = outcome(status) == "refused" or bool(current.values.get("PlanRefusals"))
                tracing.annotate(entity, outcome="refused" if refused else outcome(status))
                tracing.http(entity, request.method, request.path, status)
                elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
                current.add("Requests", 1)
                current.add("Errors", 1 if status >= 500 else 0)
                current.add("Refusals", 1 if refused else 0)
                current.add("Latency", elapsed_ms, "Milliseconds")
                current.properties["status"] = status
                if logs.installed():
                    fields = {"status": status, "duration_ms": elapsed_ms}
                    log.info("%s -> %s", route, status, extra={"fields": fields})
        return response
    finally:
        logs.reset(token)


def _background(event: Any, get_response: Any) -> Any:
    """SQS batches, schedules and plain functions: a segment, the Lambda request id on log lines."""
    context = getattr(event, "context", None)
    name = f"{type(event).__name__} {getattr(context, 'function_name', '') or ''}".strip()
    token = logs.bind(request_id=getattr(context, "aws_request_id", None), function=name)
    try:
        with metrics.collecting(function=name), tracing.invocation(name) as entity:
            tracing.annotate(entity, route=name)
            try:
                with tracing.operation(name):
                    result = get_response(event)
            except Exception:
                tracing.annotate(entity, outcome="fault")
                raise
            tracing.annotate(entity, outcome="ok")
            return result
    finally:
        logs.reset(token)
