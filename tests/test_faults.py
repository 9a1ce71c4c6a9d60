"""Fault injection (docs/reliability.md, "Fault injection"): each operation is run once to count its AWS
calls K; then, for every N in 1..K, on fresh objects, its Nth call fails (tests/faults.py). The request
must answer 503 (never a success with lost work, never a 500); the client's retry then succeeds (a
delete: or 404, the object is gone), and once the outbox's sweep ran and the queued events were
delivered, the state is consistent: no orphan record, no published file unannounced, no blob missing
under a file, the quota, package counts and storage statistics equal to a recomputation."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

import pytest

from chalicelib import events, outbox, queues, storage
from chalicelib.accounts.models import Subject
from chalicelib.attributes.models import Attribute
from chalicelib.content.models import File
from chalicelib.docs_meta.models import DocsMeta
from chalicelib.entitlements.models import Entitlement, EntitlementRef, key_ref, tag_ref
from chalicelib.links.models import Link
from chalicelib.npm.models import NpmManifest
from chalicelib.packages.models import Package, Version
from chalicelib.repositories.models import Repository
from chalicelib.stats.models import Stat, storage_key
from chalicelib.teams.models import Team, TeamMembership, map_dict
from chalicelib.timefmt import now
from tests.conftest import ADMIN
from tests.faults import Faults

FAULTS = Faults()
PROFILE = bool(os.environ.get("FAULTS_PROFILE"))
MESSAGE = "A storage service is unavailable; try again in a moment"


@dataclass
class Env:
    api: Any
    world: Any
    #: (repo id, path) of every file a delivered VersionPublished announced.
    announced: set[tuple[str, str]] = field(default_factory=set)
    #: Queued events not delivered yet.
    queued: list[events.Event] = field(default_factory=list)
    #: (repo id, path) -> the S3 key the last delivered DownloadPathChanged named (an index file).
    served: dict[tuple[str, str], str | None] = field(default_factory=dict)
    #: Every DownloadsLogged that reached the events queue (a CDN log file's parts).
    logged: list[events.DownloadsLogged] = field(default_factory=list)
    #: Every UsageThresholdExceeded that reached the events queue.
    alerted: list[events.UsageThresholdExceeded] = field(default_factory=list)


@dataclass
class Made:
    """What an operation's setup built: a fresh Premium owner with a repository, and the rest."""

    owner: Any
    repo: str
    package: str = ""
    version: str = ""
    paths: list[str] = field(default_factory=list)
    extra: Any = None
    repo_ids: set[str] = field(default_factory=set)
    package_ids: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def env(api, gateway) -> Env:
    from tests.conftest import World

    queues.queue_url(queues.EVENTS)  # cached by the first send: not a call of the first operation
    return Env(api, World(api))


#: The queued subscribers delivered to (those the invariants read: the storage statistics); the others
#: (event stream, CDN copies, indexes, webhooks) cost the suite's time and are checked elsewhere.
DELIVERED = {"chalicelib.stats.subscribers:storage_changed", "chalicelib.stats.subscribers:record_logged"}
#: Events of no invariant here (left out: they only cost the suite's time).
IGNORED = (events.LoginSucceeded, events.LoginFailed, events.Downloaded)


@pytest.fixture(autouse=True)
def _queue(env: Env, monkeypatch) -> None:
    """Queued events: sent to SQS while a fault may be injected (so that the send can fail), kept to be
    delivered in-process by ``settle`` (cheaper than the queue's round trips: the messages are left
    in the queue, which the next module's reset empties); the VersionPublished
    events remembered (what they announced)."""
    real = events.sender

    def sender(event: events.Event) -> None:
        if isinstance(event, IGNORED):
            return
        if FAULTS.armed:
            real(event)  # a failed send announced nothing
        env.queued.append(event)
        if isinstance(event, events.VersionPublished):
            env.announced.update((event.repo_id, path) for path in event.files)
        if isinstance(event, events.DownloadPathChanged):
            env.served[(event.repo_id, event.path)] = event.key
        if isinstance(event, events.DownloadsLogged):
            env.logged.append(event)
        if isinstance(event, events.UsageThresholdExceeded):
            env.alerted.append(event)

    monkeypatch.setattr(events, "sender", sender)


# --- the state's invariants ---------------------------------------------------------------------


def settle(env: Env) -> None:
    """What happens after a failed request by itself: the outbox's sweep, the queued events' delivery."""
    outbox.sweep(timedelta(0))  # raises when an entry could not be released
    while env.queued:
        batch, env.queued[:] = list(env.queued), []
        for event in batch:
            for sub in events.subscriptions(type(event)):
                if sub.queued and sub.target in DELIVERED:
                    events._call(sub.target, event, sub.batch)


def remember_ids(made: Made) -> None:
    """The ids of the owner's repositories and packages (those deleted later are checked for orphans)."""
    for repo in Repository.query(made.owner.name):
        made.repo_ids.add(repo.id)
        made.package_ids.update(p.id for p in Package.query(repo.id))


def check_consistency(env: Env, made: Made) -> None:
    """The owner's state: no orphan, every published file announced and its blob there, the quota,
    package counts and storage statistics equal to a recomputation."""
    owner = made.owner.name
    remember_ids(made)
    repos = {r.id: r for r in Repository.query(owner)}
    packages = {p.id: p for repo_id in repos for p in Package.query(repo_id)}
    problems: list[str] = []
    for repo_id in made.repo_ids - set(repos):
        for model in (Package, File, Link):
            if list(model.query(repo_id, limit=1)):
                problems.append(f"{model.__name__} rows of deleted repository {repo_id}")
    for package_id in made.package_ids - set(packages):
        for model in (Version, Attribute, DocsMeta, NpmManifest):
            if list(model.query(package_id, limit=1)):
                problems.append(f"{model.__name__} rows of deleted package {package_id}")
        if list(File.package_index.query(package_id, limit=1)):
            problems.append(f"files of deleted package {package_id}")
    versions = {(v.package_id, v.name): v for pid in packages for v in Version.query(pid)}
    for package in packages.values():
        for pointer in (package.newest_version, package.latest_published_version):
            if pointer and (package.id, pointer) not in versions:
                problems.append(f"package {package.name} points at deleted version {pointer}")
    files = [f for repo_id in repos for f in File.query(repo_id)]
    for record in files:
        where = f"file {record.repo}/{record.path}"
        if record.package_id not in packages:
            problems.append(f"{where} of a deleted package")
        version = versions.get((record.package_id, record.version))
        if version is None:
            problems.append(f"{where} of deleted version {record.version}")
        elif record.published and not version.published:
            problems.append(f"{where} published in an unpublished version")
        if record.published and (record.repo_id, record.path) not in env.announced:
            problems.append(f"{where} published but never announced (VersionPublished)")
        if not storage.object_exists(storage.blob_key(record.sha256)):
            problems.append(f"{where}: its blob is gone")
    for repo in repos.values():
        count = sum(1 for p in packages.values() if p.repo_id == repo.id)
        if int(repo.package_count or 0) != count:
            problems.append(f"repository {repo.name}: package_count {repo.package_count}, {count} packages")
    size = sum(int(f.size) for f in files)
    try:
        quota = int(Subject.get(owner).quota_used_bytes or 0)
    except Subject.DoesNotExist:  # deleted: nothing of it may be left
        quota = size
        if repos:
            problems.append(f"repositories {sorted(r.name for r in repos.values())} of deleted {owner}")
    if quota != size:
        problems.append(f"quota_used_bytes {quota}, files {size} bytes")
    try:
        total = Stat.get(storage_key(owner), "total")
        counted = (int(total.bytes or 0), int(total.files or 0))
    except Stat.DoesNotExist:
        counted = (0, 0)
    if counted != (size, len(files)):
        problems.append(f"storage statistics (bytes, files) {counted}, files {(size, len(files))}")
    assert not problems, problems


