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
from tests.conftest import ADMIN, World
from tests.test_bola import allow_loopback, build_org, fill, values_of  # noqa: F401  (a fixture)

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


#: Query parameters of which a request names at least one: OpenAPI cannot say so (a parameter is
#: required or not), so each of them says it in its description.
ONE_OF_QUERY = {
    "search_packages": {"name", "desc", "subject", "repo"},
    "search_maven_packages": {"g", "a", "q"},
    "search_repositories": {"name", "desc"},
    "search_files": {"name", "sha1"},
}
#: What a refusal for a missing input says ("The 'name' query parameter is required", "Missing
#: required field 'name'", "At least one of ... is required", "Exactly one of ...").
MISSING = re.compile(
    r"\brequired\b|\bAt least one\b|\bExactly one\b|\bmust be specified\b|\bnon-empty\b", re.I
)


def json_schema(document: dict, operation: dict):
    """The JSON body's schema of ``operation`` (resolvable against the document), or None."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return {"allOf": [content["application/json"]["schema"]], "components": document["components"]}


def least_request(document: dict, spec: RouteSpec, method: str) -> tuple | None:
    """The request of ``method`` on ``spec`` with only what its operation requires: no optional
    query parameter and, for a JSON body, ``{}`` or ``[]`` where the body's schema accepts one."""
    from jsonschema import Draft202012Validator

    found = operation(document, spec, method)
    if any(p["required"] for p in found.get("parameters", [])):
        return None  # a required query parameter: the document says no request goes without it
    if method in ("GET", "HEAD"):
        return (method, None)
    schema = json_schema(document, found)
    if schema is None:
        return None  # no JSON body: uploads, and writes with nothing to omit
    for body in ({}, []):
        if Draft202012Validator(schema).is_valid(body):
            return (method, body)
    return None  # the schema requires some of the body


def test_a_request_without_its_optional_inputs_is_not_refused_for_them(api, document, request):
    """Every read without its optional query parameters, every JSON write with the least body its
    schema accepts: none is refused for a missing input (the document would declare it optional while
    the route requires it, and clients and the fuzzer would send requests that can only get a 400).
    The administrator calls, on objects of a new organisation (tests/test_bola.py), writes after
    reads and the account writes last (a plan changed by one would refuse the routes after it)."""
    request.getfixturevalue("allow_loopback")  # test_bola's: the organisation's webhook on loopback
    org = build_org(api, World(api), "o")
    org["log_name"] = "2026-01-01.log.gz"
    late = ("put_user", "put_org")
    calls = []
    for spec in ROUTES:
        for method in spec.methods:
            if method != "DELETE" and (least := least_request(document, spec, method)):
                calls.append((method not in ("GET", "HEAD"), spec.handler in late, spec, least))
    refused = {}
    for _, _, spec, (method, body) in sorted(calls, key=lambda call: call[:2]):
        path = fill(spec, values_of(org, spec, False))
        response = api.request(method, path, ADMIN, **({} if body is None else {"json": body}))
        refusal = response.status_code == 400 and response.content
        message = response.json().get("message", "") if refusal else ""
        if MISSING.search(message) and spec.handler not in ONE_OF_QUERY:
            refused[f"{method} {spec.path}"] = message
    assert not refused, "\n".join(f"{call}: {message}" for call, message in refused.items())
    assert len(calls) > 100


def test_query_parameters_of_which_one_is_needed_say_so(api, document):
    """GET /search/packages without name, desc, subject and repo is a 400 (as are the other routes of
    ONE_OF_QUERY without any of theirs); each of those parameters' descriptions says so."""
    by_handler = {spec.handler: spec for spec in ROUTES}
    for handler, names in ONE_OF_QUERY.items():
        spec = by_handler[handler]
        response = api.get(spec.path, ADMIN)
        assert response.status_code == 400 and "At least one of" in response.json()["message"], handler
        parameters = {p["name"]: p for p in operation(document, spec, "GET")["parameters"]}
        for name in names:
            assert parameters[name]["required"] is False
            assert "At least one of" in parameters[name]["schema"].get("description", ""), (handler, name)
