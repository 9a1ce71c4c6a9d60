"""The real apt and dnf against Shelf's signed Debian and RPM repositories (settings from
../shared/clients.md: private configuration, the system's untouched).

One module set-up: packages built here (dpkg-deb, rpmbuild), uploaded and published; the index
calculations run from the queues in the background, as deployed, with a 1 s debounce.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import requests

import app as app_module
from chalicelib import eventbus, queues, storage
from chalicelib.indexes import services as indexes
from chalicelib.repositories.models import Repository
from infra.local.events import EventPump
from tests.conftest import World

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get is not installed")


@pytest.fixture(scope="module")
def background(api):
    """Queued events and index calculations, delivered in the background, without a debounce delay
    (tests/test_indexes.py shows the debounce)."""
    real = indexes.settings()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexes, "settings", lambda: dataclasses.replace(real, index_debounce_seconds=0))
        pump = EventPump(
            {queues.EVENTS: eventbus.lifecycle_events, queues.INDEXES: app_module.index_calculations}
        )
        pump.drain()
        pump.start()
        yield pump
        pump.stop()


def _events_in_queue() -> int:
    """Lifecycle events queued or being delivered (a slow machine may not have delivered them yet)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = queues.sqs().get_queue_attributes(
        QueueUrl=queues.queue_url(queues.EVENTS), AttributeNames=names
    )["Attributes"]
    return sum(int(attributes[name]) for name in names)