# --- the operations -------------------------------------------------------------------------------

#: AWS calls that change nothing: a failure before any other call leaves the state as it was.
READS = {
    "dynamodb.GetItem",
    "dynamodb.BatchGetItem",
    "dynamodb.Query",
    "dynamodb.Scan",
    "dynamodb.DescribeTable",
    "s3.HeadObject",
    "s3.GetObject",
    "s3.ListObjectsV2",
    "sqs.GetQueueUrl",
    "sqs.ReceiveMessage",
    "kms.Decrypt",
}


@dataclass
class Op:
    """``setup(env, made)`` builds fresh objects (filling ``made``), ``request(env, made)`` is the
    operation; ``ok``: the answers of a successful request (its retry may also answer ``retried``)."""

    setup: Callable[[Env, Made], None]
    request: Callable[[Env, Made], Any]
    ok: tuple[int, ...] = (200, 201)
    retried: tuple[int, ...] = ()
    #: What else must hold after it (``check(env, made)``).
    check: Callable[[Env, Made], None] | None = None
    #: Its first run makes calls the next ones do not (clients' first-use lookups): count on a second.
    warm: bool = False
    #: What must hold right after the failed run, before its retry (``after_failure(env, made)``).
    after_failure: Callable[[Env, Made], None] | None = None
    #: Whether ``check_consistency`` applies (False: a job on records of its own, ``check`` says all).
    files: bool = True
    #: What ``fresh`` builds before ``setup``: "repo" (a Premium owner with a generic repository), "user"
    #: (the owner only), "name" (a fresh name only, nothing in the tables: a job on records of its own).
    fresh: str = "repo"
    #: Which N to fail, from the counted calls (None: ``failures_to_try``); ``FAULTS_EVERY_N`` tries all.
    tries: Callable[[list[str]], list[int]] | None = None


def in_process_owner(repo: bool) -> Made:
    """A new Premium user (and a generic repository) made through the services, as the admin's
    requests would (``World.user``, ``World.repo``), without the requests' authentication."""
    from chalicelib.accounts import services as accounts
    from chalicelib.repositories import services as repositories
    from chalicelib.validation import parse_body
    from tests.conftest import User, unique

    name = unique("u")
    body = {"email": f"{name}@example.com", "plan": "premium", "admin": False}
    subject, key = accounts.put_user(name, parse_body(json.dumps(body).encode(), accounts.UserBody))
    assert key is not None
    made = Made(User(name, key), "")
    if repo:
        made.repo = unique("r")
        body = {"type": "generic", "private": False}
        parsed = parse_body(json.dumps(body).encode(), repositories.CreateRepoBody)
        repositories.create_repository(subject, made.repo, parsed)
    return made


def fresh(env: Env, op: Op) -> Made:
    if op.fresh == "name":
        from types import SimpleNamespace

        from tests.conftest import unique

        made = Made(SimpleNamespace(name=unique("u"), auth=None), "")
    else:
        made = in_process_owner(op.fresh == "repo")
    op.setup(env, made)
    remember_ids(made)
    return made


def _content(made: Made) -> str:
    return f"/content/{made.owner.name}/{made.repo}"


def _version(files: int = 0, publish: bool = False) -> Callable[[Env, Made], None]:
    """A package with a version (created by its first upload) of ``files`` files."""

    def setup(env: Env, made: Made) -> None:
        made.package = env.world.package(made.owner.name, made.repo)
        made.version = "1.0"
        if not files:
            env.world.version(made.owner.name, made.repo, made.package, made.version)
        at_once = publish and files == 1  # one request: upload with publish=1
        for i in range(files):
            path = f"f{i}.bin"
            url = f"{_content(made)}/{made.package}/{made.version}/{path}" + ("?publish=1" if at_once else "")
            answer = env.api.put(url, made.owner.auth, data=b"x" * (i + 3))
            assert answer.status_code == 201, answer.text
            made.paths.append(path)
        if publish and not at_once:
            url = f"{_content(made)}/{made.package}/{made.version}/publish"
            assert env.api.post(url, made.owner.auth).status_code == 200

    return setup


def upload_setup(env: Env, made: Made) -> None:
    made.package = env.world.package(made.owner.name, made.repo)
    made.version = "1.0"


def upload(env: Env, made: Made) -> Any:
    url = f"{_content(made)}/{made.package}/{made.version}/a.bin"
    return env.api.put(url, made.owner.auth, data=b"small file")


def upload_and_publish(env: Env, made: Made) -> Any:
    url = f"{_content(made)}/{made.package}/{made.version}/a.bin?publish=1"
    return env.api.put(url, made.owner.auth, data=b"published at once")


def publish(env: Env, made: Made) -> Any:
    return env.api.post(f"{_content(made)}/{made.package}/{made.version}/publish", made.owner.auth)


def override(env: Env, made: Made) -> Any:
    url = f"{_content(made)}/{made.package}/{made.version}/{made.paths[0]}?override=1"
    return env.api.put(url, made.owner.auth, data=b"new, longer")


def delete_file(env: Env, made: Made) -> Any:
    return env.api.delete(f"{_content(made)}/{made.paths[0]}", made.owner.auth)


def delete_version(env: Env, made: Made) -> Any:
    url = f"/packages/{made.owner.name}/{made.repo}/{made.package}/versions/{made.version}"
    return env.api.delete(url, made.owner.auth)


def delete_package(env: Env, made: Made) -> Any:
    return env.api.delete(f"/packages/{made.owner.name}/{made.repo}/{made.package}", made.owner.auth)


def delete_repo(env: Env, made: Made) -> Any:
    return env.api.delete(f"/repos/{made.owner.name}/{made.repo}", made.owner.auth)


def link_setup(env: Env, made: Made) -> None:
    source = env.world.user()
    repo = env.world.repo(source.name)
    made.extra = (source.name, repo, env.world.package(source.name, repo))


def _link_url(made: Made) -> str:
    return f"/repository/{made.owner.name}/{made.repo}/links/{'/'.join(made.extra)}"


def link(env: Env, made: Made) -> Any:
    return env.api.put(_link_url(made), made.owner.auth, json={})


def unlink_setup(env: Env, made: Made) -> None:
    link_setup(env, made)
    assert link(env, made).status_code == 201


def unlink(env: Env, made: Made) -> Any:
    return env.api.delete(_link_url(made), made.owner.auth)


def check_links(env: Env, made: Made) -> None:
    """The source package's ``linked_to_repos`` equals a recomputation from its links."""
    source_owner, source_repo, name = made.extra
    package = Package.get(Repository.get(source_owner, source_repo).id, name)
    public = sorted({link.repo for link in Link.source_index.query(package.id) if not link.repo_private})
    assert sorted(package.linked_to_repos or []) == public


def access_key(env: Env, made: Made) -> Any:
    return env.api.post(f"/users/{made.owner.name}/access_keys", made.owner.auth, json={"id": "k1"})


def entitlement_setup(env: Env, made: Made) -> None:
    assert access_key(env, made).status_code == 201


