"""``make load``: N publishers and M downloaders against ``make serve`` for a bounded time, then checks.

Publishers (each a user of one Premium organisation, publishing through a team) create packages and
versions in a public and a private repository, upload files of varied sizes (a few over the Lambda
payload limit, through the 307 to S3), several at once into one version, race two uploads to one path
(with override: both succeed, one content stays; without: one 201, one 409), publish (sometimes twice
at once), update attributes and labels of a package they all share, and sometimes delete a file, a
version or a package. Downloaders fetch the published files as clients do: ``/dl/`` or ``/content/``,
302 to a signed S3 URL, followed; anonymously from the public repository, with an org member's API key
or an access key (entitled to the repository) from the private one.

At the end, every expected state is read back (polling until the asynchronous parts — usage ledger,
download rollup — have caught up, or ``--settle`` seconds): no response with an unexpected status,
every download's sha256 equal to its upload's, each version's files and each package's versions, the
attributes and labels, the organisation's quota, the repositories' package counts, the usage reports
(storage, files, download bytes) and the download statistics equal to what the clients did.

Run: ``make load`` (``DURATION=``/``SECONDS=``, ``PUBLISHERS=``, ``DOWNLOADERS=``, ``CONTAINERS=``;
``URL=http://127.0.0.1:8000 ADMIN=admin:key`` for a running ``make serve``) or
``python -m bench.load --help``. Without ``--url`` it starts ``make serve`` itself on free ports, and
with ``--containers K`` K API processes sharing that local AWS, as K Lambda containers would (one
process serves one request at a time, as one container does). Loopback only.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
#: Lambda's payload limit for a file in a request (base64): bigger uploads get a 307 to S3.
LARGE = 5 * 1024 * 1024 + 123
SMALL_SIZES = [0, 1, 100, 1000, 4096, 20_000, 65_536, 200_000, 700_000]
Auth = tuple[str, str] | None


# -- measurements ------------------------------------------------------------------------------------


class Recorder:
    """Latency per request kind, and every response whose status was not expected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self._lock:
            self.latencies[kind].append(seconds)
            if error:
                self.errors.append(f"{kind}: {error}")

    def error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def table(self, wall: float) -> str:
        """The figures as a Markdown table (milliseconds)."""
        lines = ["| request | count | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
        for kind in sorted(self.latencies):
            values = sorted(self.latencies[kind])
            lines.append(f"| {kind} | {len(values)} | {pct(values, 50):.0f} | {pct(values, 99):.0f} |")
        lines.append(f"| **all** | {self.requests} | | |")
        lines.append("")
        lines.append(
            f"{self.requests} requests in {wall:.1f} s: {self.requests / wall:.1f} requests/s; "
            f"{len(self.errors)} errors"
        )
        return "\n".join(lines)


def pct(values: list[float], p: int) -> float:
    """The p-th percentile of sorted ``values`` in milliseconds (nearest rank)."""
    if not values:
        return 0.0
    rank = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[rank] * 1000


class Client:
    """HTTP to the API (one keep-alive session per thread); every answer is checked against the
    statuses its request may get."""

    def __init__(self, urls: list[str], recorder: Recorder):
        self.urls = urls
        self.recorder = recorder
        self._local = threading.local()

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def base(self) -> str:
        return random.choice(self.urls)

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        auth: Auth = None,
        expect: tuple[int, ...] = (200,),
        follow: bool = False,
        **kwargs: Any,
    ) -> requests.Response | None:
        """One request; None (and an error) on an unexpected status or a transport failure."""
        url = path if path.startswith("http") else self.base() + path
        started = time.perf_counter()
        try:
            response = self.session().request(
                method, url, auth=auth, allow_redirects=follow, timeout=120, **kwargs
            )
        except requests.RequestException as error:
            self.recorder.record(kind, time.perf_counter() - started, f"{method} {path}: {error!r}")
            return None
        elapsed = time.perf_counter() - started
        if response.status_code not in expect:
            detail = f"{method} {path} -> {response.status_code} (expected {expect}) {response.text[:300]}"
            self.recorder.record(kind, elapsed, detail)
            return None
        self.recorder.record(kind, elapsed)
        return response


# -- what the clients did ----------------------------------------------------------------------------


@dataclass
class FileState:
    sha256: str
    size: int
    candidates: dict[str, int] = field(default_factory=dict)  # sha256 -> size, while undecided


@dataclass
class VersionState:
    files: dict[str, FileState] = field(default_factory=dict)
    published: bool = False


