"""API Gateway HTTP API events (payload format 1.0) for Chalice, whose routing reads REST API events.

The deployed API is an HTTP API ($1.00 per million requests; REST: $3.50) with two routes, ``ANY
/{proxy+}`` and ``ANY /``, both to the API function (infra/cloudformation.py, ``http_api``). Payload
format 1.0 is REST's event shape, but every event names the route that matched, ``/{proxy+}``, where
Chalice looks up the view by ``requestContext.resourcePath`` and passes it ``pathParameters``. So
``rest_event`` resolves the app's own route from the request path, as API Gateway REST resolves
resources (``web/resources.py``: literal, then the level's variable, then a greedy ``{name+}``), and
rewrites the event into what API Gateway REST would have sent:

- ``resource``, ``requestContext.resourcePath`` and ``pathParameters`` (``file_path`` for
  ``{file_path+}``) of the app's route; a path no route matches (``//``) goes to the app's ``/{proxy+}``
  fallback, its 404;
- the path is taken as it is: HTTP APIs deliver it percent-decoded (REST APIs encoded), so decoding it
  again would turn a file named ``100%41.txt`` into ``100A.txt``;
- ``headers``: the last value of a repeated header, as REST gives it (``multiValueHeaders`` keeps all);
  HTTP APIs lowercase the names, Chalice's headers are case-insensitive anyway;
- ``queryStringParameters``: the last value of a repeated parameter, as REST gives it (an HTTP API joins
  them with commas, which a comma-separated value such as ``names=a,b`` could not be told from); Chalice
  reads ``multiValueQueryStringParameters``, which both APIs send alike;
- the body as it came: HTTP APIs have no binary media types and base64-encode every body whose
  Content-Type is not text (``text/*``, JSON, XML, JavaScript), a missing one included; Chalice's
  ``raw_body`` decodes either form. A text body reaches the function as a UTF-8 string, so CloudFront's
  upload front (infra/edge/upload_front.py) sends ``PUT``/``POST``/``PATCH`` bodies as
  ``application/octet-stream`` with the client's type in ``X-Shelf-Content-Type``: it is the request's
  ``Content-Type`` again here (``headers`` and ``multiValueHeaders``, names lowercased).

A REST event (no ``version``) passes unchanged, so the app serves both APIs and the local gateway's
REST-shaped events. Example::

    app = HttpApiChalice(app_name="shelf")   # app.py; then app(event, context) takes either shape
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib.web.resources import Resource, build_tree, match

#: The payload format version of the deployed integration.
PAYLOAD_FORMAT_VERSION = "1.0"
#: The app's catch-all route (``web/middleware.install_fallbacks``): where an unmatched path goes.
FALLBACK = "/{proxy+}"
#: The client's Content-Type when CloudFront's upload front relabelled the body as binary.
TYPE_HEADER = "x-shelf-content-type"


def is_http_api(event: Any) -> bool:
    """Is ``event`` an HTTP API event of payload format 1.0 (REST events carry no ``version``)?"""
    return isinstance(event, dict) and event.get("version") == PAYLOAD_FORMAT_VERSION


def rest_event(event: dict[str, Any], tree: Resource, routes: Any = ()) -> dict[str, Any]:
    """The REST API event Chalice expects for the HTTP API (payload 1.0) ``event`` (see the module's
    docstring); ``tree`` is ``build_tree`` of the app's routes, ``routes`` those routes."""
    context = dict(event.get("requestContext") or {})
    method = event.get("httpMethod") or context.get("httpMethod") or "GET"
    path = event.get("path") or context.get("path") or "/"
    found = match(tree, path, decoded=True)
    if found is None:
        resource, params = FALLBACK, ({"proxy": path.strip("/")} if FALLBACK in routes else {})
    else:
        resource, params = found
    multi = event.get("multiValueHeaders") or {}
    multi_headers = {name.lower(): list(values) for name, values in multi.items() if values} or {
        name.lower(): [value] for name, value in (event.get("headers") or {}).items()
    }
    relabelled = multi_headers.pop(TYPE_HEADER, None)
    if relabelled:  # CloudFront's upload front sent the body as binary (infra/edge/upload_front.py)
        multi_headers["content-type"] = relabelled
    headers = {name: values[-1] for name, values in multi_headers.items()}
    multi_query = event.get("multiValueQueryStringParameters")
    if not multi_query and event.get("queryStringParameters"):
        multi_query = {name: [value] for name, value in event["queryStringParameters"].items()}
    query = {name: values[-1] for name, values in (multi_query or {}).items() if values}
    context.update(resourcePath=resource, httpMethod=method)
    return {
        **event,
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": event.get("stageVariables"),
        "requestContext": context,
        "body": event.get("body"),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
    }


class HttpApiChalice(Chalice):
    """Chalice taking API Gateway HTTP API events (payload format 1.0) as well as REST API ones."""

    _http_api_tree: tuple[int, Resource] | None = None

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if is_http_api(event):
            event = rest_event(event, self._resource_tree(), self.routes)
        return super().__call__(event, context)

    def _resource_tree(self) -> Resource:
        """The tree of the app's routes, built on the first HTTP API event (again if routes were added)."""
        if self._http_api_tree is None or self._http_api_tree[0] != len(self.routes):
            self._http_api_tree = (len(self.routes), build_tree(list(self.routes)))
        return self._http_api_tree[1]