def entitlement(env: Env, made: Made) -> Any:
    body = {"id": "e1", "access": "rw", "access_keys": ["k1"], "tags": ["t"]}
    return env.api.post(f"/repos/{made.owner.name}/{made.repo}/entitlements", made.owner.auth, json=body)


def check_entitlements(env: Env, made: Made) -> None:
    """An entitlement exists exactly when its reference rows do (key and tag)."""
    owner = made.owner.name
    exists = bool(list(Entitlement.query(owner)))
    for ref in (key_ref(owner, "k1"), tag_ref(owner, "t")):
        assert bool(list(EntitlementRef.query(ref))) == exists, ref


def team_setup(env: Env, made: Made) -> None:
    member = env.world.user()
    org = env.world.org(made.owner, plan="premium")
    env.world.member(org, member)
    made.extra = (org, member.name, env.world.repo(org))


def team(env: Env, made: Made) -> Any:
    org, member, _ = made.extra
    body = {"name": "builders", "members": [member]}
    return env.api.post(f"/orgs/{org}/teams", made.owner.auth, json=body)


def team_permission_setup(env: Env, made: Made) -> None:
    team_setup(env, made)
    assert team(env, made).status_code == 201


def team_permission(env: Env, made: Made) -> Any:
    org, _, repo = made.extra
    body = {"team": "builders", "permission": "publish"}
    return env.api.put(f"/repos/{org}/{repo}/permissions", made.owner.auth, json=body)


def check_teams(env: Env, made: Made) -> None:
    """Memberships equal the teams' members, the repository's permissions the teams' permitted repos."""
    org, _, repo = made.extra
    teams = {t.name: t for t in Team.query(org)}
    members = {(m.member, name) for m in TeamMembership.query(org) for name in m.teams or ()}
    assert members == {(member, t.name) for t in teams.values() for member in t.members or ()}
    permissions = map_dict(Repository.get(org, repo).team_permissions)
    permitted = {t.name: map_dict(t.permitted_repos).get(repo) for t in teams.values()}
    assert permissions == {name: value for name, value in permitted.items() if value}


@dataclass
class WorkerAnswer:
    """What a background function's run answers, as a response: 200 when it returned, 503 when a
    service failed (SQS delivers the event again: the retry); any other exception is raised."""

    status_code: int
    text: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}

    def json(self) -> dict[str, str]:
        return {"message": MESSAGE}


def as_worker(run: Callable[[], Any]) -> WorkerAnswer:
    from chalicelib.web.faults import service_fault

    try:
        run()
    except Exception as error:
        if not service_fault(error):
            raise
        return WorkerAnswer(503, repr(error))
    return WorkerAnswer(200)


#: Above this, an upload goes through the 307 to S3 and the finisher (lowered for small fixtures).
SMALL_LIMIT = 64


def staged_setup(env: Env, made: Made) -> None:
    """A large upload (``publish=1``) whose bytes are in S3, and the SQS event S3 sends for it."""
    import requests as http

    from chalicelib.content import large

    made.package = env.world.package(made.owner.name, made.repo)
    made.version = "1.0"
    body = os.urandom(SMALL_LIMIT + 1)  # new content: the finisher copies it to its blob key
    original, large.MAX_INLINE_UPLOAD = large.MAX_INLINE_UPLOAD, SMALL_LIMIT
    try:
        url = f"{_content(made)}/{made.package}/{made.version}/large.bin?publish=1"
        redirect = env.api.put(url, made.owner.auth, data=body)
    finally:
        large.MAX_INLINE_UPLOAD = original
    assert redirect.status_code == 307, redirect.text
    assert http.put(redirect.headers["Location"], data=body, timeout=30).status_code == 200
    key = "uploads/" + redirect.headers["Location"].split("?")[0].rsplit("/", 1)[-1]
    notification = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key}}}]}
    made.extra = {"Records": [{"body": json.dumps(notification)}]}


def finish_upload(env: Env, made: Made) -> WorkerAnswer:
    from chalicelib.content import large

    return as_worker(lambda: large.finish_from_event(made.extra))


def check_finished(env: Env, made: Made) -> None:
    """The large upload is recorded and published, its staged object gone."""
    from chalicelib.content.models import PendingUpload

    rows = [p for p in PendingUpload.scan() if p.repo_id in made.repo_ids]
    assert [row.state for row in rows] == ["done"], [(r.state, r.reason) for r in rows]
    record = File.get(next(iter(made.repo_ids)), "large.bin")
    assert record.published
    assert not storage.object_exists(storage.staged_key(rows[0].id))


def consumer_setup(env: Env, made: Made) -> None:
    """A published upload whose queued events (FileStored, VersionPublished) wait for the consumer."""
    upload_setup(env, made)
    assert upload_and_publish(env, made).status_code == 201
    made.extra = {"Records": [{"body": event.to_json()} for event in env.queued]}
    env.queued.clear()


def consume(env: Env, made: Made) -> WorkerAnswer:
    """``eventbus.lifecycle_events`` on the batch: every queued subscriber (SQS redelivers on failure)."""
    return as_worker(lambda: events.consume(made.extra))


# --- the index and statistics jobs ----------------------------------------------------------------

DIST = "dists/stable/"


def deb_record(repo_id: str, name: str) -> File:
    """A published .deb's record (the index reads records only, never the blob: its control is kept)."""
    import hashlib

    path = f"pool/main/{name[0]}/{name}_1.0_amd64.deb"
    return File(
        repo_id,
        path,
        name=path.rsplit("/", 1)[1],
        name_lower=path.rsplit("/", 1)[1],
        owner="-",
        repo="-",
        package_id=f"p-{name}",
        version_key="1.0",
        package=name,
        version="1.0",
        size=100,
        sha1=hashlib.sha1(name.encode()).hexdigest(),
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        published=True,
        created=now(),
        deb_distribution=["stable"],
        deb_component=["main"],
        deb_architecture=["amd64"],
        deb_control=f"Package: {name}\nVersion: 1.0\nArchitecture: amd64\nDescription: {name}\n x\n",
    )


def index_setup(env: Env, made: Made) -> None:
    """A Debian repository indexed once (two packages); then one package added, one removed, noted."""
    from chalicelib.indexes import services as indexes

    name = env.world.repo(made.owner.name, type="debian")
    repo_id = Repository.get(made.owner.name, name).id
    alpha, beta, gamma = (deb_record(repo_id, n) for n in ("alpha", "beta", "gamma"))
    alpha.save()
    beta.save()
    indexes.request(repo_id, made.owner.name, name, full=True, send=False)
    assert indexes.run(repo_id)
    gamma.save()
    alpha.delete()
    indexes.request(repo_id, made.owner.name, name, [alpha.path, gamma.path], send=False)
    made.extra = (repo_id, {beta.path, gamma.path})


def index_run(env: Env, made: Made) -> WorkerAnswer:
    """The indexes function on the repository's message (SQS redelivers it on failure)."""
    from chalicelib.indexes import services as indexes

    return as_worker(lambda: indexes.run(made.extra[0]))


