"""Fault injection (docs/reliability.md, "Fault injection"): each operation is run once to count its AWS
calls K; then, for every N in 1..K, on fresh objects, its Nth call fails (tests/faults.py). The request
must answer 503 (never a success with lost work, never a 500); the client's retry then succeeds (a
delete: or 404, the object is gone), and once the outbox's sweep ran and the queued events were
delivered, the state is consistent: no orphan record, no published file unannounced, no blob missing
under a file, the quota, package counts and storage statistics equal to a recomputation."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import eventbus, events, outbox, queues, storage
from chalicelib.accounts.models import Subject
from chalicelib.attributes.models import Attribute
from chalicelib.content.models import File
from chalicelib.docs_meta.models import DocsMeta
from chalicelib.links.models import Link
from chalicelib.npm.models import NpmManifest
from chalicelib.packages.models import Package, Version
from chalicelib.repositories.models import Repository
from chalicelib.stats.models import Stat, storage_key
from infra.local.events import EventPump
from tests.conftest import ADMIN, unique
from tests.faults import Faults

FAULTS = Faults()
PROFILE = bool(os.environ.get("FAULTS_PROFILE"))
MESSAGE = "A storage service is unavailable; try again in a moment"


@dataclass
class Env:
    api: Any
    world: Any
    owner: Any
    repo: str
    #: (repo id, path) of every file a delivered VersionPublished announced.
    announced: set[tuple[str, str]] = field(default_factory=set)
    pump: EventPump | None = None


@pytest.fixture(scope="module")
def env(api, gateway) -> Env:
    from tests.conftest import World

    world = World(api)
    owner = world.user(plan="premium")
    return Env(api, world, owner, world.repo(owner.name))


@pytest.fixture(autouse=True)
def _announcements(env: Env, monkeypatch) -> None:
    """Remember what the VersionPublished events that reached the queue announced."""
    real = events.sender

    def sender(event: events.Event) -> None:
        real(event)  # a failed send announced nothing
        if isinstance(event, events.VersionPublished):
            env.announced.update((event.repo_id, path) for path in event.files)

    monkeypatch.setattr(events, "sender", sender)
    env.pump = EventPump({queues.EVENTS: eventbus.lifecycle_events})


# --- the state's invariants ---------------------------------------------------------------------


def settle(env: Env) -> None:
    """What happens after a failed request by itself: the outbox's sweep, the queued events' delivery."""
    outbox.sweep(timedelta(0))
    assert env.pump is not None
    env.pump.drain()
    assert list(outbox.Pending.scan()) == [], "outbox entries left after the sweep"


def check_consistency(env: Env) -> None:
    owner = env.owner.name
    repos = {r.id: r for r in Repository.query(owner)}
    packages = {p.id: p for repo_id in repos for p in Package.query(repo_id)}
    problems: list[str] = []
    for package in Package.scan(Package.owner == owner):
        if package.repo_id not in repos:
            problems.append(f"package {package.name} of a deleted repository")
    versions = {}
    for version in Version.scan(Version.owner == owner):
        if version.package_id not in packages:
            problems.append(f"version {version.package}/{version.name} of a deleted package")
        versions[(version.package_id, version.name)] = version
    for package in packages.values():
        for pointer in (package.newest_version, package.latest_published_version):
            if pointer and (package.id, pointer) not in versions:
                problems.append(f"package {package.name} points at deleted version {pointer}")
        count = sum(1 for v in versions if v[0] == package.id)
        assert count >= 0
    files = list(File.scan(File.owner == owner))
    for record in files:
        where = f"file {record.repo}/{record.path}"
        if record.repo_id not in repos or record.package_id not in packages:
            problems.append(f"{where} of a deleted repository or package")
        version = versions.get((record.package_id, record.version))
        if version is None:
            problems.append(f"{where} of deleted version {record.version}")
        elif record.published and not version.published:
            problems.append(f"{where} published in an unpublished version")
        if record.published and (record.repo_id, record.path) not in env.announced:
            problems.append(f"{where} published but never announced (VersionPublished)")
        if not storage.object_exists(storage.blob_key(record.sha256)):
            problems.append(f"{where}: its blob is gone")
    for model in (Attribute, DocsMeta, NpmManifest):
        for row in model.scan():
            if row.package_id.startswith("p") and row.package_id not in packages and _mine(row, owner):
                problems.append(f"{model.__name__} row of deleted package {row.package_id}")
    for link in Link.scan():
        if getattr(link, "owner", owner) == owner and link.repo_id not in repos and _mine(link, owner):
            problems.append(f"link into deleted repository {link.repo_id}")
    for repo in repos.values():
        count = sum(1 for p in packages.values() if p.repo_id == repo.id)
        if int(repo.package_count or 0) != count:
            problems.append(f"repository {repo.name}: package_count {repo.package_count}, {count} packages")
    size = sum(int(f.size) for f in files)
    quota = int(Subject.get(owner).quota_used_bytes or 0)
    if quota != size:
        problems.append(f"quota_used_bytes {quota}, files {size} bytes")
    try:
        total = Stat.get(storage_key(owner), "total")
        counted = (int(total.bytes or 0), int(total.files or 0))
    except Stat.DoesNotExist:
        counted = (0, 0)
    if counted != (size, len(files)):
        problems.append(f"storage statistics {counted}, files {(size, len(files))}")
    assert not problems, problems


def _mine(row: Any, owner: str) -> bool:
    return getattr(row, "owner", owner) == owner


# --- the operations -------------------------------------------------------------------------------


@dataclass
class Op:
    """``setup(env)`` builds fresh objects and returns what ``request(env, made)`` needs; ``ok``: the
    answers of a successful request (a retry may also answer ``retried``)."""

    setup: Callable[[Env], Any]
    request: Callable[[Env, Any], Any]
    ok: tuple[int, ...] = (200, 201)
    retried: tuple[int, ...] = ()
    after: Callable[[Env, Any], None] | None = None


def _auth(env: Env) -> tuple[str, str]:
    return env.owner.auth


def _version(env: Env, files: int = 0, publish: bool = False) -> tuple[str, str, list[str]]:
    package = env.world.package(env.owner.name, env.repo)
    version = env.world.version(env.owner.name, env.repo, package)
    paths = []
    for i in range(files):
        path = f"{package}/{version}/f{i}.bin"
        answer = env.api.put(f"/content/{env.owner.name}/{env.repo}/{path}", _auth(env), data=b"x" * (i + 3))
        assert answer.status_code == 201, answer.text
        paths.append(path)
    if publish:
        url = f"/content/{env.owner.name}/{env.repo}/{package}/{version}/publish"
        assert env.api.post(url, _auth(env)).status_code == 200
    return package, version, paths


def upload_setup(env: Env) -> tuple[str, str]:
    return env.world.package(env.owner.name, env.repo), unique("v")


def upload(env: Env, made: tuple[str, str]) -> Any:
    package, version = made
    url = f"/content/{env.owner.name}/{env.repo}/{package}/{version}/{package}/a.bin"
    return env.api.put(url, _auth(env), data=b"small file")


def upload_and_publish(env: Env, made: tuple[str, str]) -> Any:
    package, version = made
    url = f"/content/{env.owner.name}/{env.repo}/{package}/{version}/{package}/a.bin?publish=1"
    return env.api.put(url, _auth(env), data=b"published at once")


def publish(env: Env, made: tuple[str, str, list[str]]) -> Any:
    package, version, _ = made
    return env.api.post(f"/content/{env.owner.name}/{env.repo}/{package}/{version}/publish", _auth(env))


def override(env: Env, made: tuple[str, str, list[str]]) -> Any:
    url = f"/content/{env.owner.name}/{env.repo}/{made[2][0]}?override=1"
    return env.api.put(url, _auth(env), data=b"new content, longer")


def delete_file(env: Env, made: tuple[str, str, list[str]]) -> Any:
    return env.api.delete(f"/content/{env.owner.name}/{env.repo}/{made[2][0]}", _auth(env))


def delete_version(env: Env, made: tuple[str, str, list[str]]) -> Any:
    package, version, _ = made
    return env.api.delete(f"/packages/{env.owner.name}/{env.repo}/{package}/versions/{version}", _auth(env))


def delete_package(env: Env, made: tuple[str, str, list[str]]) -> Any:
    return env.api.delete(f"/packages/{env.owner.name}/{env.repo}/{made[0]}", _auth(env))


def repo_setup(env: Env) -> str:
    repo = env.world.repo(env.owner.name)
    package = env.world.package(env.owner.name, repo)
    url = f"/content/{env.owner.name}/{repo}/{package}/1.0/r.bin?publish=1"
    assert env.api.put(url, _auth(env), data=b"in a repository").status_code == 201
    return repo


def delete_repo(env: Env, repo: str) -> Any:
    return env.api.delete(f"/repos/{env.owner.name}/{repo}", _auth(env))


OPS: dict[str, Op] = {
    "upload": Op(upload_setup, upload, (201,), (409,)),
    "upload_publish": Op(upload_setup, upload_and_publish, (201,)),
    "publish": Op(lambda env: _version(env, files=2), publish, (200,)),
    "override": Op(lambda env: _version(env, files=1, publish=True), override, (201,)),
    "delete_file": Op(lambda env: _version(env, files=1, publish=True), delete_file, (200,), (404,)),
    "delete_version": Op(lambda env: _version(env, files=2, publish=True), delete_version, (200,), (404,)),
    "delete_package": Op(lambda env: _version(env, files=2, publish=True), delete_package, (200,), (404,)),
    "delete_repository": Op(repo_setup, delete_repo, (200,), (404,)),
}


def run(env: Env, op: Op, n: int | None, lost: bool = False) -> tuple[int, str | None]:
    """One run of ``op`` with its ``n``th AWS call failing (None: none); returns the calls it made and
    the one that failed."""
    t0 = time.perf_counter()
    made = op.setup(env)
    t1 = time.perf_counter()
    with FAULTS.failing(n, lost) as calls:
        answer = op.request(env, made)
    failed = FAULTS.failed
    t2 = time.perf_counter()
    where = f"call {n} ({failed}) of {calls}"
    if answer.status_code not in op.ok:
        assert answer.status_code == 503, f"{where}: {answer.status_code} {answer.text}"
        assert answer.json() == {"message": MESSAGE}, where
        assert answer.headers.get("Retry-After") == "1"
        again = op.request(env, made)
        assert again.status_code in op.ok + op.retried, f"{where}: retry {again.status_code} {again.text}"
    t3 = time.perf_counter()
    settle(env)
    t4 = time.perf_counter()
    check_consistency(env)
    if PROFILE:
        t5 = time.perf_counter()
        print(f"n={n} {len(calls)} setup {t1-t0:.3f} request {t2-t1:.3f} retry {t3-t2:.3f} settle {t4-t3:.3f} check {t5-t4:.3f}")
    return len(calls), failed


@pytest.mark.parametrize("name", list(OPS))
def test_every_failing_call_leaves_a_consistent_state(env: Env, name: str) -> None:
    op = OPS[name]
    total, _ = run(env, op, None)
    assert total > 0
    for n in range(1, total + 1):
        run(env, op, n)


def test_an_admin_request_counts_its_calls(env: Env) -> None:
    with FAULTS.counting() as calls:
        assert env.api.get(f"/repos/{env.owner.name}/{env.repo}", ADMIN).status_code == 200
    assert calls and all(call.startswith("dynamodb.") for call in calls)
