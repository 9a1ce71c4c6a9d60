"""Cold start = ``import app`` + the first request, in fresh interpreters against the local AWS.

Each run is a new interpreter that imports ``app`` and then hands the function one API Gateway event,
as a cold Lambda container does, then a second one of the same route (warm); CPU (``process_time``)
and wall time of each step, medians over the runs, the routes interleaved. The difference between the
first and the second request is what the first request pays once per container: the modules and
models imported on first use (pydantic and a body's model, a service's dependencies), the DynamoDB
connection and its botocore client.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time, uuid
cpu, wall = time.process_time, time.perf_counter
c0, w0 = cpu(), wall()
import app
c1, w1 = cpu(), wall()
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request
from chalicelib.web.routing import API_BINARY_MEDIA_TYPES
from infra.local.gateway import LambdaContext, LocalGateway, match
spec = json.loads(sys.argv[1])
gateway = LocalGateway(app.app, binary_media_types=API_BINARY_MEDIA_TYPES)
def event():
    body = spec["body"] and spec["body"].replace("NAME", uuid.uuid4().hex[:12])
    request = Request(EnvironBuilder(path=spec["path"], method=spec["method"], data=body,
                                     headers=spec["headers"]).get_environ())
    resource, params = match(gateway.tree, request.path)
    return gateway.event(request, resource, params, gateway.body(request))
out = {"import": (c1 - c0, w1 - w0)}
for name in ("first", "second"):
    e = event()
    c, w = cpu(), wall()
    result = app.app(e, LambdaContext())
    out[name] = (cpu() - c, wall() - w)
    if result["statusCode"] != spec["status"]:
        raise SystemExit(f"{spec['method']} {spec['path']}: {result['statusCode']} {result.get('body')}")
print(json.dumps(out))
"""


def routes(user: str, key: str) -> list[dict[str, Any]]:
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()}
    return [
        {
            "label": f"GET /repos/{user}/tools (anonymous, no body)",
            "method": "GET",
            "path": f"/repos/{user}/tools",
            "body": None,
            "headers": {},
            "status": 200,
        },
        {
            "label": f"POST /packages/{user}/tools (JSON body: pydantic, CreatePackageBody)",
            "method": "POST",
            "path": f"/packages/{user}/tools",
            "headers": auth,
            "status": 201,
            "body": '{"name": "NAME", "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}',
        },
        {
            "label": "GET /openapi.json (every model's schema)",
            "method": "GET",
            "path": "/openapi.json",
            "body": None,
            "headers": {},
            "status": 200,
        },
    ]


def setup() -> tuple[str, str]:
    """The local AWS, its resources and a user with a repository; returns (user, API key)."""
    from infra.local.aws import create_resources, point_at, start_moto

    _, endpoint = start_moto(0)
    point_at(endpoint, table_prefix="shelf-cold-")
    os.environ["SHELF_RATE_LIMIT_DAILY"] = os.environ["SHELF_RATE_LIMIT_MONTHLY"] = "0"
    from chalicelib.accounts.services import UserBody, bootstrap_admin, put_user
    from chalicelib.repositories.services import CreateRepoBody, create_repository

    create_resources()
    bootstrap_admin("admin", "admin-secret")
    user = f"cold-{uuid.uuid4().hex[:8]}"
    owner, key = put_user(user, UserBody(email=f"{user}@example.com"))
    create_repository(owner, "tools", CreateRepoBody())
    return user, key


def report(repeat: int = 7, against: Path | None = None) -> None:
    """The table; ``against``: another checkout (e.g. main's) measured in the same runs, interleaved."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    user, key = setup()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SHELF_TRACING")}
    trees = {"": ROOT, **({f" [{against}]": against} if against else {})}
    specs = [(tag, tree, spec) for spec in routes(user, key) for tag, tree in trees.items()]
    runs: dict[str, list[dict[str, Any]]] = {spec["label"] + tag: [] for tag, _, spec in specs}
    for index in range(repeat + 1):  # the first round writes .pyc files and is not counted
        for tag, tree, spec in specs:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(spec)],
                cwd=tree,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            if index:
                runs[spec["label"] + tag].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\nCold start: import app + first request (median of {repeat} fresh interpreters; CPU, wall)\n")
    print("| route | import | first request | second request | first − second | import + first |")
    print("|---|---|---|---|---|---|")

    def median(measured: list[dict[str, Any]], value: Any) -> tuple[float, float]:
        return tuple(statistics.median(value(m, i) for m in measured) * 1000 for i in (0, 1))  # type: ignore[return-value]

    for label, measured in runs.items():
        parts = ("import", "first", "second")
        cells = [median(measured, lambda m, i, part=part: m[part][i]) for part in parts]
        cells.append(median(measured, lambda m, i: m["first"][i] - m["second"][i]))
        cells.append(median(measured, lambda m, i: m["import"][i] + m["first"][i]))
        print(f"| {label} | " + " | ".join(f"{c:.0f} ms, {w:.0f} ms" for c, w in cells) + " |")