def check_index(env: Env, made: Made) -> None:
    """The index is complete and consistent: nothing pending, the Release names each Packages file with
    the checksum and size of the object readers get, that Packages lists exactly the published
    packages; every object an index item names (its generation's and the one before) is in S3; what
    readers get of each path was announced (the CDN's copies)."""
    import hashlib

    from chalicelib.indexes import services as indexes
    from chalicelib.indexes.models import IndexFile

    repo_id, published = made.extra
    state = indexes.state_of(repo_id)
    assert state is not None and not state.lease_until and not state.changed and not state.full, state
    generation = int(state.generation)
    items = list(IndexFile.query(repo_id))
    served = {i.path: indexes._committed(i, generation)[0] for i in items}
    release = storage.get_object(served[DIST + "Release"]).decode()
    named = release.split("SHA256:\n", 1)[1].splitlines()
    assert named, release
    for line in named:
        digest, size, relative = line.split()
        data = storage.get_object(served[DIST + relative])
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (digest, int(size)), relative
    packages = storage.get_object(served[DIST + "main/binary-amd64/Packages"]).decode()
    listed = {line.split(": ", 1)[1] for line in packages.splitlines() if line.startswith("Filename: ")}
    assert listed == published
    for item in items:
        for key in (item.key, item.prev_key):
            assert key is None or storage.object_exists(key), f"{item.path}: {key} deleted while referenced"
    for path, key in served.items():
        assert env.served.get((repo_id, path)) == key, f"{path}: readers get {key}, announced otherwise"


#: The statistics rollup's virtual clock: each fixture records its downloads in chunks of its own.
_CLOCK: list[Any] = []


def _clock_tick() -> Any:
    """The next chunk of the rollup's virtual clock (``_CLOCK``: after every chunk recorded so far)."""
    from datetime import datetime

    from chalicelib.stats import rollup

    seconds = rollup.chunk_seconds()
    if not _CLOCK:
        start = int(time.time()) // seconds * seconds + seconds
        _CLOCK.append(datetime.fromtimestamp(start, tz=UTC))
    at = _CLOCK[0]
    _CLOCK[0] = at + timedelta(seconds=seconds)
    return at


def rollup_setup(env: Env, made: Made) -> None:
    """Downloads of a fresh owner recorded in two chunks (one with two packages, versions, countries)."""
    from chalicelib.stats import recording, rollup

    recording._marked.clear()  # marks of an earlier module's tables are gone
    owner, repo_id = f"stats-{made.owner.name}", f"r-{made.owner.name}"
    batches = [
        [("p", "1.0", "DE", 10), ("p", "1.0", "DE", 20), ("p", "2.0", "FR", 5), ("q", "1.0", None, 7)],
        [("p", "1.0", "DE", 1), ("q", "1.0", "US", 2)],
    ]
    chunks = []
    for batch in batches:
        at = _clock_tick()
        downloads = [
            events.Downloaded(
                owner=owner,
                repo="r",
                repo_id=repo_id,
                package=p,
                version=v,
                path=f"{p}-{v}",
                size=size,
                country=cc,
                at=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            )
            for p, v, cc, size in batch
        ]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(recording, "now", lambda at=at: at)
            assert recording.record(downloads) == len(downloads)
        chunks.append((rollup.bucket_of_seconds(int(at.timestamp())), downloads))
    made.extra = (owner, repo_id, chunks)


def rollup_tries(calls: list[str]) -> list[int]:
    """The rollup's N: the reads before its first write, and of each run of writes (a chunk's rows,
    written concurrently, then its watermark) the first and the last, and the call after the last.
    The rows of a chunk are independent conditional updates in no fixed order, so failing any one of
    them leaves what failing the first counted does (the others written); the last is the watermark."""
    chosen = set(failures_to_try(calls)) if EVERY_N else set()
    runs: list[list[int]] = []
    for n, call in enumerate(calls, 1):
        if call in READS:
            continue
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    first = runs[0][0] if runs else len(calls) + 1
    chosen |= set(range(1, first))
    for run_ in runs:
        chosen |= {run_[0], run_[-1]}
    if runs and runs[-1][-1] < len(calls):
        chosen.add(runs[-1][-1] + 1)
    return sorted(chosen)


def rollup_run(env: Env, made: Made) -> WorkerAnswer:
    """The scheduled rollup (a failed run: the next minute's run is the retry)."""
    from chalicelib.stats import rollup

    return as_worker(lambda: rollup.run(until=_CLOCK[0] + timedelta(seconds=1)))


def _rolled(totals: Any) -> list[str]:
    """Which of the aggregate rows and ledger entries of ``totals`` (``rollup.aggregate``) differ from
    what the table holds (the ledger: the sums of the repositories' chunk items of each day)."""
    from chalicelib.stats import ledger
    from chalicelib.stats.models import Stat, repo_ledger_key

    wrong = []
    for (key, period), (downloads, size) in totals.rows.items():
        try:
            row = Stat.get(key, period, consistent_read=True)
        except Stat.DoesNotExist:
            wrong.append(f"{key} {period}: missing")
            continue
        if (int(row.downloads or 0), int(row.bytes or 0)) != (downloads, size):
            wrong.append(f"{key} {period}: {row.downloads} downloads {row.bytes} bytes, {downloads} {size}")
    for repo_id, days in totals.packages.items():
        for when, packages in days.items():
            found: dict[tuple, int] = {}
            chunk_items = Stat.query(
                repo_ledger_key(repo_id), Stat.period.startswith(f"c#{when}#"), consistent_read=True
            )
            for item in chunk_items:
                for name, entries in ledger._decode(item).items():
                    for at, cc, version, n in entries:
                        found[(name, at, cc, version)] = found.get((name, at, cc, version), 0) + n
            want = {(name, *k): n for name, counts in packages.items() for k, n in counts.items()}
            if found != want:
                wrong.append(f"ledger {repo_id} {when}: {found}, {want}")
    return wrong


def check_rollup(env: Env, made: Made) -> None:
    """The aggregates equal a recomputation from the recorded events: none counted twice, none lost."""
    from chalicelib.stats import rollup

    _, _, chunks = made.extra
    recorded = rollup.aggregate([e for _, batch in chunks for e in _recorded(batch)])
    assert not _rolled(recorded)
    assert rollup.watermark() >= chunks[-1][0]


def _recorded(batch: list[events.Downloaded]) -> list[Any]:
    from chalicelib.stats.models import DownloadEvent

    return [DownloadEvent.get(e.id, consistent_read=True) for e in batch]


def check_watermark(env: Env, made: Made) -> None:
    """After the failed run: the watermark is before every chunk whose rows and ledger chunk items are
    not all written."""
    from chalicelib.stats import rollup

    _, _, chunks = made.extra
    from chalicelib.stats.models import Stat, repo_ledger_key

    mark = rollup.watermark()
    for chunk, batch in chunks:
        if mark < chunk:
            continue
        totals = rollup.aggregate(_recorded(batch))
        for key, period in totals.rows:
            row = Stat.get(key, period, consistent_read=True)
            assert (row.applied or "") >= chunk, f"watermark {mark} past chunk {chunk}: {key} {period}"
        for repo_id, days in totals.packages.items():
            for when in days:
                period = f"c#{when}#{chunk}#0"
                assert Stat.count(repo_ledger_key(repo_id), Stat.period == period), f"{mark}: no {period}"


# --- the CDN log, download-log, ledger compaction and threshold jobs -------------------------------

#: The log bucket of the CDN log cases (made once; each fixture's log file under a prefix of its own).
LOG_BUCKET = "shelf-test-faults-cdn-logs"
_LOG_BUCKET_MADE: list[bool] = []


