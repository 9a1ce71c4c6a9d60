"""App-wide HTTP behaviour: every error body is ``{"message": ...}``, and unknown paths or methods
answer 404/405 from the function itself, so local and deployed behaviour match."""

from __future__ import annotations

import json
from typing import Any

from chalice import Chalice, Response

from chalicelib.web.routing import json_response

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def normalise_errors(event: Any, get_response: Any) -> Response:
    """Rewrite Chalice's own ``{"Code", "Message"}`` errors into ``{"message"}``."""
    response: Response = get_response(event)
    if response.status_code < 400:
        return response
    body = response.body
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return response
    if isinstance(body, dict) and "Message" in body and "message" not in body:
        response.body = json.dumps({"message": body["Message"]})
        response.headers["Content-Type"] = "application/json"
    return response


def install_fallbacks(app: Chalice) -> None:
    """Answer 405 for methods a resource lacks and 404 for paths nobody declared.

    API Gateway answers 403 "Missing Authentication Token" for both; declaring them keeps the
    answers useful and identical locally and when deployed.
    """
    declared = {path: set(methods) for path, methods in app.routes.items()}

    def method_not_allowed(**_: str) -> Response:
        allowed = ", ".join(sorted(declared.get(app.current_request.path, ())))
        return json_response(
            {"message": f"Method {app.current_request.method} is not allowed here"},
            405,
            {"Allow": allowed},
        )

    def not_found(**_: str) -> Response:
        return json_response({"message": "Not found"}, 404)

    for path, methods in declared.items():
        missing = [m for m in ALL_METHODS if m not in methods]
        if missing:
            app.route(path, methods=missing, name="method_not_allowed", content_types=["*/*"])(
                method_not_allowed
            )
    app.route("/{proxy+}", methods=list(ALL_METHODS), name="not_found", content_types=["*/*"])(not_found)
    app.route("/", methods=list(ALL_METHODS), name="root", content_types=["*/*"])(not_found)
