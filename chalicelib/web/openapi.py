"""The OpenAPI 3.1 document of the API, generated from the route table (``routing.ROUTES``) and served
at ``GET /openapi.json`` (an extension: Bintray published no such document).

Each route declares its JSON body's model, its query parameters' model and its answers
(``Api.route(body=..., query=..., response=...)``, shapes in ``chalicelib/web/schemas.py``); the
document is built on the first request that asks for it, so no model's schema is built at import.
Greedy paths (API Gateway's ``{file_path+}``) become ``{file_path}`` parameters that hold the rest of
the path, slashes included (``x-greedy``). Errors are ``{"message": ...}`` with a 4xx status.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from http import HTTPStatus
from typing import Any

from chalicelib.auth.policy import Need
from chalicelib.validation import Body
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import ROUTES, Api, RouteSpec

api = Api(__name__)

OPENAPI_VERSION = "3.1.0"
COMPONENTS = "#/components/schemas/"
GREEDY = re.compile(r"{(\w+)\+}")
PARAM = re.compile(r"{(\w+)\+?}")
#: Security schemes: users (name and API key), access keys (``<key id>@<subject>`` and password),
#: npm's token (``npm login``'s answer, sent as ``Authorization: Bearer``).
SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic: a user name and its API key (GET /api/security/apiKey regenerates it).",
    },
    "accessKey": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic: an access key, '<key id>@<subject>', and its password (downloads "
        "and the single-file routes of the repositories its entitlements cover).",
    },
    "npmToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "npm's _authToken (what npm login answers): the Basic credentials as a token.",
    },
}
USER = [{"apiKey": []}, {"npmToken": []}]
KEY = [{"accessKey": []}]
ANONYMOUS: list[dict[str, list[str]]] = [{}]
ERROR = {"$ref": COMPONENTS + "Message"}
GREEDY_DESCRIPTION = "The rest of the path, '/' included (a greedy path parameter, API Gateway's {%s+})."


def security(spec: RouteSpec) -> list[dict[str, list[str]]]:
    """Who may call: users always, access keys on reads and the single-file routes, anyone on reads."""
    keys = KEY if spec.key_files or spec.need in (Need.ANYONE, Need.DOWNLOAD, Need.KEY_HOLDER) else []
    anyone = ANONYMOUS if spec.need in (Need.ANYONE, Need.DOWNLOAD) else []
    return USER + keys + anyone


class Builder:
    """One document: components collected as operations refer to them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Message": schemas.MESSAGE}
        self.owners: dict[str, Any] = {"Message": schemas.MESSAGE}

    def model_schema(self, model: Any) -> dict[str, Any]:
        """A JSON schema for a pydantic model, a TypedDict or any type pydantic knows; models become
        components referred to by name."""
        if isinstance(model, dict):
            return model
        from pydantic import BaseModel, TypeAdapter

        model = model.model() if isinstance(model, type) and issubclass(model, Body) else model

        if isinstance(model, type) and issubclass(model, BaseModel):
            schema = model.model_json_schema(ref_template=COMPONENTS + "{model}")
        else:
            schema = TypeAdapter(model).json_schema(ref_template=COMPONENTS + "{model}")
        for name, definition in schema.pop("$defs", {}).items():
            self._component(name, definition)
        name = getattr(model, "__name__", None)
        if name is None or schema.get("type") != "object":
            return schema
        return {"$ref": COMPONENTS + self._component(name, schema)}

    def _component(self, name: str, definition: dict[str, Any]) -> str:
        if self.components.get(name, definition) != definition:
            raise ValueError(f"Two different schemas named {name!r}: rename one of the models")
        self.components[name] = definition
        return name

    def query_parameters(self, model: Any) -> list[dict[str, Any]]:
        if model is None:
            return []
        if isinstance(model, dict) and model.get("type") == "object":  # schemas.obj(required, optional)
            schema: dict[str, Any] = model
        elif isinstance(model, dict):  # {parameter: JSON schema}, all optional
            schema = {"properties": model}
        else:  # a pydantic model or a TypedDict
            from pydantic import TypeAdapter

            schema = TypeAdapter(model).json_schema()
        required = set(schema.get("required", ()))
        out = []
        for name, field in schema.get("properties", {}).items():
            field = {k: v for k, v in field.items() if k != "title"}
            out.append({"name": name, "in": "query", "required": name in required, "schema": field})
        return out

    def request_body(self, body: Any) -> dict[str, Any] | None:
        if body is None:
            return None
        if isinstance(body, schemas.Media):
            content = {body.media_type or "application/octet-stream": {"schema": {}}}
            return {"description": body.description, "content": content}
        schema = self.model_schema(body)
        target = self.components.get(schema["$ref"][len(COMPONENTS) :]) if "$ref" in schema else schema
        # An empty body reads as {}: a body is required only when the object has required fields (or
        # needs one of some, ``validation.needs_one_of``).
        needs = target.get("required") or target.get("anyOf") or target.get("oneOf")
        required = bool(needs) or target.get("type") == "array"
        return {"required": required, "content": {"application/json": {"schema": schema}}}

    def responses(self, spec: RouteSpec, method: str) -> dict[str, Any]:
        declared = spec.response
        if not (isinstance(declared, dict) and declared and all(isinstance(k, int) for k in declared)):
            declared = {200: declared}
        out: dict[str, Any] = {}
        for status, shape in declared.items():
            out[str(status)] = answer = self.response(shape, method)
            answer["description"] = answer["description"] or HTTPStatus(status).phrase
        out["4XX"] = {
            "description": 'Refused: {"message": ...} (HEAD answers carry no body)',
            "content": {} if method == "HEAD" else {"application/json": {"schema": ERROR}},
        }
        return out

    def response(self, shape: Any, method: str) -> dict[str, Any]:
        headers: tuple[str, ...] = ()
        if isinstance(shape, schemas.WithHeaders):
            shape, headers = shape.schema, shape.headers
        if isinstance(shape, schemas.Media):
            headers = headers + shape.headers
            content = {}
            if shape.media_type:
                schema = self.model_schema(shape.schema) if shape.schema is not None else {"type": "string"}
                content[shape.media_type] = {"schema": schema}
            content.update({media: {"schema": {"type": "string"}} for media in shape.also})
            answer: dict[str, Any] = {"description": shape.description, "content": content}
        elif shape is None:
            answer = {"description": "No body", "content": {}}
        else:
            schema = self.model_schema(shape)
            answer = {"description": "", "content": {"application/json": {"schema": schema}}}
        if method == "HEAD":
            answer["content"] = {}
        if headers:
            answer["headers"] = {name: {"schema": {"type": "string"}} for name in headers}
        return answer

    def operation(self, spec: RouteSpec, method: str, operation_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"operationId": operation_id, "tags": [_tag(spec.path)]}
        if spec.summary:
            out["summary"] = spec.summary.splitlines()[0].rstrip(".")[:120]
            out["description"] = spec.summary
        out["security"] = security(spec)
        parameters = self.query_parameters(spec.query)
        if parameters:
            out["parameters"] = parameters
        if method not in ("GET", "HEAD", "DELETE"):
            body = self.request_body(spec.body)
            if body is not None:
                out["requestBody"] = body
        out["responses"] = self.responses(spec, method)
        out["x-shelf-need"] = spec.need.value
        return out