def _logged_file(made: Made, day: str, downloads: list[tuple[str, str, str]]) -> tuple[Any, str]:
    """A CloudFront log file of ``downloads`` (``(path, HH:MM:SS, address)`` on ``day``) of the
    owner's repository, among lines that are no downloads, in the log bucket under a prefix of the
    fixture's own; returns the settings that name it and its key."""
    import dataclasses

    from chalicelib.config import settings
    from tests.test_cdn import _line, _log_file

    if not _LOG_BUCKET_MADE:
        storage.s3().create_bucket(Bucket=LOG_BUCKET)
        _LOG_BUCKET_MADE.append(True)
    base = f"/dl/{made.owner.name}/{made.repo}"
    lines = []
    for i, (path, at, ip) in enumerate(downloads):
        line = _line("GET", f"{base}/{path}", 200, f"{made.owner.name}-{i}==", ip=ip)
        lines.append(line.replace("2026-12-01\t23:59:58", f"{day}\t{at}"))
    lines.insert(1, _line("HEAD", f"{base}/{downloads[0][0]}", 200, "head=="))  # no download
    lines.insert(3, _line("GET", f"{base}/{downloads[0][0]}", 304, "cached=="))
    prefix = f"cloudfront/{made.owner.name}/"
    key = f"{prefix}E2EXAMPLE.{day}-12.0a1b2c3d.gz"
    storage.s3().put_object(Bucket=LOG_BUCKET, Key=key, Body=_log_file(*lines))
    return dataclasses.replace(settings(), cdn_log_bucket=LOG_BUCKET, cdn_log_prefix=prefix), key


def _file_record(made: Made, package: Any, path: str, size: int) -> None:
    """A published file's record (the log job reads records only; no blob, no quota: ``files=False``)."""
    import hashlib

    File(
        package.repo_id,
        path,
        name=path,
        name_lower=path,
        owner=made.owner.name,
        repo=made.repo,
        package_id=package.id,
        version_key="1.0",
        package=package.name,
        version="1.0",
        size=size,
        sha1=hashlib.sha1(path.encode()).hexdigest(),
        sha256=hashlib.sha256(path.encode()).hexdigest(),
        published=True,
        created=now(),
    ).save()


#: The CDN log case's downloads: (path, time, address); parts of 2 lines (with the noise: 4 parts).
CDN_DOWNLOADS = [
    ("a.bin", "10:00:01", "81.2.69.160"),
    ("a.bin", "10:00:02", "8.8.8.8"),
    ("b.bin", "10:00:03", "81.2.69.160"),
    ("a.bin", "10:00:04", "5.9.0.1"),
    ("b.bin", "10:00:05", "8.8.8.8"),
]
CDN_PART_LINES = 2


def _two_packages(env: Env, made: Made) -> tuple[Any, Any]:
    """Packages ``pkg`` (file ``a.bin``) and ``pkg2`` (``b.bin``) in the owner's repository, with the
    records of their files."""
    repo_id = Repository.get(made.owner.name, made.repo).id
    out = []
    for name, path, size in (("pkg", "a.bin", 1000), ("pkg2", "b.bin", 500)):
        env.world.package(made.owner.name, made.repo, name=name)
        package = Package.get(repo_id, name)
        _file_record(made, package, path, size)
        out.append(package)
    return out[0], out[1]


def cdn_logs_setup(env: Env, made: Made) -> None:
    """A CloudFront log file (several parts) of downloads of two files, waiting in the log bucket."""
    from chalicelib.cdn import logs

    _two_packages(env, made)
    conf, key = _logged_file(made, f"{now():%Y-%m-%d}", CDN_DOWNLOADS)
    data = storage.s3().get_object(Bucket=LOG_BUCKET, Key=key)["Body"].read()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logs, "PART_LINES", CDN_PART_LINES)
        expected = {event.id: event.downloads for event in logs.parts(key, data)}
    assert len(expected) >= 3, expected  # a failure can fall between parts
    made.extra = (conf, key, expected)


def cdn_logs_run(env: Env, made: Made) -> WorkerAnswer:
    """The scheduled log job (a failed run: the next run reads the file again)."""
    from chalicelib.cdn import logs

    conf, _, _ = made.extra

    def job() -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(logs, "settings", lambda: conf)
            patch.setattr(logs, "PART_LINES", CDN_PART_LINES)
            logs.process_logs()

    return as_worker(job)


def _log_file_left(made: Made) -> bool:
    conf, key, _ = made.extra
    return bool(storage.s3().list_objects_v2(Bucket=LOG_BUCKET, Prefix=conf.cdn_log_prefix).get("KeyCount"))


def _published_parts(env: Env, made: Made) -> dict[str, list[Any]]:
    """The DownloadsLogged events of the fixture's log file that reached the queue, by id."""
    _, key, _ = made.extra
    out: dict[str, list[Any]] = {}
    for event in env.logged:
        if event.source == key:
            out.setdefault(event.id, []).append(event)
    return out


def check_log_kept(env: Env, made: Made) -> None:
    """After the failed run: the log file is gone only if every part of it reached the queue."""
    _, _, expected = made.extra
    if not _log_file_left(made):
        assert set(_published_parts(env, made)) == set(expected), "log file deleted before all its parts"


def check_logged(env: Env, made: Made) -> None:
    """Every download of the log file published and recorded once: each part reached the queue (the
    same downloads each time it did), each recorded as one item holding its downloads, no download in
    two parts; the file deleted."""
    import gzip

    from chalicelib.stats import recording
    from chalicelib.stats.models import DownloadBatch

    _, _, expected = made.extra
    assert not _log_file_left(made), "log file left in the bucket"
    published = _published_parts(env, made)
    assert set(published) == set(expected), (sorted(published), sorted(expected))
    for part, sent in published.items():
        assert all(event.downloads == expected[part] for event in sent), part
    requests = [request for downloads in expected.values() for _, _, request, _ in downloads]
    assert sorted(requests) == sorted(f"cdn-{made.owner.name}-{i}==" for i in range(len(CDN_DOWNLOADS)))
    for part, downloads in expected.items():
        item = DownloadBatch.get(part, consistent_read=True)
        recorded = json.loads(gzip.decompress(item.payload))["downloads"]
        assert int(item.count) == len(downloads) == len(recorded), part
        assert [(at, ip) for _, at, ip, _ in recorded] == [(at, ip) for _, at, _, ip in downloads], part
        assert not recording.record_logged(published[part][0])  # recorded already: nothing new


#: The download-log case: each fixture's downloads on a day of its own (within retention, before the
#: rollup's watermark: the rollup never reads them); the job's watermark set just before that day.
_LOG_DAYS: list[int] = []


