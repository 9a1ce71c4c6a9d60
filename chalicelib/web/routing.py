"""Route declaration. Every route names its permission ``Need``; the wrapper enforces it centrally.

A handler reads as: parse input, call one service function, shape the response::

    api = Api(__name__)

    @api.route("/repos/{subject}/{repo}", ["GET"], Need.ANYONE)
    def get_repo(ctx: Ctx, subject: str, repo: str) -> dict:
        return services.describe(ctx)

Handlers receive every path parameter by name, greedy ``{file_path+}`` ones included (as ``file_path``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import ratelimits
from chalicelib.auth.policy import SUBJECT_PARAMS, Need, rate_limit_key, resolve
from chalicelib.errors import ServiceUnavailable, ShelfError, Unauthorized
from chalicelib.records import dataclass
from chalicelib.telemetry import metrics, tracing
from chalicelib.validation import validation_error
from chalicelib.web import logins
from chalicelib.web.client import client_address
from chalicelib.web.context import Ctx
from chalicelib.web.faults import service_fault
from chalicelib.web.telemetry import outcome

log = logging.getLogger("shelf")

#: API Gateway's binaryMediaTypes: every request body reaches the function base64-encoded, so uploads
#: of any Content-Type (or none) arrive intact; JSON bodies are decoded from it as well.
API_BINARY_MEDIA_TYPES = ["*/*"]

#: Bodies of JSON routes: curl -d sends form encoding by default, so accept any type and parse JSON.
ANY_CONTENT_TYPE = ["*/*"]


@dataclass(frozen=True)
class RouteSpec:
    """One declared route, kept for tests and the route-table checks."""

    path: str
    methods: tuple[str, ...]
    need: Need
    handler: str
    creates_repo: bool = False
    key_files: bool = False
    #: What OpenAPI says of it (``chalicelib/web/openapi.py``): the JSON body's model, the query
    #: parameters' model, the answers (a schema for 200, or ``{status: schema}``), a summary.
    body: Any = None
    query: Any = None
    response: Any = None
    summary: str | None = None


#: Every route declared through ``Api.route`` in this process.
ROUTES: list[RouteSpec] = []


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return Response(body=json.dumps(body), status_code=status, headers=all_headers)


def created(body: Any) -> Response:
    """201 with a JSON body."""
    return json_response(body, 201)


def error_response(error: ShelfError) -> Response:
    """The JSON rendering of a domain error."""
    return json_response({"message": error.message}, error.status, error.headers)


def charge_query(ctx: Ctx, need: Need) -> dict[str, str]:
    """Count the request against the caller's API query limit: its X-RateLimit headers, or 429."""
    key = rate_limit_key(ctx, need, ctx.source_ip)
    status = ratelimits.charge(key) if key else None
    return status.headers() if status else {}


def with_headers(response: Response, headers: dict[str, str]) -> Response:
    response.headers.update(headers)
    return response


def operation_name(handler: Callable[..., Any]) -> str:
    """The X-Ray subsegment of a route handler: ``<domain>.<handler>`` (``packages.create_package``)."""
    module = handler.__module__.split(".")
    domain = module[1] if len(module) > 2 and module[0] == "chalicelib" else module[-1]
    return f"{domain}.{handler.__name__}"


def annotate_operation(subsegment: Any, path: str, status: int, request: Any) -> None:
    """Annotations of a route handler's subsegment: route, subject, repo, outcome (tracing on only)."""
    if subsegment is None:
        return
    params = request.uri_params or {}
    tracing.annotate(
        subsegment,
        route=f"{request.method} {path}",
        subject=next((params[p] for p in SUBJECT_PARAMS if p in params), None),
        repo=params.get("repo"),
        outcome=outcome(status),
    )