def settle(repo_id: str, timeout: float = 20) -> None:
    """Wait until the repository's index has nothing pending (the debounce, then the calculation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _events_in_queue():  # the events that schedule it first
        time.sleep(0.1)
    while time.monotonic() < deadline:
        state = indexes.state_of(repo_id)
        if state is not None and not state.schedule and not state.lease_until and not state.changed:
            return
        time.sleep(0.1)
    raise AssertionError("the index did not follow")


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


# --- Debian ------------------------------------------------------------------------------------------

COORDINATES = "deb_distribution=stable;deb_component=main;deb_architecture=amd64"


def build_deb(work: Path, name: str, version: str, arch: str) -> Path:
    root = work / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share/doc" / name).mkdir(parents=True)
    (root / "usr/share/doc" / name / "README").write_text(f"{name} {version}\n")
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Shelf <t@example.com>\n"
        f"Description: {name} for the apt test\n"
    )
    out = work / f"{name}_{version}_{arch}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(out)]).check_returncode()
    return out


class Apt:
    """apt-get with a private configuration in ``home`` (state, cache, sources)."""

    def __init__(self, home: Path):
        self.home = home
        for d in ("state/lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d", "dl"):
            (home / d).mkdir(parents=True, exist_ok=True)
        (home / "apt.conf").write_text(
            textwrap.dedent(f"""\
                Dir::Etc::sourcelist "{home}/sources.list";
                Dir::Etc::sourceparts "{home}/sources.list.d";
                Dir::Etc::preferencesparts "{home}/preferences.d";
                Dir::State "{home}/state";
                Dir::Cache "{home}/cache";
                APT::Sandbox::User "root";
                APT::Architecture "amd64";
                Acquire::Languages "none";
            """)
        )

    def source(self, line: str) -> None:
        (self.home / "sources.list").write_text(line + "\n")
        shutil.rmtree(self.home / "state/lists")
        (self.home / "state/lists/partial").mkdir(parents=True)

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        env = {"APT_CONFIG": str(self.home / "apt.conf"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        return run(["apt-get", "-q", *args], env=env, cwd=self.home / "dl")


@pytest.fixture(scope="module")
def debian(api, background, tmp_path_factory):
    world = World(api)
    owner = world.user()
    repo = world.repo(
        owner.name,
        type="debian",
        gpg_sign_metadata=True,
        default_debian_distribution="stable",
        default_debian_architecture="amd64",
    )
    package = world.package(owner.name, repo, name="hello")
    work = tmp_path_factory.mktemp("deb")
    debs = {"hello": build_deb(work, "hello", "1.0", "all"), "tool": build_deb(work, "tool", "1.0", "amd64")}
    newer = build_deb(work, "tool", "1.1", "amd64")
    repo_id = Repository.get(owner.name, repo).id
    base = f"{api.base_url}/dl/{owner.name}/{repo}"
    # An empty repository is usable at once: its default distribution is there, signed.
    assert api.get(f"/dl/{owner.name}/{repo}/dists/stable/InRelease").status_code == 302
    for name, deb in debs.items():
        path = f"pool/main/{name[0]}/{deb.name};{COORDINATES}"
        response = api.put(
            f"/content/{owner.name}/{repo}/{package}/1.0/{path}?publish=1", owner.auth, data=deb.read_bytes()
        )
        assert response.status_code == 201, response.text
    settle(repo_id)
    key = work / "shelf.asc"
    key.write_bytes(api.get("/keys/gpg/public.key").content)
    apt = Apt(tmp_path_factory.mktemp("apt"))
    apt.source(f"deb [signed-by={key}] {base} stable main")
    return {
        "owner": owner,
        "repo": repo,
        "package": package,
        "repo_id": repo_id,
        "debs": debs,
        "apt": apt,
        "key": key,
        "newer": newer,
        "base": base,
        "work": work,
    }


def test_apt_updates_and_downloads_from_a_signed_repository(api, debian):
    apt = debian["apt"]
    update = apt("update")
    assert update.returncode == 0, update.stdout + update.stderr
    assert "NO_PUBKEY" not in update.stdout + update.stderr
    for name in ("hello", "tool"):
        download = apt("download", name)
        assert download.returncode == 0, download.stdout + download.stderr
        got = apt.home / "dl" / debian["debs"][name].name
        assert got.read_bytes() == debian["debs"][name].read_bytes()
        got.unlink()


def test_apt_refuses_a_wrong_key_and_a_tampered_index(api, debian, tmp_path):
    apt, owner = debian["apt"], debian["owner"]
    other = tmp_path / "other.asc"
    response = api.post(f"/users/{owner.name}/keys/gpg", owner.auth)  # a key that did not sign it
    other.write_text(response.json()["public_key"])
    apt.source(f"deb [signed-by={other}] {debian['base']} stable main")
    update = apt("update")
    assert update.returncode != 0 and "NO_PUBKEY" in update.stdout + update.stderr, update.stdout
    apt.source(f"deb [signed-by={debian['key']}] {debian['base']} stable main")
    # Tamper with the served Packages.gz: its hash no longer matches the signed Release.
    repo = Repository.get(owner.name, debian["repo"])
    key = indexes.lookup(repo, "dists/stable/main/binary-amd64/Packages.gz")
    original = storage.get_object(key)
    storage.put_object(key, original[:-8] + b"tampered")
    try:
        update = apt("update")
        assert update.returncode != 0, update.stdout
        assert "Hash Sum mismatch" in update.stdout + update.stderr or "File has unexpected size" in (
            update.stdout + update.stderr
        )
    finally:
        storage.put_object(key, original)
    assert apt("update").returncode == 0


def test_apt_follows_a_delete_and_a_republish(api, debian):
    apt, owner, repo = debian["apt"], debian["owner"], debian["repo"]
    tool = debian["debs"]["tool"]
    response = api.delete(f"/content/{owner.name}/{repo}/pool/main/t/{tool.name}", owner.auth)
    assert response.status_code == 200, response.text
    newer = debian["newer"]
    path = f"pool/main/t/{newer.name};{COORDINATES}"
    response = api.put(
        f"/content/{owner.name}/{repo}/{debian['package']}/1.1/{path}?publish=1",
        owner.auth,
        data=newer.read_bytes(),
    )
    assert response.status_code == 201, response.text
    settle(debian["repo_id"])
    assert apt("update").returncode == 0
    assert apt("download", "tool=1.0").returncode != 0  # deleted: no longer in the index
    download = apt("download", "tool")
    assert download.returncode == 0, download.stdout + download.stderr
    assert (apt.home / "dl" / newer.name).read_bytes() == newer.read_bytes()


# --- RPM ---------------------------------------------------------------------------------------------


def build_rpms(work: Path, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Path]:
    """Noarch rpms (name, version), built by rpmbuild runs in parallel (one top dir each)."""
    runs = {}
    for name, version in wanted:
        top = work / f"rpmbuild-{name}-{version}"
        (top / "SPECS").mkdir(parents=True)
        spec = top / "SPECS" / f"{name}.spec"
        spec.write_text(
            textwrap.dedent(f"""\
                Name: {name}
                Version: {version}
                Release: 1
                Summary: {name} for the dnf test
                License: MIT
                BuildArch: noarch
                %description
                {name} for the dnf test
                %install
                mkdir -p %{{buildroot}}/usr/share/{name}
                echo {version} > %{{buildroot}}/usr/share/{name}/VERSION
                %files
                /usr/share/{name}/VERSION
            """)
        )
        defines = ["--define", f"_topdir {top}", "--define", f"_dbpath {top}/rpmdb"]
        defines += ["--define", "_build_id_links none"]
        command = ["rpmbuild", "--quiet", *defines, "-bb", str(spec)]
        runs[(name, version)] = (
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
            top,
        )
    built = {}
    for key, (process, top) in runs.items():
        output = process.communicate(timeout=120)[0]
        assert process.returncode == 0, output
        built[key] = top / "RPMS" / "noarch" / f"{key[0]}-{key[1]}-1.noarch.rpm"
    return built


class Dnf:
    """dnf with a private configuration, cache and install root in ``home``."""

    def __init__(self, home: Path):
        self.home = home
        (home / "repos.d").mkdir(parents=True)
        (home / "dl").mkdir()
        (home / "dnf.conf").write_text(
            f"[main]\nreposdir={home}/repos.d\ncachedir={home}/cache\nlogdir={home}\npersistdir={home}/persist\n"
            "gpgcheck=0\nmetadata_expire=0\n"
        )

    def repo(self, baseurl: str, key_url: str, auth: tuple[str, str] | None = None) -> None:
        lines = [
            "[shelf]",
            "name=shelf",
            f"baseurl={baseurl}",
            "enabled=1",
            "gpgcheck=0",
            "repo_gpgcheck=1",
            f"gpgkey={key_url}",
        ]
        if auth:
            lines += [f"username={auth[0]}", f"password={auth[1]}"]
        (self.home / "repos.d" / "shelf.repo").write_text("\n".join(lines) + "\n")
        shutil.rmtree(self.home / "cache", ignore_errors=True)

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        base = [
            "dnf",
            "-y",
            "-q",
            "-c",
            str(self.home / "dnf.conf"),
            f"--installroot={self.home}/root",
            "--releasever=1",
            "--disableplugin=*",
            "--enableplugin=download",
        ]
        return run([*base, *args], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.home)})


@pytest.fixture(scope="module")
def rpm(api, background, tmp_path_factory):
    if shutil.which("dnf") is None or shutil.which("rpmbuild") is None:
        pytest.skip("dnf and rpmbuild are installed by `make test` (Makefile: tools)")
    world = World(api)
    owner = world.user()
    work = tmp_path_factory.mktemp("rpm")
    built = build_rpms(work, [("hello", "1.0"), ("tool", "1.0"), ("tool", "1.1")])
    rpms = {"hello": built[("hello", "1.0")], "tool": built[("tool", "1.0")]}
    repos = {}
    for private in (False, True):
        repo = world.repo(owner.name, type="rpm", private=private, gpg_sign_metadata=True)
        package = world.package(owner.name, repo, name="hello")
        for deb in rpms.values() if not private else [rpms["hello"]]:
            response = api.put(
                f"/content/{owner.name}/{repo}/{package}/1.0/{deb.name}?publish=1",
                owner.auth,
                data=deb.read_bytes(),
            )
            assert response.status_code == 201, response.text
        repos[private] = (repo, package, Repository.get(owner.name, repo).id)
    for _, _, repo_id in repos.values():
        settle(repo_id)
    dnf = Dnf(tmp_path_factory.mktemp("dnf"))
    yield {
        "owner": owner,
        "repos": repos,
        "rpms": rpms,
        "newer": built[("tool", "1.1")],
        "key": f"{api.base_url}/keys/gpg/public.key",
        "dnf": dnf,
    }
    # dnf's key import starts gpg-agents in the install root; they would outlive the suite.
    subprocess.run(["pkill", "-f", f"gpg-agent --homedir {dnf.home}"], check=False)


def primary(api, base: str) -> str:
    """The primary.xml a dnf reads now (its location from repomd.xml)."""
    repomd = requests.get(api.get(f"{base}/repodata/repomd.xml").headers["Location"], timeout=10).text
    href = re.search(r'<data type="primary">.*?<location href="([^"]+)"', repomd, re.S).group(1)
    data = requests.get(api.get(f"{base}/{href}").headers["Location"], timeout=10).content
    return gzip.decompress(data).decode()


def test_dnf_makes_its_cache_and_downloads_from_a_signed_public_repository(api, rpm):
    dnf, owner = rpm["dnf"], rpm["owner"]
    repo, package, repo_id = rpm["repos"][False]
    dnf.repo(f"{api.base_url}/dl/{owner.name}/{repo}", rpm["key"])
    made = dnf("makecache")
    assert made.returncode == 0, made.stdout + made.stderr
    got = dnf("download", f"--destdir={dnf.home}/dl", "hello")
    assert got.returncode == 0, got.stdout + got.stderr
    assert (dnf.home / "dl" / rpm["rpms"]["hello"].name).read_bytes() == rpm["rpms"]["hello"].read_bytes()
    # A delete and a republish: the index follows.
    tool, newer = rpm["rpms"]["tool"], rpm["newer"]
    assert api.delete(f"/content/{owner.name}/{repo}/{tool.name}", owner.auth).status_code == 200
    response = api.put(
        f"/content/{owner.name}/{repo}/{package}/1.1/{newer.name}?publish=1",
        owner.auth,
        data=newer.read_bytes(),
    )
    assert response.status_code == 201
    settle(repo_id)
    listing = primary(api, f"/dl/{owner.name}/{repo}")
    deadline = time.monotonic() + 20
    while newer.name not in listing and time.monotonic() < deadline:
        # A calculation may have run between the delete's events and the republish's: another follows.
        time.sleep(0.2)
        settle(repo_id)
        listing = primary(api, f"/dl/{owner.name}/{repo}")
    assert tool.name not in listing  # deleted: no longer in the index
    assert newer.name in listing  # republished: in it
    # --refresh: within the second of makecache, dnf takes its cache as fresh even with metadata_expire=0
    got = dnf("--refresh", "download", f"--destdir={dnf.home}/dl", "tool")
    assert got.returncode == 0, got.stdout + got.stderr
    assert (dnf.home / "dl" / newer.name).read_bytes() == newer.read_bytes()


def test_dnf_reads_a_private_repository_with_credentials_only(api, rpm):
    dnf, owner = rpm["dnf"], rpm["owner"]
    repo, _, _ = rpm["repos"][True]
    base = f"{api.base_url}/dl/{owner.name}/{repo}"
    dnf.repo(base, rpm["key"])
    assert dnf("makecache").returncode != 0  # 401 without credentials
    # Another key than the one that signed repomd.xml: repo_gpgcheck refuses the repository.
    api.post(f"/users/{owner.name}/keys/gpg", owner.auth)
    dnf.repo(base, f"{api.base_url}/users/{owner.name}/keys/gpg/public.key", auth=owner.auth)
    refused = dnf("makecache")
    assert refused.returncode != 0, refused.stdout
    dnf.repo(base, rpm["key"], auth=owner.auth)
    got = dnf("download", f"--destdir={dnf.home}/dl", "hello")
    assert got.returncode == 0, got.stdout + got.stderr