@dataclass
class PackageState:
    repo: str
    name: str
    owner: int  # the publisher that may delete it (-1: shared)
    versions: dict[str, VersionState] = field(default_factory=dict)
    attributes: dict[str, list] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Published:
    """A published file downloaders may fetch."""

    repo: str
    package: str
    version: str
    path: str
    sha256: str
    size: int


class Ledger:
    """The state the publishers made and the downloads made, as the API must report them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.packages: dict[tuple[str, str], PackageState] = {}
        self.files: list[Published] = []  # downloadable now
        self.inflight: Counter[tuple[str, str]] = Counter()  # downloads under way per (repo, path)
        self.idle = threading.Condition(self.lock)
        self.downloads: Counter[tuple[str, str, str]] = Counter()  # (repo, package, version)
        self.download_bytes: Counter[str] = Counter()  # repo
        self.verified = 0  # downloads whose sha256 was checked

    def publish(self, items: list[Published]) -> None:
        with self.lock:
            keys = {(f.repo, f.path) for f in items}
            self.files = [f for f in self.files if (f.repo, f.path) not in keys] + items

    def withdraw(self, repo: str, paths: list[str]) -> None:
        """No new downloads of these files; returns once the downloads under way have finished (so
        a file is deleted or overridden only while nobody downloads it)."""
        keys = {(repo, p) for p in paths}
        with self.lock:
            self.files = [f for f in self.files if (f.repo, f.path) not in keys]
            self.idle.wait_for(lambda: not any(self.inflight[k] for k in keys))

    def pick(self, rng: random.Random) -> Published | None:
        with self.lock:
            if not self.files:
                return None
            item = rng.choice(self.files)
            self.inflight[(item.repo, item.path)] += 1
            return item

    def done(self, item: Published) -> None:
        with self.lock:
            self.inflight[(item.repo, item.path)] -= 1
            self.idle.notify_all()

    def downloaded(self, item: Published) -> None:
        with self.lock:
            self.downloads[(item.repo, item.package, item.version)] += 1
            self.download_bytes[item.repo] += item.size


# -- the scenario ------------------------------------------------------------------------------------


@dataclass
class Scene:
    """The organisation the run works in, and its credentials."""

    org: str
    owner: tuple[str, str]
    publishers: list[tuple[str, str]]
    readers: list[tuple[str, str]]  # org members (read on the private repository)
    access_keys: list[tuple[str, str]]  # id@org, entitled to the private repository
    public: str
    private: str
    shared: dict[str, str]  # repo -> the package every publisher writes to
    seeds: list[Published]  # published at setup


def setup(client: Client, admin: tuple[str, str], publishers: int, downloaders: int, tag: str) -> Scene:
    """Create the organisation, users, team, repositories, access keys and shared packages."""

    def must(response: requests.Response | None, what: str) -> requests.Response:
        if response is None:
            raise SystemExit(f"setup failed at {what}: {client.recorder.errors[-1:]}")
        return response

    def user(name: str) -> tuple[str, str]:
        body = {"email": f"{name}@example.com", "plan": "premium"}
        r = must(client.call("setup", "PUT", f"/api/security/users/{name}", admin, (201,), json=body), name)
        return name, r.json()["api_key"]

    org = f"load-{tag}"
    owner = user(f"{org}-owner")
    must(
        client.call(
            "setup", "PUT", f"/orgs/{org}", admin, (201,), json={"owner": owner[0], "plan": "premium"}
        ),
        "org",
    )
    pubs = [user(f"{org}-pub{i}") for i in range(publishers)]
    readers = [user(f"{org}-reader{i}") for i in range(downloaders)]
    for name, _ in pubs + readers:
        must(client.call("setup", "PUT", f"/orgs/{org}/members/{name}", owner, json={"type": "member"}), name)
    public, private = "public", "private"
    for repo, is_private in ((public, False), (private, True)):
        must(
            client.call(
                "setup",
                "POST",
                f"/repos/{org}/{repo}",
                owner,
                (201,),
                json={"type": "generic", "private": is_private},
            ),
            repo,
        )
    team = {"name": "publishers", "members": [name for name, _ in pubs]}
    must(client.call("setup", "POST", f"/orgs/{org}/teams", owner, (201,), json=team), "team")
    for repo in (public, private):
        body = {"team": "publishers", "permission": "publish"}
        must(client.call("setup", "PUT", f"/repos/{org}/{repo}/permissions", owner, json=body), "permission")
    keys = []
    for i in range(downloaders):
        r = must(
            client.call("setup", "POST", f"/orgs/{org}/access_keys", owner, (201,), json={"id": f"dl{i}"}),
            "access key",
        )
        keys.append((r.json()["username"], r.json()["password"]))
    body = {"access": "r", "access_keys": [f"dl{i}" for i in range(downloaders)]}
    must(
        client.call("setup", "POST", f"/repos/{org}/{private}/entitlements", owner, (201,), json=body),
        "entitlement",
    )
    shared = {}
    for repo in (public, private):
        body = {"name": "shared", "licenses": ["MIT"], "vcs_url": "https://example.com/shared.git"}
        must(client.call("setup", "POST", f"/packages/{org}/{repo}", owner, (201,), json=body), "shared")
        shared[repo] = "shared"
    seeds = []  # a published file in each repository, so downloads start at once
    for repo in (public, private):
        data = secrets.token_bytes(1234)
        path = "shared/0/seed.bin"
        url = f"/content/{org}/{repo}/shared/0/{path}"
        must(client.call("setup", "PUT", url, owner, (201,), params={"publish": "1"}, data=data), "seed")
        seeds.append(Published(repo, "shared", "0", path, sha(data), len(data)))
    return Scene(org, owner, pubs, readers, keys, public, private, shared, seeds)


class Run:
    """The load phase and the checks."""

    def __init__(self, client: Client, scene: Scene, seconds: float, seed: int, large_every: int):
        self.client = client
        self.scene = scene
        self.seconds = seconds
        self.seed = seed
        self.large_every = large_every  # one large upload every N uploads of a publisher (0: none)
        self.ledger = Ledger()
        for repo, name in scene.shared.items():
            self.ledger.packages[(repo, name)] = PackageState(repo, name, -1)
        for seed in scene.seeds:
            files = {seed.path: FileState(seed.sha256, seed.size)}
            self.ledger.packages[(seed.repo, seed.package)].versions[seed.version] = VersionState(files, True)
        self.ledger.publish(scene.seeds)
        self.deadline = 0.0
        self.wall = 0.0

    # publishers ------------------------------------------------------------------------------------

    def publisher(self, index: int) -> None:
        rng = random.Random(f"{self.seed}-pub-{index}")
        auth = self.scene.publishers[index]
        pool = ThreadPoolExecutor(4, thread_name_prefix=f"pub{index}")
        state = {"packages": 0, "versions": 0, "uploads": 0, "attr": 0}
        try:
            while time.monotonic() < self.deadline:
                roll = rng.random()
                own = [p for p in self._packages() if p.owner == index]
                if len(own) < 2 or roll < 0.08:
                    self.create_package(index, auth, rng, state)
                elif roll < 0.70:
                    shared = rng.random() < 0.3
                    target = rng.choice([p for p in self._packages() if p.owner == -1] if shared else own)
                    self.release(index, auth, rng, pool, target, state)
                elif roll < 0.85:
                    self.update_metadata(index, auth, rng, pool, state)
                else:
                    self.delete_something(index, auth, rng, own)
        finally:
            pool.shutdown(wait=True)

    def _packages(self) -> list[PackageState]:
        with self.ledger.lock:
            return list(self.ledger.packages.values())

    def create_package(self, index: int, auth: Auth, rng: random.Random, state: dict) -> None:
        state["packages"] += 1
        repo = rng.choice([self.scene.public, self.scene.private])
        name = f"p{index}-{state['packages']}"
        body = {
            "name": name,
            "licenses": ["MIT"],
            "vcs_url": f"https://example.com/{name}.git",
            "labels": ["a"],
        }
        if self.client.call(
            "create_package", "POST", f"/packages/{self.scene.org}/{repo}", auth, (201,), json=body
        ):
            with self.ledger.lock:
                self.ledger.packages[(repo, name)] = PackageState(repo, name, index, labels=["a"])

    def release(
        self,
        index: int,
        auth: Auth,
        rng: random.Random,
        pool: ThreadPoolExecutor,
        package: PackageState,
        state: dict,
    ) -> None:
        """A new version: files uploaded at once (some racing on one path), published, checked."""
        state["versions"] += 1
        org, repo, name = self.scene.org, package.repo, package.name
        version = f"{index}.{state['versions']}"
        base = f"/content/{org}/{repo}/{name}/{version}"
        vstate = VersionState()
        # Half the versions are created first; the others by their first uploads (at once).
        if rng.random() < 0.5 and not self.client.call(
            "create_version",
            "POST",
            f"/packages/{org}/{repo}/{name}/versions",
            auth,
            (201,),
            json={"name": version, "desc": "load"},
        ):
            return
        with self.ledger.lock:
            package.versions[version] = vstate
        uploads: list[tuple[str, bytes, dict]] = []
        large = False
        for j in range(rng.randint(1, 4)):
            state["uploads"] += 1
            size = rng.choice(SMALL_SIZES)
            if self.large_every and state["uploads"] % self.large_every == 0:
                size, large = LARGE, True
            uploads.append((f"{name}/{version}/f{j}.bin", rng.randbytes(size), {}))
        results = list(pool.map(lambda u: self.upload(auth, base, *u), uploads))
        for (path, data, _), ok in zip(uploads, results, strict=True):
            if ok:
                vstate.files[path] = FileState(sha(data), len(data))
        if rng.random() < 0.3:  # two uploads at once to one new path (no override): the file is one of them
            path = f"{name}/{version}/race.bin"
            self.race(auth, base, pool, vstate, path, {}, rng)
        body = {"publish_wait_for_secs": 25} if large else {}
        times = 2 if rng.random() < 0.3 else 1
        answers = list(
            pool.map(
                lambda _: self.client.call("publish", "POST", f"{base}/publish", auth, json=body),
                range(times),
            )
        )
        if not all(answers):
            return
        self.check_published(package, version, vstate)
        with self.ledger.lock:
            paths = sorted(vstate.files)
        if (
            paths and rng.random() < 0.3 and time.monotonic() < self.deadline
        ):  # two overrides at once of a published file
            path = rng.choice(paths)
            self.ledger.withdraw(package.repo, [path])  # downloads of it finish first
            self.race(auth, base, pool, vstate, path, {"override": "1"}, rng)
            self.check_published(package, version, vstate)

    def race(
        self,
        auth: Auth,
        base: str,
        pool: ThreadPoolExecutor,
        vstate: VersionState,
        path: str,
        params: dict,
        rng: random.Random,
    ) -> None:
        """Two uploads to ``path`` at once: each 201 (one after the other) or 409 (both at the same
        moment: the conditional write lets one land); the file is one of those answered 201."""
        contents = (rng.randbytes(rng.choice(SMALL_SIZES)), rng.randbytes(rng.randint(1, 9000)))
        outcomes = list(pool.map(lambda d: self.upload(auth, base, path, d, params, (201, 409)), contents))
        won = {sha(d): len(d) for d, status in zip(contents, outcomes, strict=True) if status == 201}
        if not won:
            self.client.recorder.error(f"race on {path} {params}: {outcomes}, none landed")
            return
        with self.ledger.lock:
            vstate.files[path] = FileState("", 0, won)

    def upload(
        self, auth: Auth, base: str, path: str, data: bytes, params: dict, expect: tuple[int, ...] = (201,)
    ) -> Any:
        """PUT a file (a 307 to S3 for a large one, which requests follows); its status, or None."""
        large = len(data) > 4_500_000
        kind = "upload_large" if large else "upload"
        if large:  # the API's 307, then S3's 200 to the resent bytes
            expect = (200,)
        headers = {"X-Checksum-Sha2": sha(data)} if len(data) % 2 else {}
        response = self.client.call(
            kind,
            "PUT",
            f"{base}/{path}",
            auth,
            expect,
            follow=True,
            data=data,
            params=params,
            headers=headers,
        )
        if response is None:
            return None
        if large and [r.status_code for r in response.history] != [307]:
            self.client.recorder.error(f"large upload of {path}: {response.history}, expected one 307")
            return None
        return response.status_code if expect != (201,) else True

    def check_published(self, package: PackageState, version: str, vstate: VersionState) -> None:
        """The version's published files are exactly those uploaded, with their content."""
        org = self.scene.org
        r = self.client.call(
            "version_files",
            "GET",
            f"/packages/{org}/{package.repo}/{package.name}/versions/{version}/files",
            self.scene.publishers[0],
        )
        if r is None:
            return
        listed = {f["path"]: f for f in r.json()}
        if set(listed) != set(vstate.files):
            self.client.recorder.error(
                f"{package.repo}/{package.name}/{version}: files {sorted(listed)}, "
                f"uploaded {sorted(vstate.files)}"
            )
        items = []
        with self.ledger.lock:
            for path, fstate in vstate.files.items():
                got = listed.get(path)
                if got is None:
                    continue
                if fstate.candidates:
                    if got["sha256"] not in fstate.candidates:
                        self.client.recorder.error(f"{path}: sha256 {got['sha256']} is none of the uploads")
                        continue
                    fstate.sha256, fstate.size = got["sha256"], fstate.candidates[got["sha256"]]
                    fstate.candidates = {}
                elif got["sha256"] != fstate.sha256 or got["size"] != fstate.size:
                    self.client.recorder.error(
                        f"{path}: listed {got['sha256']}/{got['size']}, "
                        f"uploaded {fstate.sha256}/{fstate.size}"
                    )
                items.append(Published(package.repo, package.name, version, path, fstate.sha256, fstate.size))
            vstate.published = True
        self.ledger.publish(items)

    def update_metadata(
        self, index: int, auth: Auth, rng: random.Random, pool: ThreadPoolExecutor, state: dict
    ) -> None:
        """Every publisher merges its own attributes into a shared package, two PATCHes at once (or a
        PATCH removing one): no update may be lost; labels of its own packages are replaced."""
        org = self.scene.org
        state["attr"] += 1
        repo = rng.choice([self.scene.public, self.scene.private])
        shared = self.ledger.packages[(repo, self.scene.shared[repo])]
        url = f"/packages/{org}/{repo}/{shared.name}/attributes"
        changes = {f"pub{index}a": [state["attr"]], f"pub{index}b": [state["attr"] + 1000]}
        if rng.random() < 0.2:
            changes = {f"pub{index}b": None}

        def patch(change: tuple[str, list | None]) -> None:
            name, values = change
            body = [
                {"name": name, "values": values, "type": "number"}
                if values
                else {"name": name, "values": None}
            ]
            if self.client.call("attributes", "PATCH", url, auth, json=body):
                with self.ledger.lock:
                    if values:
                        shared.attributes[name] = values
                    else:
                        shared.attributes.pop(name, None)

        list(pool.map(patch, changes.items()))
        own = [p for p in self._packages() if p.owner == index]
        if own:
            package = rng.choice(own)
            labels = [f"l{state['attr']}", f"pub{index}"]
            if self.client.call(
                "labels",
                "PATCH",
                f"/packages/{org}/{package.repo}/{package.name}",
                auth,
                json={"labels": labels},
            ):
                with self.ledger.lock:
                    package.labels = labels

    def delete_something(self, index: int, auth: Auth, rng: random.Random, own: list[PackageState]) -> None:
        org = self.scene.org
        roll = rng.random()
        package = rng.choice(own)
        with self.ledger.lock:
            versions = [v for v, s in package.versions.items() if s.published]
        if roll < 0.2 or not versions:
            with self.ledger.lock:
                paths = [p for s in package.versions.values() for p in s.files]
            self.ledger.withdraw(package.repo, paths)
            if self.client.call(
                "delete_package", "DELETE", f"/packages/{org}/{package.repo}/{package.name}", auth
            ):
                with self.ledger.lock:
                    del self.ledger.packages[(package.repo, package.name)]
            return
        version = rng.choice(versions)
        vstate = package.versions[version]
        if roll < 0.5 or len(vstate.files) < 2:
            self.ledger.withdraw(package.repo, list(vstate.files))
            if self.client.call(
                "delete_version",
                "DELETE",
                f"/packages/{org}/{package.repo}/{package.name}/versions/{version}",
                auth,
            ):
                with self.ledger.lock:
                    del package.versions[version]
            return
        path = rng.choice(sorted(vstate.files))
        self.ledger.withdraw(package.repo, [path])
        if self.client.call("delete_file", "DELETE", f"/content/{org}/{package.repo}/{path}", auth):
            with self.ledger.lock:
                del vstate.files[path]

    # downloaders -----------------------------------------------------------------------------------

    def downloader(self, index: int) -> None:
        rng = random.Random(f"{self.seed}-dl-{index}")
        bare = requests.Session()  # S3 gets no API credentials
        while time.monotonic() < self.deadline:
            item = self.ledger.pick(rng)
            if item is None:
                time.sleep(0.05)
                continue
            try:
                self.download(index, rng, bare, item)
            finally:
                self.ledger.done(item)

    def download(self, index: int, rng: random.Random, bare: requests.Session, item: Published) -> None:
        org = self.scene.org
        if item.repo == self.scene.public:
            auth, who = (None, "anonymous") if rng.random() < 0.7 else (self.scene.readers[index], "api_key")
        else:
            auth, who = (
                (self.scene.readers[index], "api_key")
                if rng.random() < 0.5
                else (self.scene.access_keys[index], "access_key")
            )
        prefix = "dl" if rng.random() < 0.7 else "content"
        r = self.client.call(
            f"download_302 ({who})", "GET", f"/{prefix}/{org}/{item.repo}/{item.path}", auth, (302,)
        )
        if r is None:
            return
        self.ledger.downloaded(item)
        started = time.perf_counter()
        try:
            s3 = bare.get(r.headers["Location"], timeout=120)
        except requests.RequestException as error:
            self.client.recorder.record("s3_get", time.perf_counter() - started, repr(error))
            return
        elapsed = time.perf_counter() - started
        if s3.status_code != 200:
            self.client.recorder.record("s3_get", elapsed, f"{item.path} -> {s3.status_code} {s3.text[:200]}")
            return
        self.client.recorder.record("s3_get", elapsed)
        got = hashlib.sha256(s3.content).hexdigest()
        if got != item.sha256:
            self.client.recorder.error(
                f"download of {item.repo}/{item.path}: sha256 {got}, uploaded {item.sha256}"
            )
        with self.ledger.lock:
            self.ledger.verified += 1

    # the run ---------------------------------------------------------------------------------------

    def load(self, publishers: int, downloaders: int) -> None:
        self.deadline = time.monotonic() + self.seconds
        started = time.perf_counter()
        threads = [
            threading.Thread(target=self.publisher, args=(i,), name=f"pub{i}") for i in range(publishers)
        ]
        threads += [
            threading.Thread(target=self.downloader, args=(i,), name=f"dl{i}") for i in range(downloaders)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.wall = time.perf_counter() - started

    def _get(self, out: list[str], method: str, path: str, **kwargs: Any) -> Any:
        """A check's request as the organisation's owner: its JSON, or None (and a difference)."""
        r = self.client.call("check", method, path, self.scene.owner, **kwargs)
        if r is None:
            out.append(f"{method} {path} failed")
            return None
        return r.json()

    def package_mismatches(self, package: PackageState, usage: dict | None = None) -> list[str]:
        """The differences of one package: versions, labels, files (path, sha256, size), attributes,
        download counts per version and (given its package_usage row) storage and file count."""
        org, repo, name, out = self.scene.org, package.repo, package.name, []
        with self.ledger.lock:
            files = {p: f for v in package.versions.values() for p, f in v.files.items()}
            versions = sorted(package.versions)
            made = {v: n for (r, p, v), n in self.ledger.downloads.items() if (r, p) == (repo, name)}
        if usage is not None:
            expected = (sum(f.size for f in files.values()), len(files))
            if (usage["storage_bytes"], usage["file_count"]) != expected:
                out.append(f"package_usage {repo}/{name}: {usage}, expected {expected}")
        body = self._get(out, "GET", f"/packages/{org}/{repo}/{name}")
        if body is not None:
            if sorted(body["versions"]) != versions:
                out.append(f"{repo}/{name}: versions {sorted(body['versions'])}, expected {versions}")
            if sorted(body.get("attribute_names") or []) != sorted(package.attributes):
                out.append(
                    f"{repo}/{name}: attribute_names {body.get('attribute_names')}, "
                    f"expected {sorted(package.attributes)}"
                )
            if package.owner >= 0 and body.get("labels") != package.labels:
                out.append(f"{repo}/{name}: labels {body.get('labels')}, expected {package.labels}")
        path = f"/packages/{org}/{repo}/{name}/files"
        listed = self._get(out, "GET", path, params={"include_unpublished": 1}) or []
        got = {f["path"]: (f["sha256"], f["size"]) for f in listed}
        want = {p: (f.sha256, f.size) for p, f in files.items() if not f.candidates}
        undecided = {p for p, f in files.items() if f.candidates}
        if {p: v for p, v in got.items() if p not in undecided} != want or set(got) != set(files):
            out.append(f"{repo}/{name}: files differ: listed {sorted(got)}, expected {sorted(files)}")
        if package.attributes:
            attrs = self._get(out, "GET", f"/packages/{org}/{repo}/{name}/attributes") or []
            have = {a["name"]: a["values"] for a in attrs}
            if have != package.attributes:
                out.append(f"{repo}/{name}: attributes {have}, expected {package.attributes}")
        path = f"/packages/{org}/{repo}/{name}/stats/total_downloads"
        stats = self._get(out, "POST", path, json={"from": "2000-01-01T00:00:00.000Z"})
        if stats is not None:
            counts = {
                r["version"]: r["count"] for r in stats["records"] if r["count"] and r["version"] in versions
            }
            made = {v: n for v, n in made.items() if v in versions}
            if counts != made:
                out.append(f"{repo}/{name}: total_downloads {counts}, made {made}")
        return out

    def mismatches(self) -> list[str]:
        """Every difference between what the API reports and what the clients did (empty: all equal)."""
        org, ledger = self.scene.org, self.ledger
        out: list[str] = []

        def get(kind: str, method: str, path: str, **kwargs: Any) -> Any:
            return self._get(out, method, path, **kwargs)

        with ledger.lock:
            packages = dict(ledger.packages)
            total_size = sum(
                f.size for p in packages.values() for v in p.versions.values() for f in v.files.values()
            )
        for repo in (self.scene.public, self.scene.private):
            mine = {p.name: p for (r, _), p in packages.items() if r == repo}
            info = get("check", "GET", f"/repos/{org}/{repo}")
            if info and info.get("package_count") != len(mine):
                out.append(f"{repo}: package_count {info.get('package_count')}, expected {len(mine)}")
            usage: list[dict] = []
            while True:  # pages of 50
                page = get(
                    "check", "POST", f"/usage/package_usage/{org}/{repo}", params={"start_pos": len(usage)}
                )
                usage += page or []
                if not page or len(page) < 50:
                    break
            usage_by = {u["package"]: u for u in usage}
            for name, package in mine.items():
                out += self.package_mismatches(
                    package, usage_by.get(name, {"storage_bytes": 0, "file_count": 0})
                )
        subject = get("check", "GET", f"/orgs/{org}")
        if subject and subject.get("quota_used_bytes") != total_size:
            out.append(f"quota_used_bytes {subject.get('quota_used_bytes')}, expected {total_size}")
        with ledger.lock:
            download_bytes = dict(ledger.download_bytes)
        period = get("check", "POST", f"/usage/{org}", json={"from": month_start()})
        if period:
            current = period[-1]
            if current["storage_bytes"] != total_size:
                out.append(f"usage storage_bytes {current['storage_bytes']}, expected {total_size}")
            if current["download_bytes"] != sum(download_bytes.values()):
                out.append(
                    f"usage download_bytes {current['download_bytes']}, made {sum(download_bytes.values())}"
                )
            repo_downloads = 0
            for repo in (self.scene.public, self.scene.private):
                rep = get("check", "POST", f"/usage/{org}/{repo}", json={"from": month_start()})
                if rep:
                    repo_downloads += rep[-1]["download_bytes"]
                    if rep[-1]["download_bytes"] != download_bytes.get(repo, 0):
                        out.append(
                            f"usage {repo} download_bytes {rep[-1]['download_bytes']}, "
                            f"made {download_bytes.get(repo, 0)}"
                        )
            if repo_downloads != current["download_bytes"]:
                out.append(
                    f"repositories' download_bytes sum {repo_downloads}, "
                    f"subject's {current['download_bytes']}"
                )
        return out

    def check(self, settle: float, between: Callable[[], None] | None = None) -> list[str]:
        """Poll the checks until they all pass or ``settle`` seconds pass; the last differences.
        ``between`` runs before each round (e.g. a rollup)."""
        deadline = time.monotonic() + settle
        checks = Client(self.client.urls, Recorder())  # the polling's own answers are not the figures
        real, self.client = self.client, checks
        try:
            while True:
                if between:
                    between()
                found = self.mismatches()
                if not found or time.monotonic() > deadline:
                    real.recorder.errors.extend(checks.recorder.errors if found else [])
                    return found
                checks.recorder.errors.clear()
                time.sleep(1)
        finally:
            self.client = real


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def month_start() -> str:
    return datetime.now(UTC).strftime("%Y-%m-01T00:00:00.000Z")


# -- the server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"make serve exited:\n{log.read_text()}")
        try:
            requests.get(url + "/repos/admin", timeout=2)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise SystemExit(f"make serve did not answer:\n{log.read_text()}") from None
            time.sleep(0.2)


@contextmanager
def serve(containers: int, logdir: Path) -> Iterator[tuple[list[str], tuple[str, str], list[Path]]]:
    """``make serve`` on free ports (and ``containers - 1`` more API processes on its local AWS);
    yields their URLs, the administrator and the log files."""
    admin = ("admin", secrets.token_hex(16))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHELF_", "AWS_"))}
    env |= {
        "AWS_PORT": "0",
        "SHELF_ADMIN_API_KEY": admin[1],
        "PYTHONUNBUFFERED": "1",
        "SHELF_LOCAL_SCHEDULE_SECONDS": "2",
    }
    processes: list[subprocess.Popen] = []
    urls, logs = [], []
    try:
        for n in range(containers):
            port = free_port()
            log = logdir / f"serve-{n}.log"
            with log.open("w") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "infra.local.serve"],
                        cwd=ROOT,
                        env=env | {"PORT": str(port)},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
            logs.append(log)
            wait_up(urls[-1], processes[-1], log)
            if n == 0:
                endpoint = re.search(r"Local AWS \(moto\) on (\S+)", log.read_text())
                assert endpoint, log.read_text()
                env["SHELF_LOCAL_AWS_ENDPOINT"] = endpoint.group(1)
        yield urls, admin, logs
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