def download_logs_setup(env: Env, made: Made) -> None:
    """Downloads of two packages of a Premium owner recorded on a past day of their own."""
    from datetime import datetime

    from chalicelib.download_logs import services as download_logs
    from chalicelib.download_logs.models import LogJob
    from chalicelib.stats import recording

    first, second = _two_packages(env, made)
    _LOG_DAYS.append(len(_LOG_DAYS))
    when = (now() - timedelta(days=60 - _LOG_DAYS[-1])).date()
    noon = datetime(when.year, when.month, when.day, 12, tzinfo=UTC)
    downloads = [
        events.Downloaded(
            owner=made.owner.name,
            repo=made.repo,
            repo_id=package.repo_id,
            package=package.name,
            version="1.0",
            path=path,
            size=size,
            ip=ip,
            country="DE",
            user=user,
            at=(noon - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )
        for package, path, size, ip, user, minutes in (
            (first, "a.bin", 1000, "81.2.69.160", None, 50),
            (first, "a.bin", 1000, "8.8.8.8", made.owner.name, 40),
            (second, "b.bin", 500, "5.9.0.1", None, 30),
            (first, "a.bin", 1000, "81.2.69.160", None, 20),
            (second, "b.bin", 500, "8.8.8.8", None, 10),
        )
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recording, "now", lambda: noon)
        assert recording.record(downloads) == len(downloads)
    job = LogJob(download_logs.JOB, final_through=(when - timedelta(days=1)).isoformat())
    job.save()  # the job is through the day before: it writes that day only
    made.extra = (when, noon + timedelta(hours=1), downloads, (first, second))


def download_logs_run(env: Env, made: Made) -> WorkerAnswer:
    from chalicelib.download_logs import services as download_logs

    return as_worker(lambda: download_logs.run(at=made.extra[1]))


def _log_lines_of(made: Made) -> dict[str, list[str] | None]:
    """The lines each package's log file of the day holds (None: no file)."""
    import gzip

    from chalicelib.config import settings
    from chalicelib.download_logs import services as download_logs

    when, _, _, packages = made.extra
    out: dict[str, list[str] | None] = {}
    for package in packages:
        key = download_logs.object_key(package, when)
        try:
            body = storage.s3().get_object(Bucket=settings().bucket, Key=key)["Body"].read()
        except Exception as error:  # noqa: BLE001  (botocore's NoSuchKey)
            assert "NoSuchKey" in str(error), error
            out[package.name] = None
            continue
        out[package.name] = gzip.decompress(body).decode().splitlines()
    return out


def _expected_lines(made: Made) -> dict[str, list[str]]:
    from chalicelib.download_logs import services as download_logs
    from chalicelib.stats.models import DownloadEvent

    _, _, downloads, packages = made.extra
    rows = [DownloadEvent.get(event.id, consistent_read=True) for event in downloads]
    return {
        package.name: [
            download_logs.line(row)
            for row in sorted(rows, key=lambda r: (r.at, r.id))
            if row.package == package.name
        ]
        for package in packages
    }


def check_log_files_whole(env: Env, made: Made) -> None:
    """After the failed run: a package's file, where written, holds every line of its day once."""
    expected = _expected_lines(made)
    for name, found in _log_lines_of(made).items():
        assert found is None or found == expected[name], (name, found)


def check_log_files(env: Env, made: Made) -> None:
    """After the retry: each package's file holds every download line of its day exactly once."""
    assert _log_lines_of(made) == _expected_lines(made)


#: The ledger compaction case: downloads of a day 3 days ago read from a CDN log (per package: by
#: country), recorded and rolled up in a chunk of their own (the rollup's virtual clock), not compacted.
LEDGER_DOWNLOADS = [
    ("a.bin", "12:00:01", "81.2.69.160"),
    ("a.bin", "12:03:00", "81.2.69.160"),
    ("b.bin", "13:00:00", "8.8.8.8"),
    ("a.bin", "20:00:00", "8.8.8.8"),
]


_LEDGER_FLUSHED: list[bool] = []


def ledger_setup(env: Env, made: Made) -> None:
    """Two packages' downloads of 3 days ago from a CloudFront log, recorded and rolled up into the
    repository's chunk item (the compaction left for the operation)."""
    from chalicelib.cdn import logs
    from chalicelib.stats import ledger, recording, rollup

    if not _LEDGER_FLUSHED:  # earlier cases' days due for compaction: not in the counted run
        rollup.run(until=_clock_tick() + timedelta(seconds=rollup.chunk_seconds() + 1))
        _LEDGER_FLUSHED.append(True)
    _two_packages(env, made)
    day = now() - timedelta(days=3)
    conf, _ = _logged_file(made, f"{day:%Y-%m-%d}", LEDGER_DOWNLOADS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logs, "settings", lambda: conf)
        assert logs.process_logs() == len(LEDGER_DOWNLOADS)
    logged = [e for e in env.queued if isinstance(e, events.DownloadsLogged)]
    env.queued[:] = [e for e in env.queued if not isinstance(e, events.DownloadsLogged)]
    at = _clock_tick()
    recording._marked.clear()  # marks of an earlier module's tables are gone
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recording, "now", lambda: at)
        assert all(recording.record_logged(event) for event in logged)
        patch.setattr(ledger, "compact", lambda until, done: 0)
        assert rollup.run(until=at + timedelta(seconds=rollup.chunk_seconds() + 1)).events >= len(
            LEDGER_DOWNLOADS
        )
    repo_id = Repository.get(made.owner.name, made.repo).id
    made.extra = (repo_id, f"{day:%Y-%m-%d}", at)


def ledger_run(env: Env, made: Made) -> WorkerAnswer:
    """The next scheduled rollup: nothing new to roll up; it compacts the day (a day item of two
    parts: one per package)."""
    from chalicelib.stats import ledger, rollup

    _, _, at = made.extra

    def job() -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ledger, "PART_BYTES", 1)
            rollup.run(until=at + timedelta(seconds=rollup.chunk_seconds() + 1))

    return as_worker(job)


#: What the ledger case's packages were downloaded: {package: {(country, version): downloads}}.
LEDGER_COUNTS = {"pkg": {("GB", "1.0"): 2, ("US", "1.0"): 1}, "pkg2": {("US", "1.0"): 1}}


def check_ledger_counts(env: Env, made: Made) -> None:
    """After the failed run: the packages' counts (the ledger's reading) are the downloads."""
    from chalicelib.stats import ledger

    repo_id, day, _ = made.extra
    for name, counts in LEDGER_COUNTS.items():
        found = ledger.package_counts(repo_id, name, day, f"{now():%Y-%m-%d}", {}, f"{now():%Y-%m-%d}")
        assert dict(found) == {(day, cc, v): n for (cc, v), n in counts.items()}, (name, dict(found))


def check_compacted(env: Env, made: Made) -> None:
    """After the retry: the statistics routes answer the downloads, no compaction mark is left for the
    repository, and the day's complete day items sum to its chunk items (no chunk counted twice)."""
    from chalicelib.stats import ledger
    from chalicelib.stats.models import COMPACT_KEY, Stat, repo_ledger_key

    repo_id, day, _ = made.extra
    window = {
        "from": f"{now() - timedelta(days=5):%Y-%m-%dT00:00:00.000Z}",
        "to": f"{now():%Y-%m-%dT%H:%M:%S.000Z}",
    }
    # pkg by country (its downloads of two countries), pkg2 in total (one request each: they cost).
    for name, report in (("pkg", "country_downloads"), ("pkg2", "total_downloads")):
        path = f"/packages/{made.owner.name}/{made.repo}/{name}/stats/{report}"
        answer = env.api.post(path, made.owner.auth, json=window)
        assert answer.status_code == 200, answer.text
        counts = LEDGER_COUNTS[name]
        if report == "total_downloads":
            want = [{"version": "1.0", "count": sum(counts.values())}]
        else:
            want = [{"country": cc, "count": n} for (cc, _), n in sorted(counts.items(), key=lambda i: -i[1])]
        assert answer.json()["records"] == want, (name, answer.json())
    marks = [
        m.period for m in Stat.query(COMPACT_KEY, consistent_read=True) if m.period.endswith("#" + repo_id)
    ]
    assert not marks, marks
    key = repo_ledger_key(repo_id)
    day_sums: dict[tuple, int] = {}
    day_items = ledger._day_items(key, day, day).get(day, {})
    assert day_items, "no complete day item"
    for parts in day_items.values():
        for item in parts:
            for name, entries in ledger._decode(item).items():
                for cc, version, n in entries:
                    day_sums[(name, cc, version)] = day_sums.get((name, cc, version), 0) + n
    chunk_sums: dict[tuple, int] = {}
    for item in ledger._chunk_items(key, day, ""):
        for name, entries in ledger._decode(item).items():
            for _, cc, version, n in entries:
                chunk_sums[(name, cc, version)] = chunk_sums.get((name, cc, version), 0) + n
    assert day_sums == chunk_sums, (day_sums, chunk_sums)


