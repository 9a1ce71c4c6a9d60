"""``GET /openapi.json``: a valid OpenAPI 3.1 document (openapi-spec-validator) of every declared route,
which says what the handlers read: the JSON bodies they parse, the query parameters they get, greedy
paths, who may call, and every route's answer."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from app import app as chalice_app
from chalicelib.web.openapi import GREEDY
from chalicelib.web.routing import ROUTES, RouteSpec
from tests.conftest import ADMIN

ROOT = Path(__file__).resolve().parent.parent
#: Writing routes that read no body: follow, regenerate keys, schedule a calculation, the usage
#: listings (paged by the query), the product readme's and the npm routes' are declared all the same.
NO_BODY = {
    "regenerate_api_key",
    "follow",
    "regenerate_keypair",
    "calc_metadata",
    "calc_metadata_path",
    "repo_package_usage",
    "package_usage",
    "accept_eula",
}
#: Query parameters read through helpers of other modules (``ctx.query`` passed on), per handler.
PASSED_ON = {
    "search_entitlements": {"scope", "access_key", "tag", "product", "deep"},
    "show_eula_acceptance": {"username"},
    "accept_eula": {"username"},
    "get_signed_eulas": {"username", "eula_name", "from", "to", "start_pos"},
    "download": {"expiry", "id", "signature"},
    "download_content": {"expiry", "id", "signature", "bt_package"},
    "upload_content": {"publish", "override", "bt_package", "bt_version"},
    "upload_maven": {"publish", "override"},
}
QUERY_READ = re.compile(
    r"""(?:query|\bq)\.get\(\s*"(\w+)"|\bq\["(\w+)"\]|flag\((?:ctx\.query|q), "(\w+)"\)"""
)


@pytest.fixture(scope="module")
def document(api) -> dict:
    response = api.get("/openapi.json")  # anonymous: the document is public
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def operation(document: dict, spec: RouteSpec, method: str) -> dict:
    return document["paths"][GREEDY.sub(r"{\1}", spec.path)][method.lower()]


def handler_of(spec: RouteSpec):
    return chalice_app.routes[spec.path][spec.methods[0]].view_function.__wrapped__


def source_reads(function) -> str:
    """The handler's source and that of the module's helpers it calls (``_get``, ``_scope``...)."""
    module = inspect.getmodule(function)
    text = inspect.getsource(function)
    for name in set(re.findall(r"\b(_\w+)\(", text)):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper):
            text += inspect.getsource(helper)
    return text


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any error (OpenAPI 3.1 schema, references, parameters)


def test_every_route_and_method_is_an_operation_with_an_answer(document):
    ids = set()
    for spec in ROUTES:
        assert spec.response is not None, f"{spec.handler}: declare response="
        for method in spec.methods:
            found = operation(document, spec, method)
            assert found["x-shelf-need"] == spec.need.value
            assert any(status[0] in "23" for status in found["responses"]), (spec.handler, method)
            assert found["responses"]["4XX"], spec.handler
            ids.add(found["operationId"])
    assert len(ids) == sum(len(spec.methods) for spec in ROUTES)  # unique operation ids


def test_writing_routes_declare_the_json_body_they_parse(document):
    for spec in ROUTES:
        source = source_reads(handler_of(spec))
        parses = re.search(r"parse_body\(|parse_json\(|parse_\w+_body\(|_range\(ctx\)|raw_body\)", source)
        for method in set(spec.methods) & {"POST", "PUT", "PATCH"}:
            body = operation(document, spec, method).get("requestBody")
            if spec.handler in NO_BODY:
                assert parses is None, f"{spec.handler} reads a body: remove it from NO_BODY"
                continue
            assert parses is not None or "upload" in spec.handler, spec.handler
            assert body is not None and body["content"], f"{spec.handler}: declare body="


def test_query_parameters_read_by_handlers_are_documented(document):
    for spec in ROUTES:
        source = source_reads(handler_of(spec))
        read = {name for match in QUERY_READ.findall(source) for name in match if name}
        if "start_pos(" in source:
            read.add("start_pos")
        read |= PASSED_ON.get(spec.handler, set())
        for method in spec.methods:
            documented = {p["name"] for p in operation(document, spec, method).get("parameters", [])}
            assert read <= documented, (spec.handler, read - documented)


def test_greedy_paths_are_described(document):
    greedy = [spec for spec in ROUTES if "+}" in spec.path]
    assert len(greedy) >= 10
    for spec in greedy:
        item = document["paths"][GREEDY.sub(r"{\1}", spec.path)]
        (parameter,) = [p for p in item["parameters"] if p["name"] == GREEDY.search(spec.path).group(1)]
        assert parameter["in"] == "path" and parameter["x-greedy"] is True
        assert "'/' included" in parameter["description"]
    assert not any("+" in path for path in document["paths"])


def test_security_schemes_say_who_may_call(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == schemes["apiKey"] | {"type": "http", "scheme": "basic"}
    assert schemes["accessKey"]["scheme"] == "basic" and "@<subject>" in schemes["accessKey"]["description"]
    paths = document["paths"]
    assert {} in paths["/repos/{subject}/{repo}/packages"]["get"]["security"]  # anyone reads
    assert {"accessKey": []} in paths["/dl/{subject}/{repo}/{file_path}"]["get"]["security"]
    admin_only = paths["/api/security/users"]["get"]["security"]
    assert {} not in admin_only and {"accessKey": []} not in admin_only
    assert {"accessKey": []} not in paths["/packages/{subject}/{repo}"]["post"]["security"]


def test_shapes_follow_the_spec(document):
    """A few answers and bodies, as the spec shows them."""
    paths = document["paths"]
    listing = paths["/repos/{subject}/{repo}/packages"]["get"]["responses"]["200"]
    assert set(listing["headers"]) == {"X-RangeLimit-Total", "X-RangeLimit-StartPos", "X-RangeLimit-EndPos"}
    schema = listing["content"]["application/json"]["schema"]
    assert schema["items"]["required"] == ["name", "linked"]
    assert set(paths["/dl/{subject}/{repo}/{file_path}"]["get"]["responses"]) >= {"302", "4XX"}
    create = paths["/packages/{subject}/{repo}"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreatePackageBody"
    }
    package_body = document["components"]["schemas"]["CreatePackageBody"]
    assert "name" in package_body["required"] and "licenses" in package_body["properties"]
    assert "201" in create["responses"]
    upload = paths["/content/{subject}/{repo}/{file_path}"]["put"]
    assert set(upload["responses"]) == {"201", "307", "4XX"}
    assert "application/octet-stream" in upload["requestBody"]["content"]


def test_the_document_needs_no_credentials_and_ignores_them(api):
    assert api.get("/openapi.json", ADMIN).json() == api.get("/openapi.json").json()


def test_readme_links_the_document():
    readme = (ROOT / "README.md").read_text()
    assert "`GET /openapi.json`" in readme and "docs/compatibility.md#openapi-document" in readme
