"""The index machinery (chalicelib/indexes) with a test calculator (tests/fake_index.py): debounced
calculations after publish and delete, calc_metadata, the atomic switch, crash recovery, serving; and the
Debian and RPM calculators on their own (no AWS): an incremental calculation gives what one from scratch
gives, yum_metadata_depth bases, the groups file, signing, claims (the real apt and dnf read them in
tests/test_package_clients.py)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re
import time

import pytest
import requests

import app as app_module
from bench.indexes import _entries
from chalicelib import eventbus, queues
from chalicelib.content.models import File
from chalicelib.indexes import debian, registry, rpm, services
from chalicelib.indexes.models import IndexState
from chalicelib.indexes.registry import Job
from chalicelib.repositories.models import Repository
from infra.local.events import EventPump
from tests import fake_index
from tests.conftest import ADMIN, assert_message


@pytest.fixture(scope="module")
def pump():
    pump = EventPump(
        {queues.EVENTS: eventbus.lifecycle_events, queues.INDEXES: app_module.index_calculations}
    )
    pump.drain()
    return pump


@pytest.fixture(autouse=True)
def fake_calculator(monkeypatch):
    monkeypatch.setitem(registry.CALCULATOR_MODULES, "opkg", "tests.fake_index")
    real = services.settings()
    monkeypatch.setattr(services, "settings", lambda: dataclasses.replace(real, index_debounce_seconds=0))
    fake_index.RUNS.clear()
    fake_index.FAIL.clear()
    fake_index.DURING.clear()


def settle(pump: EventPump, repo_id: str, timeout: float = 10) -> IndexState:
    """Deliver events and calculations until the repository's index has nothing pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump.drain()
        state = services.state_of(repo_id)
        if state is not None and not state.schedule and not state.lease_until and not state.changed:
            return state
        time.sleep(0.1)
    raise AssertionError(f"index of {repo_id} did not settle")


def index_text(api, owner, repo, path="idx/list.txt", auth=None):
    response = api.get(f"/dl/{owner}/{repo}/{path}", auth)
    if response.status_code != 302:
        return response.status_code
    return requests.get(response.headers["Location"], timeout=10).text


@pytest.fixture(scope="module")
def scene(api, world_module):
    owner = world_module.user()
    repo = world_module.repo(owner.name, type="opkg")
    package = world_module.package(owner.name, repo)
    from chalicelib.repositories.models import Repository

    return owner, repo, package, Repository.get(owner.name, repo).id


@pytest.fixture(scope="module")
def world_module(api):
    from tests.conftest import World

    return World(api)


def upload(api, owner, repo, package, version, name, publish=True):
    response = api.put(
        f"/content/{owner.name}/{repo}/{package}/{version}/{name}",
        owner.auth,
        data=name.encode(),
        params={"publish": "1"} if publish else None,
    )
    assert response.status_code == 201, response.text


def test_an_empty_repository_is_indexed_at_first_read(api, scene):
    owner, repo, _, repo_id = scene
    assert index_text(api, owner.name, repo) == ""
    assert index_text(api, owner.name, repo, "idx/count.txt") == 404  # removed: nothing to count
    assert index_text(api, owner.name, repo, "idx/nothing") == 404
    assert services.state_of(repo_id).generation == 1


def test_a_burst_of_publishes_is_one_calculation_that_follows_and_deletes_follow(
    api, scene, pump, monkeypatch
):
    owner, repo, package, repo_id = scene
    real = services.settings()
    monkeypatch.setattr(services, "settings", lambda: dataclasses.replace(real, index_debounce_seconds=1))
    before = int(services.state_of(repo_id).generation)
    for i in range(3):
        upload(api, owner, repo, package, "1.0", f"f{i}.txt")
    upload(api, owner, repo, package, "1.0", "unpublished.txt", publish=False)
    state = settle(pump, repo_id)
    assert fake_index.RUNS == [False]  # one incremental run for the burst
    assert int(state.generation) == before + 1
    assert index_text(api, owner.name, repo) == "f0.txt\nf1.txt\nf2.txt"
    assert index_text(api, owner.name, repo, "idx/count.txt") == "3"
    monkeypatch.setattr(services, "settings", lambda: dataclasses.replace(real, index_debounce_seconds=0))
    response = api.delete(f"/content/{owner.name}/{repo}/f1.txt", owner.auth)
    assert response.status_code == 200, response.text
    settle(pump, repo_id)
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt"


