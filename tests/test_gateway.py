"""The local API Gateway: matching as API Gateway matches, proxy events, and a deployable route table."""

from __future__ import annotations

import base64
import json

import pytest
from chalice import Chalice
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from app import app as shelf_app
from chalicelib.web.routing import ROUTES
from infra.local.gateway import LocalGateway, RouteConflict, build_tree, match

PATHS = [
    "/content/{subject}/{repo}/{file_path+}",
    "/files/{subject}/{repo}/search/attributes",
    "/files/{subject}/{repo}/{file_path+}",
    "/packages/{subject}/{repo}",
    "/packages/{subject}/{repo}/{package}",
    "/packages/{subject}/{repo}/{package}/versions/_latest",
    "/packages/{subject}/{repo}/{package}/versions/{version}",
    "/{proxy+}",
]


@pytest.fixture(scope="module")
def tree():
    return build_tree(PATHS)


@pytest.mark.parametrize(
    ("path", "resource", "params"),
    [
        ("/packages/s/r", "/packages/{subject}/{repo}", {"subject": "s", "repo": "r"}),
        ("/packages/s/r/", "/packages/{subject}/{repo}", {"subject": "s", "repo": "r"}),
        (
            "/packages/s/r/p/versions/_latest",
            "/packages/{subject}/{repo}/{package}/versions/_latest",
            {"subject": "s", "repo": "r", "package": "p"},
        ),
        (
            "/packages/s/r/p/versions/1.0",
            "/packages/{subject}/{repo}/{package}/versions/{version}",
            {"subject": "s", "repo": "r", "package": "p", "version": "1.0"},
        ),
        (
            "/content/s/r/a/b/c.txt",
            "/content/{subject}/{repo}/{file_path+}",
            {"subject": "s", "repo": "r", "file_path": "a/b/c.txt"},
        ),
        (
            "/files/s/r/search/attributes",
            "/files/{subject}/{repo}/search/attributes",
            {"subject": "s", "repo": "r"},
        ),
        # A path longer than the literal route falls back to the greedy sibling.
        (
            "/files/s/r/search/attributes/x",
            "/files/{subject}/{repo}/{file_path+}",
            {"subject": "s", "repo": "r", "file_path": "search/attributes/x"},
        ),
        (
            "/content/s/r/dir%20x/f%2Bg.txt",
            "/content/{subject}/{repo}/{file_path+}",
            {"subject": "s", "repo": "r", "file_path": "dir x/f+g.txt"},
        ),
        ("/unknown/path", "/{proxy+}", {"proxy": "unknown/path"}),
        (
            "/packages/s/r/p/versions/1.0/extra/more",
            "/{proxy+}",
            {"proxy": "packages/s/r/p/versions/1.0/extra/more"},
        ),
    ],
)
def test_matching_follows_api_gateway(tree, path, resource, params):
    assert match(tree, path) == (resource, params)


def test_greedy_variable_needs_at_least_one_segment():
    tree = build_tree(["/content/{subject}/{repo}/{file_path+}"])
    assert match(tree, "/content/s/r") is None
    assert match(tree, "/content/s/r/f") == (
        "/content/{subject}/{repo}/{file_path+}",
        {"subject": "s", "repo": "r", "file_path": "f"},
    )


def test_sibling_variables_with_different_names_are_refused():
    with pytest.raises(RouteConflict):
        build_tree(["/gpg/{subject}/{repo}/{package}/versions", "/gpg/{subject}/{repo}/{file+}"])
    with pytest.raises(RouteConflict):
        build_tree(["/a/{x}", "/a/{y}/b"])
    with pytest.raises(RouteConflict):
        build_tree(["/a/{x}/b", "/a/{x+}"])


def test_greedy_variable_must_be_last():
    with pytest.raises(RouteConflict):
        build_tree(["/a/{rest+}/b"])


def test_shelf_route_table_is_deployable():
    """Every resource of the app is accepted by API Gateway's rules (build_tree raises otherwise)."""
    build_tree(list(shelf_app.routes))
    for path in shelf_app.routes:
        segments = path.strip("/").split("/")
        for position, segment in enumerate(segments):
            if segment.endswith("+}"):
                assert position == len(segments) - 1, path


def test_every_shelf_route_declares_a_permission_need():
    declared = {(spec.path, method) for spec in ROUTES for method in spec.methods}
    fallbacks = {"method_not_allowed", "not_found", "root"}
    for path, methods in shelf_app.routes.items():
        for method, entry in methods.items():
            if entry.view_name in fallbacks:
                continue
            assert (path, method) in declared, f"{method} {path} does not declare a Need"


def _request(method: str, path: str, **kwargs) -> Request:
    return Request(EnvironBuilder(method=method, path=path, **kwargs).get_environ())


def test_proxy_event_carries_greedy_params_and_binary_bodies():
    demo = Chalice(app_name="demo")
    demo.api.binary_types.append("application/octet-stream")
    seen = {}

    @demo.route("/files/{owner}/{path+}", methods=["PUT"], content_types=["application/octet-stream"])
    def put_file(owner):
        request = demo.current_request
        seen.update(owner=owner, params=request.uri_params, body=request.raw_body, q=request.query_params)
        return {"ok": True}

    gateway = LocalGateway(demo)
    response = gateway.handle(
        _request(
            "PUT",
            "/files/me/a/b.bin",
            query_string="x=1&x=2",
            data=b"\x00\xffbinary",
            content_type="application/octet-stream",
        )
    )
    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"ok": True}
    assert seen["owner"] == "me"
    assert seen["params"] == {"owner": "me", "path": "a/b.bin"}
    assert seen["body"] == b"\x00\xffbinary"
    assert seen["q"].getlist("x") == ["1", "2"]
    event = gateway.event(
        _request("PUT", "/files/me/a", data=b"\x01", content_type="application/octet-stream"),
        "/files/{owner}/{path+}",
        {"owner": "me", "path": "a"},
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x01"
    assert event["requestContext"]["resourcePath"] == "/files/{owner}/{path+}"


def test_unknown_resource_answers_like_api_gateway():
    demo = Chalice(app_name="demo")

    @demo.route("/only")
    def only():
        return {}

    gateway = LocalGateway(demo)
    response = gateway.handle(_request("GET", "/other"))
    assert response.status_code == 403
    assert json.loads(response.get_data()) == {"message": "Missing Authentication Token"}
    assert gateway.handle(_request("POST", "/only")).status_code == 403


def test_shelf_unknown_paths_and_methods_answer_json(api):
    response = api.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found"}
    response = api.delete("/licenses/oss_licenses")
    assert response.status_code == 405
    assert "message" in response.json()
    assert "GET" in response.headers["Allow"]
