"""Maven repositories (issue #13): the real mvn resolves from ``/dl/:subject/:repo`` a fixed version,
``LATEST`` and a version range through maven-metadata.xml, with checksumPolicy fail (the .sha1 beside
every file and metadata file), and a private repository with credentials in settings.xml after the
401 challenge; a wrong checksum fails the build. Metadata follows publishes and deletions; Maven
Central sync is validated and refused."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

import app as app_module
from chalicelib import eventbus, queues
from chalicelib.indexes import services as indexes
from chalicelib.repositories.models import Repository
from infra.local.events import EventPump
from tests.conftest import World, unique

GROUP = "com.acme"
PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get"
#: A short-lived JVM starts faster without the optimising compiler.
MVN_ENV = {**os.environ, "MAVEN_OPTS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"}


def pom(artifact: str, version: str) -> bytes:
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>{GROUP}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>"
        "<packaging>jar</packaging></project>"
    ).encode()


def upload(api, auth, subject: str, repo: str, package: str, artifact: str, version: str) -> None:
    directory = f"{GROUP.replace('.', '/')}/{artifact}/{version}"
    base = f"/maven/{subject}/{repo}/{package}/{directory}/{artifact}-{version}"
    for suffix, data in ((".pom", pom(artifact, version)), (".jar", f"jar of {artifact} {version}".encode())):
        response = api.put(f"{base}{suffix};publish=1", auth, data=data)
        assert response.status_code == 201, response.text


def settings_xml(path: Path, local: Path, repos: dict[str, str], servers: dict[str, tuple[str, str]]) -> Path:
    """A private settings.xml: Debian's Maven repository as a file:// central, the repositories under
    test with checksumPolicy fail."""

    def repository(name: str, url: str, policy: str) -> str:
        return (
            f"<repository><id>{name}</id><url>{escape(url)}</url>"
            f"<releases><checksumPolicy>{policy}</checksumPolicy></releases>"
            f"<snapshots><checksumPolicy>{policy}</checksumPolicy></snapshots></repository>"
        )

    central = "file:///usr/share/maven-repo/"
    listed = repository("central", central, "ignore") + "".join(
        repository(n, u, "fail") for n, u in repos.items()
    )
    plugin = f"<pluginRepository><id>central</id><url>{central}</url></pluginRepository>"
    server = "".join(
        f"<server><id>{n}</id><username>{escape(u)}</username><password>{escape(p)}</password></server>"
        for n, (u, p) in servers.items()
    )
    path.write_text(
        f"<settings><localRepository>{local}</localRepository><offline>false</offline><servers>{server}</servers>"
        f"<profiles><profile><id>t</id><repositories>{listed}</repositories>"
        f"<pluginRepositories>{plugin}</pluginRepositories></profile></profiles>"
        "<activeProfiles><activeProfile>t</activeProfile></activeProfiles></settings>"
    )
    return path


def mvn_get(settings: Path, coordinates: str, transitive: bool = False) -> subprocess.CompletedProcess:
    """``dependency:get``; ranges are resolved only when collecting dependencies (``transitive``)."""
    command = [
        "mvn",
        "-B",
        "-q",
        "-s",
        str(settings),
        PLUGIN,
        f"-Dartifact={coordinates}",
        f"-Dtransitive={str(transitive).lower()}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=MVN_ENV)
    errors = [line for line in done.stdout.splitlines() if "ERROR" in line][:1]
    assert done.returncode == 0, (coordinates, *errors)
    return done


@pytest.fixture(scope="module")
def pump():
    """Queued events and index calculations, delivered on demand (no debounce delay)."""
    with pytest.MonkeyPatch.context() as patch:
        real = indexes.settings()
        patch.setattr(indexes, "settings", lambda: dataclasses.replace(real, index_debounce_seconds=0))
        pump = EventPump(
            {queues.EVENTS: eventbus.lifecycle_events, queues.INDEXES: app_module.index_calculations}
        )
        pump.drain()
        yield pump


def settle(pump: EventPump, *repos: tuple[str, str], timeout: float = 15) -> None:
    """Deliver events and calculations until the repositories' indexes have nothing pending."""
    ids = [Repository.get(owner, name).id for owner, name in repos]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump.drain()
        states = [indexes.state_of(repo_id) for repo_id in ids]
        if all(s is not None and not s.schedule and not s.lease_until and not s.changed for s in states):
            return
        time.sleep(0.05)
    raise AssertionError("the Maven metadata did not settle")


@pytest.fixture(scope="module")
def maven(api, pump, tmp_path_factory):
    """A public Maven repository with lib 1.0 and a private one with secret 1.0, 1.5 and 2.0, published,
    metadata calculated."""
    world = World(api)
    owner = world.user()
    public = world.repo(owner.name, type="maven")
    private = world.repo(owner.name, type="maven", private=True)
    lib = unique("lib")
    world.package(owner.name, public, name=lib)
    upload(api, owner.auth, owner.name, public, lib, lib, "1.0")
    secret = unique("secret")
    world.package(owner.name, private, name=secret)
    for version in ("1.0", "1.5", "2.0"):
        upload(api, owner.auth, owner.name, private, secret, secret, version)
    settle(pump, (owner.name, public), (owner.name, private))
    work = tmp_path_factory.mktemp("maven")
    return {
        "api": api,
        "world": world,
        "owner": owner,
        "public": public,
        "private": private,
        "lib": lib,
        "secret": secret,
        "work": work,
    }


def repo_url(api, subject: str, repo: str) -> str:
    return f"{api.base_url}/dl/{subject}/{repo}"


def test_mvn_resolves_fixed_latest_and_range_with_checksums_and_credentials(api, maven):
    owner, work = maven["owner"], maven["work"]
    local = work / "m2"
    settings = settings_xml(
        work / "settings.xml",
        local,
        {
            "shelf": repo_url(api, owner.name, maven["public"]),
            "shelf-private": repo_url(api, owner.name, maven["private"]),
        },
        {"shelf-private": owner.auth},
    )
    lib, secret = maven["lib"], maven["secret"]
    # A fixed version from the public repository (anonymous), its .sha1 checked.
    mvn_get(settings, f"{GROUP}:{lib}:1.0")
    jar = local / GROUP.replace(".", "/") / lib / "1.0" / f"{lib}-1.0.jar"
    assert jar.read_bytes() == f"jar of {lib} 1.0".encode()
    # LATEST and a range from the private one: maven-metadata.xml (and its .sha1) after the 401
    # challenge, with the credentials of settings.xml.
    secret_dir = local / GROUP.replace(".", "/") / secret
    mvn_get(settings, f"{GROUP}:{secret}:LATEST")
    assert (secret_dir / "2.0" / f"{secret}-2.0.jar").read_bytes() == f"jar of {secret} 2.0".encode()
    mvn_get(settings, f"{GROUP}:{secret}:[1.0,2.0)", transitive=True)
    assert (secret_dir / "1.5" / f"{secret}-1.5.jar").exists()
    assert not (secret_dir / "1.0" / f"{secret}-1.0.jar").exists()