def test_calc_metadata_schedules_a_calculation_from_scratch(api, scene, pump, world):
    owner, repo, _, repo_id = scene
    response = api.post(f"/calc_metadata/{owner.name}/{repo}", owner.auth)
    assert response.status_code == 202
    message = f"Calculation was successfully scheduled for '/{owner.name}/{repo}'"
    assert response.json() == {"message": message}
    response = api.post(f"/calc_metadata/{owner.name}/{repo}/some/path", owner.auth)
    assert response.status_code == 202
    settle(pump, repo_id)
    assert fake_index.RUNS == [True]  # both requests: one run
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt"
    generic = world.repo(owner.name)
    response = api.post(f"/calc_metadata/{owner.name}/{generic}", owner.auth)
    assert response.status_code == 400
    assert_message(response, "It is not possible to calculate index for Generic repositories.")
    assert api.post(f"/calc_metadata/{owner.name}/{repo}").status_code == 401
    stranger = world.user()
    assert api.post(f"/calc_metadata/{owner.name}/{repo}", stranger.auth).status_code == 403


def test_readers_see_the_old_index_until_the_switch_and_a_crash_is_undone(api, scene, pump, monkeypatch):
    owner, repo, package, repo_id = scene
    generation = int(services.state_of(repo_id).generation)
    flips: list = []
    real_release = services._release

    def crash_before_flip(claim, flipped, file_count=None, pending=None):
        if flipped and not flips:
            flips.append(claim.attempt)
            raise RuntimeError("crashed before the switch")
        return real_release(claim, flipped, file_count, pending)

    monkeypatch.setattr(services, "_release", crash_before_flip)
    upload(api, owner, repo, package, "1.1", "g.txt")
    with pytest.raises(RuntimeError):
        pump.drain()
    # The new generation's files are written, the pointer is not moved: readers see the old index.
    assert int(services.state_of(repo_id).generation) == generation
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt"
    # The failed switch freed the lease; the message comes again; the next attempt starts from scratch.
    assert services.state_of(repo_id).lease_until is None
    services.run(repo_id)
    assert fake_index.RUNS[-1] is True
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt\ng.txt"
    assert int(services.state_of(repo_id).generation) > generation


def test_a_failing_calculation_frees_the_lease_and_is_retried(api, scene, pump):
    owner, repo, package, repo_id = scene
    fake_index.FAIL.append(ValueError("bad package"))
    upload(api, owner, repo, package, "1.2", "h.txt")
    with pytest.raises(ValueError):
        pump.drain()
    assert services.state_of(repo_id).lease_until is None
    services.request(repo_id, owner.name, repo, ["h.txt"])
    settle(pump, repo_id)
    assert "h.txt" in index_text(api, owner.name, repo)


def test_a_change_noted_during_a_calculation_is_not_lost(api, scene, pump):
    owner, repo, package, repo_id = scene
    upload(api, owner, repo, package, "1.3", "i.txt")
    settle(pump, repo_id)
    # The same path changes again while the next calculation runs (after it may have read it).
    services.request(repo_id, owner.name, repo, ["i.txt"], send=False)
    fake_index.DURING.append(lambda: services.request(repo_id, owner.name, repo, ["i.txt"], send=False))
    assert services.run(repo_id)
    state = services.state_of(repo_id)
    assert state.changed == {"i.txt"} and state.schedule  # still pending, and scheduled
    assert services.run(repo_id)
    assert not services.state_of(repo_id).changed


def test_a_change_noted_during_a_calculation_that_switches_content_is_not_lost(api, scene, pump):
    owner, repo, package, repo_id = scene
    upload(api, owner, repo, package, "1.4", "k.txt")
    pump.drain()  # the calculation after the upload lists k.txt
    upload(api, owner, repo, package, "1.5", "l.txt")  # its calculation: run here, a change meanwhile
    services.request(repo_id, owner.name, repo, ["l.txt"], send=False)
    fake_index.DURING.append(lambda: services.request(repo_id, owner.name, repo, ["l.txt"], send=False))
    assert services.run(repo_id)  # switched (with its announcements), the change kept pending
    assert services.state_of(repo_id).changed == {"l.txt"}
    assert "l.txt" in index_text(api, owner.name, repo)
    assert services.run(repo_id)
    assert not services.state_of(repo_id).changed
    pump.drain()