#: The threshold case: an organisation whose storage (1,000 bytes) and day's downloads (2,000 bytes)
#: cross its thresholds (500, 1,500): two alerts, each an email to its address and its owner.
THRESHOLD = {
    "monthly_storage_bytes": 500,
    "daily_download_bytes": 1500,
    "alert_to_emails": ["ops@example.com"],
}


def thresholds_setup(env: Env, made: Made) -> None:
    """An Enterprise organisation with crossed thresholds (the usage rows written as the statistics
    domain does); the thresholds of earlier fixtures removed (the job reads every threshold)."""
    from chalicelib.stats.models import day, storage_key, subject_key
    from chalicelib.thresholds.models import LISTED, UsageThreshold

    for earlier in UsageThreshold.all_index.query(LISTED):
        UsageThreshold(earlier.org, earlier.scope).delete()
    org = env.world.org(made.owner, plan="enterprise")
    answer = env.api.post(f"/usage_threshold/organization/{org}", made.owner.auth, json=THRESHOLD)
    assert answer.status_code == 201, answer.text
    at = now()
    Stat(storage_key(org), "total", bytes=1000, files=1).save()
    Stat(subject_key(org), f"d#{day(at)}", downloads=2, bytes=2000).save()
    made.extra = {"org": org, "at": at, "runs": 0}


def thresholds_run(env: Env, made: Made) -> WorkerAnswer:
    """The scheduled evaluation; a later run (the retry) comes after a crashed run's lease expired,
    so it may take the alerts over (the retry the job's design relies on)."""
    from chalicelib.thresholds import alerts

    runs = made.extra["runs"]
    made.extra["runs"] += 1
    later = (alerts.LEASE_SECONDS + 1) * 1000 * runs
    real = alerts.now_ms

    def job() -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(alerts, "now_ms", lambda: real() + later)
            alerts.run(at=made.extra["at"])

    return as_worker(job)


def _alert_emails(org: str) -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [
        m
        for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        if f"organization {org}" in m.subject
    ]


def _alert_events(env: Env, org: str) -> set[tuple[str, str]]:
    return {(e.threshold, e.period) for e in env.alerted if e.org == org}


def check_alerted_at_most_once(env: Env, made: Made) -> None:
    """After the failed run: no threshold was emailed twice."""
    subjects = [m.subject for m in _alert_emails(made.extra["org"])]
    assert len(subjects) == len(set(subjects)), subjects


def check_alerted_once(env: Env, made: Made) -> None:
    """After the retry: each crossed threshold emailed exactly once (to its address and the owner) and
    announced (the stream's event; ids derived from the alert, so one line however often it came)."""
    from chalicelib.stats.models import day, month

    org, at = made.extra["org"], made.extra["at"]
    emails = _alert_emails(org)
    assert sorted(m.subject.split(":")[1].split(" of ")[0].strip() for m in emails) == [
        "daily download",
        "monthly storage",
    ], [m.subject for m in emails]
    for email in emails:
        assert sorted(email.destinations["ToAddresses"]) == sorted(
            ["ops@example.com", f"{made.owner.name}@example.com"]
        )
    assert _alert_events(env, org) == {
        ("daily_download_bytes", day(at)),
        ("monthly_storage_bytes", month(at)),
    }
    assert len({e.id for e in env.alerted if e.org == org}) == 2  # one id per alert: one stream line


# --- subject deletes ----------------------------------------------------------------------------


def _space(made: Made, subject: str) -> Made:
    """What ``_version`` builds, in ``subject``'s space (an organisation's), as ``made.owner``."""
    from types import SimpleNamespace

    return Made(SimpleNamespace(name=subject, auth=made.owner.auth), "")


_SHARED_ORG: list[str] = []


def user_delete_setup(env: Env, made: Made) -> None:
    """A user with a published file, an access key, a membership of another owner's organisation."""
    _version(files=1, publish=True)(env, made)
    assert access_key(env, made).status_code == 201
    if not _SHARED_ORG:  # another owner's, one for every N (the members are independent)
        _SHARED_ORG.append(env.world.org(env.world.user()))
    env.world.member(_SHARED_ORG[0], made.owner)
    made.extra = _SHARED_ORG[0]


def delete_user(env: Env, made: Made) -> Any:
    return env.api.delete(f"/api/security/users/{made.owner.name}", ADMIN)


def check_user_gone(env: Env, made: Made) -> None:
    """Nothing of the deleted user is left: no subject, membership, access key."""
    from chalicelib.accounts.models import Membership
    from chalicelib.entitlements.models import AccessKey

    name = made.owner.name
    assert not list(Subject.query(name)), name
    assert not list(Membership.member_index.query(name)), "memberships left"
    assert not list(AccessKey.query(name)), "access keys left"


def org_delete_setup(env: Env, made: Made) -> None:
    """An organisation (of ``made.owner``) with a repository holding a published file."""
    org = env.world.org(made.owner, plan="premium")
    space = _space(made, org)
    space.repo = env.world.repo(org)
    _version(files=1, publish=True)(env, space)
    remember_ids(space)
    made.repo_ids |= space.repo_ids
    made.package_ids |= space.package_ids
    made.extra = org


def delete_org(env: Env, made: Made) -> Any:
    return env.api.delete(f"/orgs/{made.extra}", ADMIN)


def check_org_gone(env: Env, made: Made) -> None:
    from chalicelib.accounts.models import Membership

    org = made.extra
    assert not list(Subject.query(org)), org
    assert not list(Repository.query(org)), "repositories left"
    assert not list(Membership.query(org)), "memberships left"