class Api:
    """A Chalice blueprint whose routes declare a permission need."""

    def __init__(self, import_name: str):
        self.blueprint = Blueprint(import_name)

    def route(
        self,
        path: str,
        methods: list[str],
        need: Need,
        creates_repo: bool = False,
        key_files: bool = False,
        *,
        body: Any = None,
        query: Any = None,
        response: Any = None,
        summary: str | None = None,
    ) -> Callable[[Callable], Callable]:
        """Register ``handler(ctx, **path_params)`` for ``methods`` on ``path``.

        ``creates_repo``: the ``{repo}`` in the path is about to be created, so it is not loaded.
        ``key_files``: the route reads or writes one file and calls ``policy.require_file`` for it, so
        an access key with any grant in the repository passes ``resolve`` (see ``chalicelib/auth/policy.py``).

        For the OpenAPI document (built only when ``GET /openapi.json`` asks, ``chalicelib/web/openapi.py``):
        ``body``, the model of the JSON body (a pydantic model, or a JSON schema); ``query``, the query
        parameters read (``{name: JSON schema}``, or a pydantic model or TypedDict); ``response``, the
        successful answer: a JSON schema (or a model, or ``None`` for no body) for 200, or
        ``{status: schema}``.
        """

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            operation = operation_name(handler)

            def view(**_: str) -> Response:
                with tracing.operation(operation) as subsegment:
                    response = self._dispatch(handler, need, creates_repo, key_files)
                    annotate_operation(subsegment, path, response.status_code, self.blueprint.current_request)
                    return response

            view.__name__ = handler.__name__
            view.__doc__ = handler.__doc__
            view.__wrapped__ = handler  # type: ignore[attr-defined]  (tests read the handler's source)
            self.blueprint.route(path, methods=methods, content_types=ANY_CONTENT_TYPE)(view)
            doc = summary or (handler.__doc__ or "").strip().split("\n\n")[0] or None
            spec = (path, tuple(methods), need, handler.__name__, creates_repo, key_files)
            ROUTES.append(RouteSpec(*spec, body=body, query=query, response=response, summary=doc))
            return handler

        return decorator

    def _dispatch(
        self, handler: Callable[..., Any], need: Need, creates_repo: bool, key_files: bool
    ) -> Response:
        request = self.blueprint.current_request
        params = dict(request.uri_params or {})
        source_ip = client_address(request.context, request.headers)
        limit_headers: dict[str, str] = {}
        subject = next((params[p] for p in SUBJECT_PARAMS if p in params), None)  # of login events
        try:
            access = resolve(
                need,
                params,
                request.headers,
                query=request.query_params or {},
                with_repo=not creates_repo,
                source_ip=source_ip,
                key_files=key_files,
            )
            logins.succeeded(access.principal, subject, source_ip)
            ctx = Ctx.of(
                access,
                headers=request.headers,
                query=request.query_params or {},
                raw_body=request.raw_body,
                source_ip=source_ip,
                request_id=request.context.get("requestId") or "",
            )
            limit_headers = charge_query(ctx, need)
            result = handler(ctx, **params)
        except ShelfError as error:
            if getattr(error, "plan_refusal", False):
                metrics.add("PlanRefusals", 1)
            if isinstance(error, Unauthorized) and request.headers.get("authorization"):
                logins.failed(request.headers, subject, source_ip)  # wrong credentials
            return with_headers(error_response(error), limit_headers)
        except Exception as error:
            refusal = validation_error(error)  # a body built in a service (pydantic, imported lazily)
            if refusal is not None:
                return with_headers(error_response(refusal), limit_headers)
            if service_fault(error):
                # DynamoDB, S3, SQS or KMS failed: the client tries again (nothing is lost: see
                # docs/reliability.md, "Fault injection").
                log.warning("AWS unavailable in %s %s: %r", request.method, handler.__name__, error)
                return with_headers(error_response(ServiceUnavailable()), limit_headers)
            # Still a 500 (Chalice's), and still a bug: bad input must be a ShelfError. Logged with the
            # route so that it can be found and fixed.
            log.exception("Unexpected error in %s %s", request.method, handler.__name__)
            raise
        response = result if isinstance(result, Response) else json_response(result)
        return with_headers(response, limit_headers)