def test_a_private_repository_index_needs_credentials(api, world, pump):
    owner = world.user()
    repo = world.repo(owner.name, private=True, type="opkg")
    response = api.get(f"/dl/{owner.name}/{repo}/idx/list.txt")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert index_text(api, owner.name, repo, auth=owner.auth) == ""
    assert index_text(api, owner.name, repo, auth=world.user().auth) == 404


def test_a_deleted_repository_loses_its_index(api, world, pump):
    owner = world.user()
    repo = world.repo(owner.name, type="opkg")
    assert index_text(api, owner.name, repo) == ""
    from chalicelib.repositories.models import Repository

    repo_id = Repository.get(owner.name, repo).id
    assert api.delete(f"/repos/{owner.name}/{repo}", ADMIN).status_code == 200
    pump.drain()
    assert services.state_of(repo_id) is None
    assert services.run(repo_id) is False  # a late message of the deleted repository: dropped
    assert pump.drain() == 0


# --- the Debian and RPM calculators, without AWS ----------------------------------------------------


class FakeSigner:
    def clear(self, data: bytes) -> bytes:
        return b"CLEAR\n" + data

    def detached(self, data: bytes) -> bytes:
        return b"SIG " + hashlib.sha256(data).hexdigest().encode()


class Store:
    """Files and index files of one repository, in memory; ``calc`` runs a calculator like the
    machinery does (outputs applied; from scratch, paths not returned removed)."""

    def __init__(self, repo: Repository, module):
        self.repo, self.module = repo, module
        self.files: dict[str, File] = {}
        self.index: dict[str, bytes] = {}
        self.blobs: dict[str, bytes] = {}

    def calc(self, changed: set[str] | None) -> dict[str, bytes | None]:
        job = Job(
            repo=self.repo,
            changed=None if changed is None else frozenset(changed),
            scopes=frozenset(),
            signer=FakeSigner(),
            files=lambda: (f for f in self.files.values() if f.published),
            file=self.files.get,
            previous=self.index.get,
            paths=lambda: list(self.index),
            blob=self.blobs.__getitem__,
        )
        out = self.module.calculate(job)
        if changed is None:
            self.index = {}
        for path, data in out.items():
            if data is None:
                self.index.pop(path, None)
            else:
                self.index[path] = data
        return out


def deb_file(repo: Repository, name: str, dist: str = "stable", arch: str = "amd64") -> File:
    sha = hashlib.sha256(name.encode()).hexdigest()
    return File(
        repo.id,
        f"pool/main/{name[0]}/{name}_1.0_{arch}.deb",
        package=name,
        version="1.0",
        size=100,
        sha1=hashlib.sha1(name.encode()).hexdigest(),
        sha256=sha,
        published=True,
        deb_distribution=[dist],
        deb_component=["main"],
        deb_architecture=[arch],
        deb_control=f"Package: {name}\nVersion: 1.0\nArchitecture: {arch}\nDescription: {name}\n x\n",
    )


def rpm_file(repo: Repository, path: str) -> File:
    name = path.rsplit("/", 1)[-1].split("-")[0]
    sha = hashlib.sha256(path.encode()).hexdigest()
    blob = gzip.compress(json.dumps(_entries(name, "1.0", sha)).encode())
    return File(
        repo.id,
        path,
        package=name,
        version="1.0",
        size=10,
        sha1="0" * 40,
        sha256=sha,
        published=True,
        rpm_xml=blob,
    )


def packages_files(index: dict[str, bytes]) -> dict[str, bytes]:
    return {p: d for p, d in index.items() if p.endswith(("Packages", "Packages.gz"))}