#: Lines of a server log that mean a background function failed (the pump retries it).
FAILURES = re.compile(r"event handler failed|scheduled function .* failed|Traceback|-> 5\d\d$", re.M)


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"{url}: the load run is for loopback servers only")


def run(
    urls: list[str],
    admin: tuple[str, str],
    publishers: int = 4,
    downloaders: int = 8,
    seconds: float = 60,
    seed: int | None = None,
    large_every: int = 25,
    settle: float = 90,
    between: Callable[[], None] | None = None,
) -> tuple[Run, list[str]]:
    """Set up, load for ``seconds``, check; returns the run (figures, errors) and the mismatches."""
    for url in urls:
        check_loopback(url)
    seed = random.randrange(10**6) if seed is None else seed
    client = Client(urls, Recorder())
    scene = setup(client, admin, publishers, downloaders, f"{seed}-{secrets.token_hex(3)}")
    client.recorder.latencies.pop("setup", None)
    the_run = Run(client, scene, seconds, seed, large_every)
    the_run.load(publishers, downloaders)
    return the_run, the_run.check(settle, between)


def report(the_run: Run, mismatches: list[str], extra_errors: list[str]) -> str:
    lines = [the_run.client.recorder.table(the_run.wall)]
    lines.append(
        f"{the_run.ledger.verified} downloads checked by sha256; "
        f"{len(mismatches)} state mismatches; {len(extra_errors)} server log failures"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    env = os.environ
    parser.add_argument("--url", default=env.get("URL") or None, help="a running make serve (loopback)")
    parser.add_argument(
        "--admin", default=env.get("ADMIN"), help="user:key of its administrator (with --url)"
    )
    parser.add_argument("--seconds", type=float, default=float(env.get("DURATION") or 60))
    parser.add_argument("--publishers", type=int, default=int(env.get("PUBLISHERS") or 4))
    parser.add_argument("--downloaders", type=int, default=int(env.get("DOWNLOADERS") or 8))
    parser.add_argument(
        "--containers",
        type=int,
        default=int(env.get("CONTAINERS") or 2),
        help="API processes sharing one local AWS (without --url)",
    )
    parser.add_argument(
        "--large-every", type=int, default=25, help="one large upload per N uploads (0: none)"
    )
    parser.add_argument("--settle", type=float, default=90, help="seconds the checks may wait for async work")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    print(f"machine: nproc {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    logs: list[Path] = []
    if args.url:
        if not args.admin or ":" not in args.admin:
            parser.error("--url needs --admin user:key (or ADMIN=)")
        user, key = args.admin.split(":", 1)
        the_run, mismatches = run(
            [args.url.rstrip("/")],
            (user, key),
            args.publishers,
            args.downloaders,
            args.seconds,
            args.seed,
            args.large_every,
            args.settle,
        )
        failures: list[str] = []
    else:
        import tempfile

        with (
            tempfile.TemporaryDirectory(prefix="shelf-load-") as tmp,
            serve(args.containers, Path(tmp)) as (urls, admin, logs),
        ):
            print(f"make serve: {', '.join(urls)}")
            the_run, mismatches = run(
                urls,
                admin,
                args.publishers,
                args.downloaders,
                args.seconds,
                args.seed,
                args.large_every,
                args.settle,
            )
            failures = [m.group(0) for log in logs for m in FAILURES.finditer(log.read_text())]
            if failures:
                for log in logs:
                    text = log.read_text()
                    for m in FAILURES.finditer(text):
                        print(f"--- {log.name}: {text[max(0, m.start() - 1500) : m.end() + 300]}")
                        break
    errors = the_run.client.recorder.errors
    print(
        f"{args.publishers} publishers, {args.downloaders} downloaders, {args.seconds:g} s, "
        f"{len(the_run.client.urls)} API process(es), seed {the_run.seed}"
    )
    print(report(the_run, mismatches, failures))
    for line in errors[:30] + mismatches[:30]:
        print("  " + line)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if errors or mismatches or failures else 0


if __name__ == "__main__":
    sys.exit(main())
