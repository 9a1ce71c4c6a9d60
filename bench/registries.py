"""``make bench``, issue #13: an npm packument of 1,000 versions (a precomputed document: operations per
read whatever the number of versions) and the Maven metadata recalculation of an artifact with 1,000
versions (incremental, one artifact, and from scratch). The data is written through the models (not
1,000 HTTP publishes), then read and recalculated as deployed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VERSIONS = 1000


@dataclass
class Timed:
    """A measured action: DynamoDB/S3 operations and wall times over its runs."""

    label: str
    dynamodb: dict[str, int] = field(default_factory=dict)
    s3: dict[str, int] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    note: str = ""


def _run(
    label: str, runs: int, action: Callable[[], Any], note: Callable[[Any], str] = lambda _: ""
) -> Timed:
    from bench.__main__ import aws_calls
    from chalicelib import storage
    from infra.local.opcount import count_operations

    result = Timed(label)
    for _ in range(runs):
        with count_operations() as dynamodb, aws_calls({"s3": storage.s3()}) as calls:
            started = time.perf_counter()
            answer = action()
            result.seconds.append(time.perf_counter() - started)
        for name, count in dynamodb.items():
            result.dynamodb[name] = result.dynamodb.get(name, 0) + count
        for name, count in calls["s3"].items():
            result.s3[name] = result.s3.get(name, 0) + count
        result.note = note(answer)
    return result


def _npm_package(base: str, http: Any, auth: tuple[str, str], user: str) -> str:
    """An npm registry with package ``big`` of 1,000 published versions; its packument URL."""
    import json

    from chalicelib.accounts.models import Subject
    from chalicelib.npm import services
    from chalicelib.npm.models import NpmManifest, NpmPackage
    from chalicelib.packages.services import CreatePackageBody, create_package
    from chalicelib.repositories.models import Repository
    from chalicelib.timefmt import now

    http.post(f"{base}/repos/{user}/npm", auth=auth, json={"type": "npm"}).raise_for_status()
    repo = Repository.get(user, "npm")
    package = create_package(
        Subject.get(user),
        repo,
        CreatePackageBody(name="big", licenses=["MIT"], vcs_url="https://example.com/x.git"),
    )
    at = now()
    with NpmManifest.batch_write() as batch:
        for i in range(VERSIONS):
            version = f"1.{i // 100}.{i % 100}"
            manifest = {
                "name": "big",
                "version": version,
                "description": "a package of many versions",
                "dependencies": {"left-pad": "^1.0.0"},
                "license": "MIT",
                "dist": {
                    "shasum": uuid.uuid4().hex + "00000000",
                    "integrity": "sha512-" + "A" * 86 + "==",
                    "tarball": f"@@SHELF_NPM_BASE@@/big/-/big-{version}.tgz",
                },
            }
            batch.save(
                NpmManifest(
                    package.id,
                    version,
                    manifest=json.dumps(manifest),
                    path=f"big/-/big-{version}.tgz",
                    published=at,
                )
            )
    item = NpmPackage(
        repo.id,
        "big",
        package="big",
        package_id=package.id,
        owner=user,
        repo="npm",
        dist_tags={"latest": "1.9.99"},
        created=at,
        modified=at,
        revision=1,
    )
    item.save()
    services.rebuild(item)
    return f"{base}/npm/{user}/npm/big"


def _maven_artifact(base: str, http: Any, auth: tuple[str, str], user: str) -> Any:
    """A Maven repository with artifact com.acme:big in 1,000 published versions (a jar each)."""
    from chalicelib.accounts.models import Subject
    from chalicelib.content.models import File
    from chalicelib.packages.services import CreatePackageBody, create_package
    from chalicelib.repositories.models import Repository
    from chalicelib.timefmt import now

    http.post(f"{base}/repos/{user}/maven", auth=auth, json={"type": "maven"}).raise_for_status()
    repo = Repository.get(user, "maven")
    package = create_package(
        Subject.get(user),
        repo,
        CreatePackageBody(name="big", licenses=["MIT"], vcs_url="https://example.com/x.git"),
    )
    at = now()
    with File.batch_write() as batch:
        for i in range(VERSIONS):
            version = f"1.{i // 100}.{i % 100}"
            path = f"com/acme/big/{version}/big-{version}.jar"
            batch.save(
                File(
                    repo.id,
                    path,
                    name=path.rsplit("/", 1)[1],
                    name_lower=path.rsplit("/", 1)[1],
                    owner=user,
                    repo="maven",
                    package="big",
                    package_id=package.id,
                    version=version,
                    version_key=f"{package.id}#{version}",
                    size=1,
                    sha1="0" * 40,
                    sha256="0" * 64,
                    created=at,
                    published=True,
                    published_at=at,
                )
            )
    return repo


def measure(base: str, http: Any, auth: tuple[str, str], user: str, runs: int) -> list[Timed]:
    import requests

    from chalicelib.indexes import services as indexes

    packument = _npm_package(base, http, auth, user)
    full = _run(
        f"npm packument, {VERSIONS:,} versions (GET /npm/:s/:r/big)",
        runs,
        lambda: http.get(packument),
        lambda r: f"{len(r.content) / 1024:.0f} KiB",
    )
    short = _run(
        f"abbreviated packument, {VERSIONS:,} versions (Accept: install-v1)",
        runs,
        lambda: http.get(packument, headers={"Accept": "application/vnd.npm.install-v1+json"}),
        lambda r: f"{len(r.content) / 1024:.0f} KiB",
    )
    repo = _maven_artifact(base, http, auth, user)

    changed = frozenset({"com/acme/big/1.9.99/big-1.9.99.jar"})

    def recalculate(paths: frozenset[str] | None) -> Callable[[], Any]:
        def run() -> Any:
            indexes.request(repo.id, repo.owner, repo.name, paths or (), full=paths is None, send=False)
            return indexes.run(repo.id)

        return run

    few = max(runs // 10, 3)
    scratch = _run(
        f"Maven metadata from scratch, {VERSIONS:,} versions (calc_metadata; run)", few, recalculate(None)
    )
    incremental = _run(
        f"Maven metadata, {VERSIONS:,} versions, one version published (run)", few, recalculate(changed)
    )
    metadata_url = f"{base}/dl/{user}/maven/com/acme/big/maven-metadata.xml"
    served = _run(
        "GET maven-metadata.xml (/dl, 302 to the index)",
        runs,
        lambda: http.get(metadata_url, allow_redirects=False),
    )
    requests.get(
        http.get(metadata_url, allow_redirects=False).headers["Location"], timeout=10
    ).raise_for_status()
    return [full, short, scratch, incremental, served]


def report(results: list[Timed]) -> None:
    import statistics

    print("\nRegistries (issue #13): per action, mean over its runs\n")
    print("| action | DynamoDB ops | S3 ops | mean latency | size |")
    print("|---|---|---|---|---|")
    for r in results:
        runs = len(r.seconds)

        def per(counter: dict[str, int], runs: int = runs) -> str:
            if not counter:
                return "0"
            parts = ", ".join(f"{k} {v / runs:g}" for k, v in sorted(counter.items()))
            return f"{sum(counter.values()) / runs:g} ({parts})"

        mean = statistics.mean(r.seconds) * 1000
        print(f"| {r.label} | {per(r.dynamodb)} | {per(r.s3)} | {mean:.1f} ms | {r.note} |")
