"""The app behind the deployed API Gateway HTTP API (payload format 1.0, ``ANY /{proxy+}`` and ``ANY /``):
the events it sends (played by the local gateway's ``httpapi`` shape, as through CloudFront's upload front)
routed by chalicelib/web/httpapi.py give the answers the REST-shaped events give.

The whole suite runs in that shape with ``SHELF_TEST_EVENT_SHAPE=httpapi``; this file runs a representative
set every time: binary bodies without a Content-Type, text-typed bodies that are not UTF-8, matrix
parameters, greedy paths with percent signs, repeated query parameters, redirects, errors, the 307 of a
withheld upload.
"""

from __future__ import annotations

import base64
import threading

import pytest
import requests
from werkzeug.serving import make_server

from chalicelib.web.httpapi import FALLBACK, TYPE_HEADER, is_http_api, rest_event
from chalicelib.web.resources import build_tree
from infra.local.gateway import LocalGateway
from tests.conftest import Api, KeepAliveHandler, World, chalice_app


@pytest.fixture(scope="module")
def http_api() -> Api:
    """The app behind a local gateway sending HTTP API (payload 1.0) events."""
    gateway = LocalGateway(chalice_app, event_shape="httpapi", trust_forwarded_for=True)
    server = make_server("127.0.0.1", 0, gateway, threaded=True, request_handler=KeepAliveHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Api(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


@pytest.fixture(scope="module")
def space(api):
    world = World(api)
    user = world.user()
    repo = world.repo(user.name)
    private = world.repo(user.name, private=True)
    package = world.package(user.name, repo)
    return user, repo, private, package


# --- the adapter on the events AWS documents ----------------------------------------------------------


def _event(path: str, **fields) -> dict:
    """An HTTP API payload 1.0 event as AWS documents it (route ``ANY /{proxy+}``)."""
    return {
        "version": "1.0",
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"accept": "b", "content-type": "application/octet-stream"},
        "multiValueHeaders": {"accept": ["a", "b"], "content-type": ["application/octet-stream"]},
        "queryStringParameters": {"names": "a,b", "start_pos": "0,5"},
        "multiValueQueryStringParameters": {"names": ["a,b"], "start_pos": ["0", "5"]},
        "requestContext": {
            "httpMethod": "GET",
            "identity": {"sourceIp": "198.51.100.7"},
            "path": path,
            "requestId": "id=",
            "resourcePath": "/{proxy+}",
            "stage": "$default",
        },
        "pathParameters": {"proxy": path[1:]},
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
        **fields,
    }


def test_the_adapter_resolves_the_apps_route_from_the_decoded_path():
    tree = build_tree(["/content/{subject}/{repo}/{file_path+}", "/repos/{subject}/{repo}", FALLBACK])
    # HTTP APIs deliver the path percent-decoded: "100%41.txt" is the name, not "100A.txt".
    rest = rest_event(_event("/content/alice/tools/dir/100%41.txt"), tree, [FALLBACK])
    assert (
        rest["resource"] == rest["requestContext"]["resourcePath"] == "/content/{subject}/{repo}/{file_path+}"
    )
    assert rest["pathParameters"] == {"subject": "alice", "repo": "tools", "file_path": "dir/100%41.txt"}
    assert rest["requestContext"]["identity"]["sourceIp"] == "198.51.100.7"
    # REST's last value of a repeated parameter or header; a comma inside one value stays.
    assert rest["queryStringParameters"] == {"names": "a,b", "start_pos": "5"}
    assert rest["multiValueQueryStringParameters"] == {"names": ["a,b"], "start_pos": ["0", "5"]}
    assert rest["headers"]["accept"] == "b"
    # No route (an empty segment): the app's fallback, its 404.
    assert rest_event(_event("/repos//x"), tree, [FALLBACK])["resource"] == FALLBACK
    assert not is_http_api({"resource": "/repos/{subject}/{repo}", "requestContext": {}})  # REST's


def test_the_adapter_restores_the_content_type_the_upload_front_relabelled():
    relabelled = _event(
        "/repos/alice/tools",
        multiValueHeaders={"Content-Type": ["application/octet-stream"], TYPE_HEADER: ["text/plain"]},
        body=base64.b64encode(b"\xff").decode(),
        isBase64Encoded=True,
    )
    rest = rest_event(relabelled, build_tree(["/repos/{subject}/{repo}"]))
    assert rest["headers"] == {"content-type": "text/plain"}
    assert rest["multiValueHeaders"] == {"content-type": ["text/plain"]}
    assert (rest["body"], rest["isBase64Encoded"]) == ("/w==", True)


# --- the app through HTTP API events ------------------------------------------------------------------


def test_binary_uploads_without_a_content_type_and_text_typed_ones_keep_their_bytes(api, http_api, space):
    user, repo, _, package = space
    data = bytes(range(256)) + b"\x00end"  # not UTF-8
    for name, headers in (("deep/er/blob.bin", {}), ("deep/text.txt", {"Content-Type": "text/plain"})):
        url = f"/content/{user.name}/{repo}/{package}/1.0/{name};publish=1"  # matrix parameter
        response = http_api.put(url, user.auth, data=data, headers=headers)
        assert response.status_code == 201, response.text
        redirect = http_api.get(f"/dl/{user.name}/{repo}/{name}")
        assert redirect.status_code == 302
        assert requests.get(redirect.headers["Location"], timeout=10).content == data
        assert api.get(f"/dl/{user.name}/{repo}/{name}").status_code == 302  # the same file through REST


def test_a_percent_sign_in_a_greedy_path_is_decoded_once(api, http_api, space):
    user, repo, _, package = space
    url = f"/content/{user.name}/{repo}/{package}/1.0/pc/100%2541.txt?publish=1"
    assert http_api.put(url, user.auth, data=b"p").status_code == 201
    files = http_api.get(f"/packages/{user.name}/{repo}/{package}/files").json()
    assert "pc/100%41.txt" in {f["path"] for f in files}
    assert http_api.get(f"/dl/{user.name}/{repo}/pc/100%2541.txt").status_code == 302
    assert api.get(f"/dl/{user.name}/{repo}/pc/100%2541.txt").status_code == 302  # REST: decoded once too


def test_repeated_query_parameters_mean_what_they_mean_through_rest(api, http_api, space):
    user, repo, _, package = space
    url = f"/content/{user.name}/{repo}/{package}/2.0/unpublished.txt"
    assert http_api.put(url, user.auth, data=b"u").status_code == 201
    files = f"/packages/{user.name}/{repo}/{package}/files"
    for query in (
        "?include_unpublished=0&include_unpublished=1",
        "?include_unpublished=1&include_unpublished=0",
    ):
        through_http_api, through_rest = (
            http_api.get(files + query, user.auth),
            api.get(files + query, user.auth),
        )
        assert through_http_api.status_code == through_rest.status_code == 200
        assert through_http_api.json() == through_rest.json()
    assert "unpublished.txt" in {
        f["name"] for f in http_api.get(files + "?include_unpublished=1", user.auth).json()
    }


def test_errors_and_challenges_are_the_apps_json(api, http_api, space):
    user, repo, private, package = space
    for method, path, kwargs in (
        ("GET", "/", {}),
        ("GET", "/no/such/route", {}),
        ("GET", "/repos//x", {}),
        ("DELETE", f"/repos/{user.name}", {}),
        ("POST", f"/packages/{user.name}/{repo}", {"data": b"{not json", "auth": user.auth}),
        ("GET", f"/dl/{user.name}/{private}/x.txt", {}),
        ("GET", f"/repos/{user.name}/{repo}", {"auth": (user.name, "wrong")}),
    ):
        through_http_api = http_api.request(method, path, **kwargs)
        through_rest = api.request(method, path, **kwargs)
        assert through_http_api.status_code == through_rest.status_code, path
        assert through_http_api.status_code in (400, 401, 404, 405), (path, through_http_api.text)
        assert "message" in through_http_api.json(), path
        for header in ("Allow", "WWW-Authenticate"):
            assert through_http_api.headers.get(header) == through_rest.headers.get(header), (path, header)


def test_a_withheld_upload_gets_the_307_to_s3(http_api, space):
    """What CloudFront's upload front forwards for a body over the inline limit: no body, its length."""
    user, repo, _, package = space
    url = f"/content/{user.name}/{repo}/{package}/1.0/big.iso"
    response = http_api.put(url, user.auth, data=b"", headers={"X-Shelf-Content-Length": str(50 * 1024**2)})
    assert response.status_code == 307, response.text
    assert "/uploads/" in response.headers["Location"]