def _tag(path: str) -> str:
    return path.strip("/").split("/")[0]


def path_parameters(path: str) -> list[dict[str, Any]]:
    greedy = set(GREEDY.findall(path))
    out = []
    for name in PARAM.findall(path):
        parameter: dict[str, Any] = {"name": name, "in": "path", "required": True}
        parameter["schema"] = {"type": "string", "minLength": 1}
        if name in greedy:
            parameter["description"] = GREEDY_DESCRIPTION % name
            parameter["x-greedy"] = True
        out.append(parameter)
    return out


def operation_ids(routes: list[RouteSpec]) -> dict[tuple[int, str], str]:
    """Unique operation ids: the handler's name; a handler declared on several paths adds the path's
    fixed segments, a second method its name (``download_content_head``)."""
    counts = Counter(spec.handler for spec in routes)
    out = {}
    for index, spec in enumerate(routes):
        base = spec.handler
        if counts[base] > 1:
            fixed = [part for part in spec.path.strip("/").split("/") if not part.startswith("{")]
            base = base + "__" + "_".join(fixed)
        for position, method in enumerate(spec.methods):
            out[(index, method)] = base if position == 0 else f"{base}_{method.lower()}"
    return out


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route (built once per process)."""
    builder = Builder()
    paths: dict[str, Any] = {}
    ids = operation_ids(ROUTES)
    for index, spec in enumerate(ROUTES):
        template = GREEDY.sub(r"{\1}", spec.path)
        item = paths.setdefault(template, {"parameters": path_parameters(spec.path)})
        for method in spec.methods:
            item[method.lower()] = builder.operation(spec, method, ids[(index, method)])
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Shelf",
            "version": "1.0",
            "description": "A Bintray-compatible package host: the Bintray REST API (and Shelf's "
            'extensions), generated from the route table. Errors are {"message": ...} with a 4xx status.',
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": builder.components, "securitySchemes": SECURITY_SCHEMES},
    }


@api.route("/openapi.json", ["GET"], Need.ANYONE, response=schemas.OBJECT)
def openapi_document(ctx: Ctx) -> dict[str, Any]:
    """This document: the OpenAPI 3.1 description of the API (an extension, not a Bintray endpoint)."""
    return document()