OPS: dict[str, Op] = {
    "upload": Op(upload_setup, upload, (201,)),
    # A retry after the file was published (the version's marking failed) finds it published: 409.
    "upload_publish": Op(upload_setup, upload_and_publish, (201,), (409,)),
    "publish": Op(_version(files=2), publish, (200,)),
    "override": Op(_version(files=1, publish=True), override, (201,)),
    "delete_file": Op(_version(files=1, publish=True), delete_file, (200,), (404,)),
    "delete_version": Op(_version(files=1, publish=True), delete_version, (200,), (404,)),
    "delete_package": Op(_version(files=1, publish=True), delete_package, (200,), (404,)),
    "delete_repository": Op(_version(files=1, publish=True), delete_repo, (200,), (404,)),
    "link": Op(link_setup, link, (201,), (409,), check_links),
    "unlink": Op(unlink_setup, unlink, (200,), (404,), check_links),
    "access_key": Op(lambda env, made: None, access_key, (201,), (409,)),
    "entitlement": Op(entitlement_setup, entitlement, (201,), (409,), check_entitlements),
    "team": Op(team_setup, team, (201,), (409,), check_teams),
    "team_permission": Op(team_permission_setup, team_permission, (200,), (), check_teams),
    "large_upload_finisher": Op(staged_setup, finish_upload, (200,), (), check_finished, warm=True),
    "event_consumer": Op(consumer_setup, consume, (200,)),
    "delete_user": Op(user_delete_setup, delete_user, (200,), (404,), check_user_gone),
    "delete_organisation": Op(org_delete_setup, delete_org, (200,), (404,), check_org_gone, fresh="user"),
    "index_calculation": Op(index_setup, index_run, (200,), (), check_index, files=False, fresh="user"),
    "statistics_rollup": Op(
        rollup_setup,
        rollup_run,
        (200,),
        (),
        check_rollup,
        after_failure=check_watermark,
        files=False,
        fresh="name",
        tries=rollup_tries,
    ),
    "cdn_logs": Op(
        cdn_logs_setup, cdn_logs_run, (200,), (), check_logged, after_failure=check_log_kept, files=False
    ),
    "download_logs": Op(
        download_logs_setup,
        download_logs_run,
        (200,),
        (),
        check_log_files,
        after_failure=check_log_files_whole,
        files=False,
    ),
    "ledger_compaction": Op(
        ledger_setup,
        ledger_run,
        (200,),
        (),
        check_compacted,
        after_failure=check_ledger_counts,
        files=False,
    ),
    "threshold_alerts": Op(
        thresholds_setup,
        thresholds_run,
        (200,),
        (),
        check_alerted_once,
        after_failure=check_alerted_at_most_once,
        files=False,
        fresh="user",
    ),
}


def run(env: Env, op: Op, made: Made, n: int | None, lost: bool = False) -> tuple[list[str], bool]:
    """One run of ``op`` on ``made`` with its ``n``th AWS call failing (None: none); returns the calls
    it made and whether the state is untouched (the failure came before any write: ``made`` serves
    the next run)."""
    t0 = time.process_time()
    with FAULTS.failing(n, lost) as calls:
        answer = op.request(env, made)
    failed = FAULTS.failed
    where = f"call {n} ({failed}) of {calls}"
    t1 = time.process_time()
    if answer.status_code not in op.ok:
        assert answer.status_code == 503, f"{where}: {answer.status_code} {answer.text}"
        assert answer.json() == {"message": MESSAGE}, where
        assert answer.headers.get("Retry-After") == "1"
        if not lost and all(call in READS for call in calls[:-1]):
            return list(calls), True
        if op.after_failure is not None:
            op.after_failure(env, made)
        again = op.request(env, made)
        assert again.status_code in op.ok + op.retried, f"{where}: retry {again.status_code} {again.text}"
    t2 = time.process_time()
    with FAULTS.counting() as settled:
        settle(env)
    if PROFILE:
        from collections import Counter

        print(Counter(settled))
    t3 = time.process_time()
    try:
        if op.files:
            check_consistency(env, made)
        if op.check is not None:
            op.check(env, made)
    except AssertionError as error:
        raise AssertionError(f"{where}: {error}") from None
    if PROFILE:
        t4 = time.process_time()
        times = f"request {t1 - t0:.3f} retry {t2 - t1:.3f} settle {t3 - t2:.3f} check {t4 - t3:.3f}"
        print(f"n={n} {failed} {times}")
    return list(calls), False


#: Every N (``FAULTS_EVERY_N=1``), not only one per state a failure can leave (see ``every_n``).
EVERY_N = bool(os.environ.get("FAULTS_EVERY_N"))


def failures_to_try(calls: list[str]) -> list[int]:
    """The N to fail of an operation whose calls are ``calls``. All of them with ``EVERY_N``; else the
    reads before the first write (cheap: they change nothing, so one setup serves them all), each
    write, and the first call after the last write. A failing read between two writes leaves what a
    failure of the next write leaves (the writes before it done, none after), so the state the retry
    starts from is the same; only the answer could differ, and it is a 503 either way."""
    if EVERY_N:
        return list(range(1, len(calls) + 1))
    writes = [n for n, call in enumerate(calls, 1) if call not in READS]
    first = writes[0] if writes else len(calls) + 1
    chosen = set(range(1, first)) | set(writes)
    if writes and writes[-1] < len(calls):
        chosen.add(writes[-1] + 1)
    return sorted(chosen)


def every_n(env: Env, op: Op, lost: bool = False) -> int:
    """Run ``op`` once to count its calls K, then with its calls failing (``failures_to_try``);
    returns K."""
    calls, _ = run(env, op, fresh(env, op), None)
    if op.warm:
        calls, _ = run(env, op, fresh(env, op), None)
    if PROFILE:
        print("calls", list(enumerate(calls, 1)))
    made = None
    for n in (op.tries or failures_to_try)(calls) if not EVERY_N else failures_to_try(calls):
        t0 = time.process_time()
        made = made or fresh(env, op)
        if PROFILE:
            print(f"fresh cpu {time.process_time() - t0:.3f}")
        _, untouched = run(env, op, made, n, lost)
        if not untouched:
            made = None
    return len(calls)


#: Lose the answers instead (``FAULTS_LOST=1``): call N is made, its answer does not arrive.
LOST = bool(os.environ.get("FAULTS_LOST"))


@pytest.mark.parametrize("name", list(OPS))
def test_every_failing_call_answers_503_and_the_retry_leaves_a_consistent_state(env: Env, name: str) -> None:
    assert every_n(env, OPS[name], lost=LOST) > 0


def test_an_admin_request_counts_its_calls(env: Env) -> None:
    with FAULTS.counting() as calls:
        assert env.api.get("/repos", ADMIN).status_code in (200, 404)
    assert all(call.startswith("dynamodb.") for call in calls)


def test_only_a_failing_service_is_a_service_fault() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError
    from pynamodb.connection.base import VerboseClientError
    from pynamodb.exceptions import CancellationReason, PutError, TransactWriteError

    from chalicelib.web.faults import service_fault

    def client_error(code: str, status: int = 400) -> ClientError:
        answer = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(answer, "PutItem")  # type: ignore[arg-type]

    def cancelled(*codes: str | None) -> TransactWriteError:
        reasons = [CancellationReason(code=code) if code else None for code in codes]
        cause = VerboseClientError(
            {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
            "TransactWriteItems",
            cancellation_reasons=reasons,
        )
        return TransactWriteError("Failed to write transaction items", cause=cause)

    assert service_fault(EndpointConnectionError(endpoint_url="https://x"))
    assert service_fault(PutError("put", cause=client_error("ProvisionedThroughputExceededException")))
    assert service_fault(client_error("SlowDown", 503))
    assert service_fault(cancelled(None, "ThrottlingError"))
    assert not service_fault(PutError("put", cause=client_error("ConditionalCheckFailedException")))
    assert not service_fault(cancelled(None, "ConditionalCheckFailed"))
    assert not service_fault(cancelled("ThrottlingError", "ConditionalCheckFailed"))
    assert not service_fault(client_error("ValidationException"))
    assert not service_fault(ValueError("a bug"))


def test_the_sweep_leaves_young_entries_to_their_request(env: Env) -> None:
    event = events.RepositoryAccessChanged(owner="nobody", repo="gone", repo_id="r-none")
    pending = outbox.entry("test#young", event)
    pending.save()
    assert outbox.sweep() == 0  # younger than SWEEP_AGE: its request may still be publishing it
    assert outbox.sweep(timedelta(0)) == 1
    assert event in env.queued
    env.queued.clear()
    assert not list(outbox.Pending.query(outbox.shard_of("test#young")))
