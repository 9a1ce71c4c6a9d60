"""Bad input never answers 500 (issue #9): every declared route, called by the system administrator
(so permissions pass) on the permission matrix's scene, gets a JSON ``{"message"}`` with a 4xx (or its
usual answer, when the input is not one it reads) for a body nested thousands of levels deep, malformed
JSON, JSON that is not an object, invalid UTF-8, an integer of thousands of digits, a ``start_pos`` of
non-ASCII or thousands of digits, and a path parameter under the character limits but over DynamoDB's
1,024-byte key limit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pynamodb.connection.base import Connection
from pynamodb.exceptions import PynamoDBException, TableError

from chalicelib.web.routing import ROUTES, RouteSpec
from tests.conftest import ADMIN, assert_message, unique
from tests.test_permissions import fill, scene, world  # noqa: F401  (the matrix's scene and its builder)

BODIES = {
    "deep_json": b'{"a": ' * 5000 + b"1" + b"}" * 5000,
    "deep_list": b"[" * 100_000 + b"]" * 100_000,
    "nested_100": b"[" * 100 + b"]" * 100,
    "malformed": b'{"name": ',
    "array": b"[1, 2]",
    "string": b'"text"',
    "invalid_utf8": b'{"name": "\xff\xfe\xfa"}',
    "huge_int": b'{"name": "x", "expiry": ' + b"9" * 5000 + b"}",
}
START_POS = {"arabic_digits": "١٢", "superscript": "²", "thousands_of_digits": "9" * 5000}
#: Valid, but far beyond any listing: an empty page, not an overflow.
LARGEST_START_POS = "9" * 18
#: Under every character limit (names 64-128, paths 1024) but over 1,024 bytes in UTF-8.
LONG = "日" * 342  # 1,026 bytes
#: Query parameters the API reads (each is sent alone, over 1,024 bytes).
QUERY_PARAMS = (
    "start_name",
    "name",
    "desc",
    "subject",
    "repo",
    "scope",
    "tag",
    "access_key",
    "sha1",
    "g",
    "a",
    "q",
    "names",
    "product",
    "username",
    "eula_name",
    "from",
    "to",
    "created_after",
    "bt_package",
)
#: Routes whose effect ignores the body and would break the rest of the suite (the admin's own key).
SKIP = {"regenerate_api_key"}


#: DynamoDB's key size limits (bytes of the UTF-8 value); moto does not enforce them.
KEY_LIMITS = {"hash": 2048, "range": 1024}


def _oversized(connection: Connection, table: str, item: dict[str, Any]) -> str | None:
    if not item:
        return None
    try:
        meta = connection.get_meta_table(table)
    except TableError:  # not described yet in this connection
        connection.describe_table(table)
        meta = connection.get_meta_table(table)
    for kind, name in (("hash", meta.hash_keyname), ("range", meta.range_keyname)):
        value = (item.get(name) or {}).get("S") if name else None
        if value is not None and len(value.encode("utf-8")) > KEY_LIMITS[kind]:
            return f"Size of {kind} key {name} of {table} exceeds {KEY_LIMITS[kind]} bytes"
    return None


@pytest.fixture(autouse=True)
def dynamodb_key_limits(monkeypatch):
    """Refuse item keys over DynamoDB's limits, as the real service does (a ValidationException)."""
    original = Connection.dispatch

    def dispatch(self: Connection, operation: str, kwargs: dict[str, Any]) -> dict:
        targets = [(kwargs.get("TableName"), kwargs.get("Key") or kwargs.get("Item") or {})]
        for entry in kwargs.get("TransactItems", []):
            for action in entry.values():
                targets.append((action["TableName"], action.get("Key") or action.get("Item") or {}))
        for table, request in (kwargs.get("RequestItems") or {}).items():
            targets.extend((table, key) for key in request.get("Keys", []))
        for table, item in targets:
            reason = _oversized(self, table, item) if table else None
            if reason:
                raise PynamoDBException(f"ValidationException: {reason}")
        # A Query's key condition: the hash key's value comes first, then the range key's.
        placeholders = re.findall(r":\w+", kwargs.get("KeyConditionExpression") or "")
        values = kwargs.get("ExpressionAttributeValues") or {}
        for index, placeholder in enumerate(placeholders):
            value = values.get(placeholder, {}).get("S")
            limit = KEY_LIMITS["hash" if index == 0 else "range"]
            if value is not None and len(value.encode("utf-8")) > limit:
                raise PynamoDBException(f"ValidationException: a key condition value exceeds {limit} bytes")
        return original(self, operation, kwargs)

    monkeypatch.setattr(Connection, "dispatch", dispatch)


def cases() -> list[tuple[RouteSpec, str, str, str]]:
    out = []
    for spec in ROUTES:
        if spec.handler in SKIP:
            continue
        params = re.findall(r"{(\w+)\+?}", spec.path)
        for method in spec.methods:
            if method in ("POST", "PUT", "PATCH"):
                out.extend((spec, method, "body", name) for name in BODIES)
            if method in ("GET", "HEAD"):
                out.extend((spec, method, "start_pos", name) for name in [*START_POS, "largest"])
            if method == "GET":
                out.extend((spec, method, "query", name) for name in QUERY_PARAMS)
            out.extend((spec, method, "long", name) for name in params)
    # Deletions last: a deleted scene item would turn later cases into plain 404s.
    return sorted(out, key=lambda case: case[1] == "DELETE")


