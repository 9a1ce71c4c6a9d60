"""schemathesis against the API: every operation of ``GET /openapi.json`` called with generated input.

The document is loaded from the local gateway (the WSGI app ``make serve`` runs) and the cases are sent
to it in-process (schemathesis' WSGI transport; no socket). The caller is the system administrator
(HTTP Basic, API key), so the handlers get past the permission checks; path parameters name real
objects of an Enterprise organisation built with one object of every kind (tests/test_bola.py
``build_org``), so that generated bodies and queries reach the code behind the lookups. Operations
run in a fixed order: reads, then writes, then deletes, the ones that destroy the most last.

Checks on every answer: no 5xx, the status is declared for the operation, the Content-Type is a
declared one, declared headers match their schema and a JSON body matches the declared schema (the
route's ``response=`` model). Failures are collected over all operations and reported together.

``make test``: ``FUZZ_EXAMPLES`` (default 1) positive and as many negative cases per operation
(negative ones where there is a body or query to make invalid), a fixed seed (``FUZZ_SEED``), no
shrinking, no example database, no stateful phase. ``make fuzz``: 200 of each (docs/reliability.md,
"Schemathesis"). With ``-s`` the test prints its calls, statuses, CPU time and the operations that
never answered a 2xx/3xx, each with the last answer to a valid (positive) case.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter

import pytest

from chalicelib.accounts.services import bootstrap_admin
from chalicelib.web.openapi import operation_ids
from chalicelib.web.routing import ROUTES
from tests.conftest import ADMIN, World, assert_message
from tests.test_bola import allow_loopback, build_org, values_of  # noqa: F401  (allow_loopback: a fixture)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1"))
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
#: Deletes that remove an object others live in, in the order they run (after every other operation).
DESTROYERS = (
    "delete_content",
    "npm_delete",
    "delete_version",
    "delete_package",
    "delete_product",
    "delete_repository",
    "delete_member",
    "delete_user",
    "delete_org",
)

#: File paths of uploads (other routes name the published file, tests/test_bola.py ``FILE_PATHS``).
UPLOADS = {"upload_content": "{package}/1.0/fuzz.bin"}


def basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


@pytest.fixture(scope="module")
def org(api, request) -> dict:
    request.getfixturevalue("allow_loopback")  # test_bola's: webhook targets on loopback accepted
    org = build_org(api, World(api), "f")
    org["log_name"] = "2026-01-01.log.gz"
    return org


def order(operation) -> tuple:
    handler = operation.definition.raw.get("operationId", "")
    method = operation.method.upper()
    if method in ("GET", "HEAD"):
        return (0, 0)
    if method != "DELETE":
        return (1, handler == "regenerate_api_key")
    base = handler.split("__")[0]
    if base in DESTROYERS:
        return (3, DESTROYERS.index(base))
    return (2, -len(operation.path_parameters))


class Fuzzer:
    """Sends the cases of every operation to the gateway in-process and checks each answer."""

    def __init__(self, gateway, org: dict) -> None:
        import schemathesis

        self.gateway = gateway
        self.schema = schemathesis.openapi.from_wsgi("/openapi.json", gateway)
        self.org = org
        self.specs = {name: ROUTES[index] for (index, _), name in operation_ids(ROUTES).items()}
        self.auth = {"Authorization": basic(*ADMIN)}
        self.failures: dict[str, str] = {}
        self.statuses: dict[str, Counter] = {}  # operation label: {"2xx": n, ...}
        self.seconds: dict[str, float] = {}  # operation label: wall time
        self.last: dict[str, str] = {}  # operation label: its last answer's status and start
        self.last_positive: dict[str, str] = {}  # the same, of its last positive (valid) case
        self.positive = True  # the mode of the cases being sent
        self.calls = 0

    def operations(self) -> list:
        return sorted((result.ok() for result in self.schema.get_all_operations()), key=order)

    def call(self, case) -> None:
        from schemathesis.errors import FailureGroup

        self.calls += 1
        response = case.call(headers=self.auth)
        label = case.operation.label
        self.statuses.setdefault(label, Counter())[f"{response.status_code // 100}xx"] += 1
        self.last[label] = f"{response.status_code} {response.content[:120]!r}"
        if self.positive:
            self.last_positive[label] = self.last[label]
        regenerated = case.operation.definition.raw["operationId"] == "regenerate_api_key"
        if regenerated and response.status_code == 200:
            self.auth["Authorization"] = basic(ADMIN[0], response.json()["apiKey"])
        try:
            case.validate_response(response, checks=checks())
        except (AssertionError, FailureGroup) as error:  # every failure is reported at the end
            self.failures.setdefault(label, str(error))

    def run(self, operation, examples: int) -> None:
        """``examples`` positive, then ``examples`` negative cases of ``operation``."""
        from hypothesis import HealthCheck, Phase, given, seed, settings
        from hypothesis.errors import Unsatisfiable
        from schemathesis import GenerationMode

        spec = self.specs[operation.definition.raw["operationId"]]
        values = values_of(self.org, spec, False)
        if spec.handler in UPLOADS:  # the path form: the generated body becomes a file of the version
            values["file_path"] = UPLOADS[spec.handler].format(package=self.org["package"])
        fixed = {p.name: values[p.name] for p in operation.path_parameters}
        started = time.monotonic()
        modes = [GenerationMode.POSITIVE]
        if operation.body or operation.query or operation.headers:  # else nothing to make invalid
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            self.positive = mode is GenerationMode.POSITIVE
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            test = seed(SEED)(
                settings(
                    max_examples=examples,
                    phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),  # slow calls, filtered cases: expected
                )(given(case=strategy)(self.call))
            )
            try:
                test()
            except Unsatisfiable:  # no invalid case the generator could make (e.g. every field is free)
                assert mode is GenerationMode.NEGATIVE, operation.label
        if spec.handler in ("put_org", "put_user"):
            self.restore_plans()
        self.seconds[operation.label] = time.monotonic() - started

    def restore_plans(self) -> None:
        """The organisation and its owner on Enterprise again (generated bodies set other plans, and
        the Premium and Enterprise routes after them would only answer the plan's refusal)."""
        from werkzeug.test import Client

        client = Client(self.gateway)
        owner = self.org["owner"].name
        for path, body in (
            (f"/api/security/users/{owner}", {"email": f"{owner}@example.com", "plan": "enterprise"}),
            (f"/orgs/{self.org['org']}", {"owner": owner, "plan": "enterprise"}),
        ):
            response = client.put(path, json=body, headers=self.auth)
            assert response.status_code in (200, 201), response.get_data(as_text=True)


def checks() -> list:
    """The checks of every answer (imported here: only this module's test loads schemathesis)."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


def test_found_cases_are_refused(api, org):
    """What the long mode found, kept: each was a 500 (docs/reliability.md, "Schemathesis")."""
    response = api.put(f"/orgs/{org['org']}", ADMIN, json={"": [[]], "owner": ""})
    assert response.status_code == 400, response.text
    assert_message(response, "owner")


def test_every_operation_answers_as_documented(gateway, org):
    started, cpu = time.monotonic(), time.process_time()
    fuzzer = Fuzzer(gateway, org)
    operations = fuzzer.operations()
    try:
        for operation in operations:
            fuzzer.run(operation, EXAMPLES)
    finally:
        bootstrap_admin(*ADMIN)  # POST /api/security/apiKey replaced the administrator's key
    statuses = sum(fuzzer.statuses.values(), Counter())
    unanswered = [label for label, seen in fuzzer.statuses.items() if not seen["2xx"] + seen["3xx"]]
    slowest = sorted(fuzzer.seconds.items(), key=lambda item: -item[1])[:5]
    print(
        f"\nschemathesis: {fuzzer.calls} calls, {len(operations)} operations, "
        f"{time.monotonic() - started:.1f} s, {time.process_time() - cpu:.1f} s CPU, "
        f"{dict(sorted(statuses.items()))}; slowest "
        f"{[(label, round(seconds, 1)) for label, seconds in slowest]}; "
        f"without a 2xx/3xx: {len(unanswered)}"
    )
    for label in unanswered:
        print(f"  {label}: {fuzzer.last_positive.get(label, fuzzer.last[label])}")
    failures = fuzzer.failures
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    # A broken set-up (a lost key, a missing object) would make the checks pass on refusals alone.
    assert len(operations) - len(unanswered) >= 0.7 * len(operations), unanswered
