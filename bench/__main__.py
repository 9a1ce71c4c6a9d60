"""``make bench``: DynamoDB and S3 operations and latency per route, and the cold import of app.py.

Starts the local AWS (moto) and the local API gateway in this process, as the tests do, then sends
real HTTP requests. Operations are counted at the clients: PynamoDB's ``Connection.dispatch`` for
DynamoDB, botocore's ``before-call`` events for S3 and SQS. Presigning a URL is local, not a call.

Run: ``make bench`` (or ``.venv/bin/python -m bench --runs 50``).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("admin", "bench-admin-key-0123456789")


@dataclass
class Measure:
    route: str
    dynamodb: Counter[str] = field(default_factory=Counter)
    s3: Counter[str] = field(default_factory=Counter)
    sqs: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)

    def per_request(self, counter: Counter[str]) -> str:
        runs = len(self.seconds)
        if not counter:
            return "0"
        parts = [f"{name} {count / runs:g}" for name, count in sorted(counter.items())]
        return f"{sum(counter.values()) / runs:g} (" + ", ".join(parts) + ")"


@contextmanager
def aws_calls(clients: dict[str, Any]) -> Iterator[dict[str, Counter[str]]]:
    """Count the calls made through each boto3 client in ``clients`` ({label: client}), by operation."""
    counters: dict[str, Counter[str]] = {label: Counter() for label in clients}
    hooks = []
    for label, client in clients.items():
        service = client.meta.service_model.endpoint_prefix

        def hook(model: Any, _label: str = label, **_: Any) -> None:
            counters[_label][model.name] += 1

        client.meta.events.register(f"before-call.{service}.*", hook)
        hooks.append((client, service, hook))
    try:
        yield counters
    finally:
        for client, service, hook in hooks:
            client.meta.events.unregister(f"before-call.{service}.*", hook)


def start() -> str:
    """Start the local AWS and the gateway; returns the API's base URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from infra.local.aws import point_at, start_moto

    _, endpoint = start_moto(0)
    point_at(endpoint, table_prefix="shelf-bench-")
    # Counted queries keep their one UpdateItem, but the bench's hundreds of anonymous searches stay
    # within the quota.
    os.environ["SHELF_RATE_LIMIT_DAILY"] = os.environ["SHELF_RATE_LIMIT_MONTHLY"] = str(10**9)
    from werkzeug.serving import make_server

    from app import app
    from chalicelib.accounts.services import bootstrap_admin
    from chalicelib.web.routing import API_BINARY_MEDIA_TYPES
    from infra.local.aws import create_resources
    from infra.local.gateway import LocalGateway

    create_resources()
    bootstrap_admin(*ADMIN)
    server = make_server(
        "127.0.0.1", 0, LocalGateway(app, binary_media_types=API_BINARY_MEDIA_TYPES), threaded=True
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def check(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise SystemExit(f"{response.request.method} {response.url}: {response.status_code} {response.text}")
    return response


def measure_routes(base: str, runs: int) -> list[Measure]:
    import requests

    from chalicelib import queues, storage
    from infra.local.opcount import count_operations

    http = requests.Session()
    user = f"bench-{uuid.uuid4().hex[:8]}"
    key = check(
        http.put(f"{base}/api/security/users/{user}", auth=ADMIN, json={"email": f"{user}@example.com"}), 201
    ).json()["api_key"]
    auth = (user, key)
    check(http.post(f"{base}/repos/{user}/generic", auth=auth, json={"type": "generic"}), 201)
    for package in ("tool", "listed"):
        body = {"name": package, "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
        check(http.post(f"{base}/packages/{user}/generic", auth=auth, json=body), 201)
    content = f"{base}/content/{user}/generic"
    # A published file to download and a package of 10 files to list.
    check(http.put(f"{content}/tool/1.0/tool-1.0.bin;publish=1", auth=auth, data=os.urandom(1024)), 201)
    for i in range(10):
        check(http.put(f"{content}/listed/1.0/f{i}.bin;publish=1", auth=auth, data=os.urandom(1024)), 201)

    clients = {"s3": storage.s3(), "sqs": queues.sqs()}
    queues.queue_url(queues.EVENTS)  # resolved once per container, like the deployed code

    def upload(i: int) -> Callable[[], Any]:
        data = os.urandom(1024)
        return lambda: check(http.put(f"{content}/tool/1.0/small-{i}.bin", auth=auth, data=data), 201)

    def publish(i: int) -> Callable[[], Any]:
        # Not measured: one unpublished file in a fresh version, for the publish to act on.
        check(http.put(f"{content}/tool/p{i}/p{i}.bin", auth=auth, data=os.urandom(1024)), 201)
        return lambda: check(http.post(f"{content}/tool/p{i}/publish", auth=auth, json={}), 200)

    def download(i: int) -> Callable[[], Any]:
        return lambda: check(http.get(f"{base}/dl/{user}/generic/tool-1.0.bin", allow_redirects=False), 302)

    def listing(i: int) -> Callable[[], Any]:
        return lambda: check(http.get(f"{base}/packages/{user}/generic/listed/files"), 200)

    search_url = populate_attribute_repo(http, base, auth, user)

    def attribute_search(i: int) -> Callable[[], Any]:
        # Two clauses (a number range and an equality) matching 1 package of the 1,000.
        clauses = [{"n": f"[{100 + i % 10 * 10},{109 + i % 10 * 10}]"}, {"s": "v3"}]

        def run() -> Any:
            found = check(http.post(search_url, json=clauses), 200).json()
            if len(found) != 1:
                raise SystemExit(f"attribute search: expected 1 package, got {len(found)}")

        return run

    scenarios = [
        ("upload 1 KiB (PUT /content, authenticated)", upload),
        ("publish 1 file (POST .../publish)", publish),
        ("download redirect (GET /dl, anonymous)", download),
        ("package files, 10 (GET /packages/.../files)", listing),
        ("attribute search, 1,000 packages, 2 clauses (POST /search/attributes)", attribute_search),
    ]
    results = []
    for route, prepare in scenarios:
        result = Measure(route)
        for i in range(runs):
            request = prepare(i)
            with count_operations() as dynamodb, aws_calls(clients) as calls:
                started = time.perf_counter()
                request()
                result.seconds.append(time.perf_counter() - started)
            result.dynamodb.update(dynamodb)
            result.s3.update(calls["s3"])
            result.sqs.update(calls["sqs"])
        results.append(result)
    return results


def measure_registries(base: str, runs: int) -> list[Any]:
    """npm packuments and Maven metadata of 1,000 versions (``bench/registries.py``)."""
    import requests

    from bench import registries

    http = requests.Session()
    user = f"bench-{uuid.uuid4().hex[:8]}"
    body = {"email": f"{user}@example.com"}
    key = check(http.put(f"{base}/api/security/users/{user}", auth=ADMIN, json=body), 201).json()["api_key"]
    return registries.measure(base, http, (user, key), user, runs)


def populate_attribute_repo(http: Any, base: str, auth: tuple[str, str], user: str) -> str:
    """A repository of 1,000 packages with attributes ``n`` = i and ``s`` = ``v{i % 10}``, created
    through the service layer (not HTTP) for speed; returns its attribute search URL."""
    from chalicelib.accounts.models import Subject
    from chalicelib.attributes.services import package_target, set_attributes
    from chalicelib.packages.services import CreatePackageBody, create_package
    from chalicelib.repositories.models import Repository

    check(http.post(f"{base}/repos/{user}/attrs", auth=auth, json={"type": "generic"}), 201)
    subject, repo = Subject.get(user), Repository.get(user, "attrs")
    for i in range(1000):
        body = CreatePackageBody(name=f"p{i:04d}", licenses=["MIT"], vcs_url="https://example.com/x.git")
        package = create_package(subject, repo, body)
        values = [{"name": "n", "values": [i]}, {"name": "s", "values": [f"v{i % 10}"]}]
        set_attributes(package_target(package), values)
    return f"{base}/search/attributes/{user}/attrs"


#: The cold-import comparison of issue #14: the app against a bare Chalice + boto3 function, the floor
#: its one import-time dependency sets (PynamoDB: pydantic is imported on first use only), and what
#: pydantic would add (a pydantic model imports ``pydantic.fields``, which ``pydantic.main`` does not).
IMPORTS = {
    "app": "import app",
    "baseline": "import chalice, boto3",
    "dependencies": "import chalice, boto3, pynamodb.models",
    "pydantic": "import chalice, boto3, pynamodb.models, pydantic.fields",
}


def import_seconds(*statements: str, repeat: int = 15) -> list[tuple[float, float]]:
    """Median (wall, CPU) seconds of each of ``statements`` in ``repeat`` fresh interpreters,
    interleaved (so a busy machine slows them alike: their ratio is the figure to watch; CPU time, the
    interpreter's own ``time.process_time``, is the steadier one on a shared machine).

    Compiled ``.pyc`` files are written by a first run and used afterwards, as the deployment package,
    which ships them, does: ``PYTHONDONTWRITEBYTECODE`` is removed from the environment (any non-empty
    value, ``"0"`` included, disables writing them, and the app would be compiled on every run). Tracing
    is off (``SHELF_TRACING`` removed): the SDK is imported only when it is on."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SHELF_TRACING")}
    times: dict[str, list[tuple[float, float]]] = {statement: [] for statement in statements}
    for statement in statements:  # warm .pyc files
        subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=env, check=True)
    for _ in range(repeat):
        for statement in statements:
            code = (
                "import time; t, c = time.perf_counter(), time.process_time(); "
                f"{statement}; print(time.perf_counter() - t, time.process_time() - c)"
            )
            out = subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
            )
            wall, cpu = out.stdout.strip().splitlines()[-1].split()
            times[statement].append((float(wall), float(cpu)))
    medians = []
    for statement in statements:
        walls, cpus = zip(*times[statement], strict=True)
        medians.append((statistics.median(walls), statistics.median(cpus)))
    return medians


def report_imports(repeat: int = 15) -> None:
    """The cold-import table of docs/performance.md and the verdict on issue #14's target (≤ 1.3)."""
    measured = dict(zip(IMPORTS, import_seconds(*IMPORTS.values(), repeat=repeat), strict=True))
    base_wall, base_cpu = measured["baseline"]
    print(f"\nCold import (median of {repeat} fresh interpreters each, interleaved)\n")
    print("| import | wall | ratio | CPU | ratio |")
    print("|---|---|---|---|---|")
    for name, statement in IMPORTS.items():
        wall, cpu = measured[name]
        print(
            f"| `{statement}` | {wall * 1000:.0f} ms | {wall / base_wall:.2f} | {cpu * 1000:.0f} ms | "
            f"{cpu / base_cpu:.2f} |"
        )
    for label, index in (("wall", 0), ("CPU", 1)):
        ratio = measured["app"][index] / measured["baseline"][index]
        verdict = "OK" if ratio <= 1.3 else "OVER"
        print(f"- {label} ratio app / (chalice + boto3): {ratio:.2f} -> {verdict} (target: ≤ 1.3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="requests per route (default 50)")
    parser.add_argument("--stats-only", action="store_true", help="only the download statistics section")
    parser.add_argument("--imports-only", action="store_true", help="only the cold-import section")
    parser.add_argument("--cold-start", action="store_true", help="only the first requests after import")
    parser.add_argument("--against", type=Path, help="--cold-start: also measure this checkout (e.g. main's)")
    args = parser.parse_args()
    if args.imports_only:
        report_imports()
        return
    if args.cold_start:
        from bench import coldstart

        coldstart.report(against=args.against)
        return
    if args.stats_only:
        start()
        from bench import stats

        stats.report()
        return

    report_imports()
    # Its own process: it starts its own local AWS, and chalicelib reads the endpoint on import.
    subprocess.run([sys.executable, "-m", "bench", "--cold-start"], cwd=ROOT, check=True)

    base = start()
    results = measure_routes(base, args.runs)
    registries = measure_registries(base, args.runs)

    print(f"\nAWS operations per request (mean over {args.runs} runs each; local AWS over loopback)\n")
    print("| route | DynamoDB ops | S3 ops | SQS ops | mean latency |")
    print("|---|---|---|---|---|")
    for r in results:
        mean_ms = statistics.mean(r.seconds) * 1000
        print(
            f"| {r.route} | {r.per_request(r.dynamodb)} | {r.per_request(r.s3)} | "
            f"{r.per_request(r.sqs)} | {mean_ms:.1f} ms |"
        )
    from bench import indexes

    indexes.report(base, ADMIN, aws_calls)

    from bench.registries import report

    report(registries)

    download = next(r for r in results if r.route.startswith("download"))
    reads = sum(download.dynamodb.values()) / len(download.seconds)
    s3_calls = sum(download.s3.values())
    verdict = "OK" if reads <= 2 and s3_calls == 0 else "OVER BUDGET"
    print(f"\ndownload redirect: {reads:g} DynamoDB reads, {s3_calls} S3 calls -> {verdict} (budget: ≤ 2, 0)")

    from bench import stats

    stats.report()


if __name__ == "__main__":
    main()