def check(response, method: str) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400 and method != "HEAD":
        body = response.json()
        assert set(body) == {"message"} and isinstance(body["message"], str), body


@pytest.mark.parametrize(
    ("spec", "method", "kind", "name"),
    cases(),
    ids=lambda v: v.handler if isinstance(v, RouteSpec) else str(v),
)
def test_bad_input_is_a_json_4xx(api, scene, spec, method, kind, name):  # noqa: F811
    path, params = fill(spec, scene, False if "{repo}" in spec.path and not spec.creates_repo else None)
    query: dict[str, str] = {}
    body = b""
    if kind == "body":
        body = BODIES[name]
    elif kind == "start_pos":
        query["start_pos"] = START_POS.get(name, LARGEST_START_POS)
    elif kind == "query":
        query[name] = LONG
        if spec.handler == "search_entitlements" and name != "scope":
            query["scope"] = scene["org"]
    else:
        value = "a/" + LONG if name == "file_path" else LONG
        params[name] = value
        path = re.sub(r"{(\w+)\+?}", lambda m: params[m.group(1)], spec.path)
    headers = {"Content-Type": "application/json"}
    response = api.request(method, path, ADMIN, params=query, data=body, headers=headers)
    check(response, method)


def test_file_paths_are_limited_in_bytes(api, world):  # noqa: F811  (the module-scoped builder)
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    base = f"/content/{owner.name}/{repo}/{package}/1.0"
    response = api.put(f"{base}/{'日' * 342}", owner.auth, data=b"x")  # 342 characters, 1,026 bytes
    assert response.status_code == 400
    assert_message(response, "1 to 1024 bytes")
    name = "日" * 341 + "a"  # 1,024 bytes: the most a key holds
    assert api.put(f"{base}/{name}?publish=1", owner.auth, data=b"x").status_code == 201
    assert api.get(f"/dl/{owner.name}/{repo}/{name}").status_code == 302
    for prefix in ("dl", "content", "file_version", "file_package", "files"):
        response = api.get(f"/{prefix}/{owner.name}/{repo}/{'日' * 342}")
        assert response.status_code in (400, 404), (prefix, response.text)
        assert set(response.json()) == {"message"}
    missing = api.get(f"/packages/{owner.name}/{repo}/{unique('p')}{'日' * 342}")
    assert missing.status_code in (400, 404)
    # Attributes of that file: the index key holds the value and the path (1,024 bytes in all).
    attributes = [{"name": "a", "values": ["x" * 100]}]
    response = api.post(f"/files/{owner.name}/{repo}/{name}/attributes", owner.auth, json=attributes)
    assert response.status_code == 400
    assert_message(response, "too long")
    response = api.post(
        f"/files/{owner.name}/{repo}/{name}/attributes", owner.auth, json=[{"name": "a", "values": [1]}]
    )
    assert response.status_code == 400  # even a number's encoding does not fit beside the path


@pytest.mark.parametrize("value", [*START_POS.values(), "-1", "1.5", "0x10"], ids=lambda v: v[:12])
def test_listings_refuse_bad_start_pos(api, scene, value):  # noqa: F811
    response = api.get(f"/repos/{scene['org']}/{scene['repos'][False]}/packages", params={"start_pos": value})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid value for 'start_pos': expected a non-negative integer of at most 18 digits"
    }
    assert api.get(f"/repos/{scene['org']}/{scene['repos'][False]}/packages", params={"start_pos": "1"}).ok
    far = api.get(
        f"/repos/{scene['org']}/{scene['repos'][False]}/packages", params={"start_pos": LARGEST_START_POS}
    )
    assert far.status_code == 200 and far.json() == []


@pytest.mark.parametrize(
    "query",
    [
        {"expiry": "1", "id": "x", "signature": "é"},
        {"expiry": "²", "id": "x", "signature": "x"},
        {"expiry": "9" * 5000, "id": "x", "signature": "x"},
    ],
    ids=["non_ascii_signature", "superscript_expiry", "long_expiry"],
)
def test_bad_signed_url_queries_are_403(api, scene, query):  # noqa: F811
    response = api.get(f"/dl/{scene['org']}/{scene['repos'][True]}/f.txt", params=query)
    assert response.status_code == 403
    assert set(response.json()) == {"message"}


def test_wrong_credentials_are_401_before_names_are_checked(api):
    """Wrong credentials are a 401 on every route, whatever else is wrong with the request."""
    response = api.get(f"/packages/{LONG}/r/p", ("nobody", "wrong-key"), params={"start_name": LONG})
    assert response.status_code == 401
    response = api.get(f"/packages/{LONG}/r/p")
    assert response.status_code == 404  # nothing of that name can exist
    assert_message(response, "at most 255 bytes")