def test_debian_incremental_matches_from_scratch_and_signs():
    repo = Repository("o", "r", id="deb", type="debian", default_debian_distribution="stable")
    store = Store(repo, debian)
    store.calc(None)
    assert store.index["dists/stable/main/binary-amd64/Packages"] == b""  # the default coordinates
    for name, dist, arch in (
        ("alpha", "stable", "amd64"),
        ("beta", "stable", "i386"),
        ("gamma", "old", "amd64"),
    ):
        record = deb_file(repo, name, dist, arch)
        store.files[record.path] = record
        store.calc({record.path})
    del store.files["pool/main/a/alpha_1.0_amd64.deb"]
    store.calc({"pool/main/a/alpha_1.0_amd64.deb"})
    incremental = dict(store.index)
    store.calc(None)
    assert packages_files(incremental) == packages_files(store.index)
    assert set(incremental) == set(store.index)
    packages = store.index["dists/stable/main/binary-i386/Packages"].decode()
    assert "Package: beta" in packages and "Filename: pool/main/b/beta_1.0_i386.deb" in packages
    assert "SHA256: " + hashlib.sha256(b"beta").hexdigest() in packages
    assert store.index["dists/stable/main/binary-amd64/Packages"] == b""  # alpha deleted
    release = store.index["dists/stable/Release"].decode()
    assert "Architectures: amd64 i386" in release and "Components: main" in release
    body = store.index["dists/stable/main/binary-i386/Packages.gz"]
    assert f" {hashlib.sha256(body).hexdigest()} {len(body):>16} main/binary-i386/Packages.gz" in release
    assert store.index["dists/stable/InRelease"] == b"CLEAR\n" + release.encode()
    assert store.index["dists/old/Release.gpg"].startswith(b"SIG ")
    # The last .deb of a distribution goes: so does the distribution.
    del store.files["pool/main/g/gamma_1.0_amd64.deb"]
    store.calc({"pool/main/g/gamma_1.0_amd64.deb"})
    assert not [p for p in store.index if p.startswith("dists/old/")]
    assert debian.claims(repo, "dists/stable/InRelease") and not debian.claims(repo, "pool/x.deb")


def primary_names(store: Store, base: str) -> list[str]:
    repomd = store.index[f"{base}repodata/repomd.xml"].decode()
    href = re.search(r'<data type="primary">.*?<location href="([^"]+)"', repomd, re.S).group(1)
    primary = gzip.decompress(store.index[base + href]).decode()
    return re.findall(r'<location href="([^"]+)"', primary)


@pytest.mark.parametrize("depth", [0, 1])
def test_rpm_incremental_matches_from_scratch_with_bases_and_groups(depth):
    repo = Repository("o", "r", id="rpm", type="rpm", yum_metadata_depth=depth, yum_groups_file="comps.xml")
    store = Store(repo, rpm)
    store.calc(None)
    paths = ["el8/a-1.0-1.noarch.rpm", "el8/b-1.0-1.noarch.rpm", "el9/c-1.0-1.noarch.rpm"]
    for path in paths:
        store.files[path] = rpm_file(repo, path)
        store.calc({path})
    comps = File(repo.id, "comps.xml", sha256="c" * 64, published=True)
    store.files["comps.xml"] = comps
    store.blobs["c" * 64] = b"<comps/>"
    del store.files[paths[1]]
    store.calc({paths[1]})
    incremental = {
        p: primary_names(store, p[: -len("repodata/repomd.xml")])
        for p in store.index
        if p.endswith("repomd.xml")
    }
    store.calc(None)
    scratch = {
        p: primary_names(store, p[: -len("repodata/repomd.xml")])
        for p in store.index
        if p.endswith("repomd.xml")
    }
    assert incremental == scratch
    if depth == 0:
        assert scratch == {"repodata/repomd.xml": ["el8/a-1.0-1.noarch.rpm", "el9/c-1.0-1.noarch.rpm"]}
    else:
        assert scratch == {
            "el8/repodata/repomd.xml": ["a-1.0-1.noarch.rpm"],
            "el9/repodata/repomd.xml": ["c-1.0-1.noarch.rpm"],
        }
    base = "" if depth == 0 else "el8/"
    repomd = store.index[f"{base}repodata/repomd.xml"]
    assert store.index[f"{base}repodata/repomd.xml.asc"] == FakeSigner().detached(repomd)
    assert b'<data type="group">' in repomd
    assert store.index[f"{base}repodata/{hashlib.sha256(b'<comps/>').hexdigest()}-comps.xml"] == b"<comps/>"
    # Old data files are gone; each kind is there once per base.
    assert (
        len([p for p in store.index if p.startswith(f"{base}repodata/") and p.endswith("-primary.xml.gz")])
        == 1
    )
    assert rpm.claims(repo, "el8/repodata/repomd.xml") and not rpm.claims(repo, "el8/a-1.0-1.noarch.rpm")
