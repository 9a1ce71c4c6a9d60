"""Maven repositories (issue #13): the real mvn resolves from ``/dl/:subject/:repo`` a fixed version,
``LATEST`` and a version range through maven-metadata.xml, with checksumPolicy fail (the .sha1 beside
every file and metadata file), and a private repository with credentials in settings.xml after the
401 challenge. Metadata (artifact and SNAPSHOT levels) follows publishes and deletions, checksums
sit beside files and metadata files; Maven Central sync is validated and refused."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import requests

import app as app_module
from chalicelib import eventbus, queues
from chalicelib.indexes import services as indexes
from chalicelib.repositories.models import Repository
from infra.local.events import EventPump
from tests.conftest import World, assert_message, unique

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


def fetch(api, path: str, auth=None) -> bytes:
    response = api.get(path, auth)
    if response.status_code == 302:
        return requests.get(response.headers["Location"], timeout=10).content
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.content


def test_metadata_and_checksums_beside_files_and_metadata(api, maven):
    owner, secret = maven["owner"], maven["secret"]
    base = f"/dl/{owner.name}/{maven['private']}/{GROUP.replace('.', '/')}/{secret}"
    metadata = fetch(api, f"{base}/maven-metadata.xml", owner.auth).decode()
    assert f"<groupId>{GROUP}</groupId>" in metadata and f"<artifactId>{secret}</artifactId>" in metadata
    assert "<latest>2.0</latest>" in metadata and "<release>2.0</release>" in metadata
    assert metadata.index("<version>1.0</version>") < metadata.index("<version>1.5</version>")
    assert re.search(r"<lastUpdated>\d{14}</lastUpdated>", metadata)
    jar = fetch(api, f"{base}/1.5/{secret}-1.5.jar", owner.auth)
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        digest = getattr(hashlib, algorithm)
        assert (
            fetch(api, f"{base}/maven-metadata.xml.{algorithm}", owner.auth).decode()
            == digest(metadata.encode()).hexdigest()
        )
        assert (
            fetch(api, f"{base}/1.5/{secret}-1.5.jar.{algorithm}", owner.auth).decode()
            == digest(jar).hexdigest()
        )
    # Private: anonymous callers are challenged, for metadata and checksums alike.
    for path in (f"{base}/maven-metadata.xml", f"{base}/1.5/{secret}-1.5.jar.sha1"):
        refused = api.get(path)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert api.get(f"{base}/1.5/{secret}-1.5.war.sha1", owner.auth).status_code == 404


def test_metadata_follows_deletions_snapshots_and_calc_metadata(api, maven, pump):
    owner, world = maven["owner"], maven["world"]
    repo = world.repo(owner.name, type="maven")
    artifact = unique("snap")
    world.package(owner.name, repo, name=artifact)
    group_dir = f"{GROUP.replace('.', '/')}/{artifact}"
    files = [f"1.0/{artifact}-1.0.jar", f"1.1/{artifact}-1.1.jar"]
    files += [f"2.0-SNAPSHOT/{artifact}-2.0-20261201.101500-1.jar"]
    files += [f"2.0-SNAPSHOT/{artifact}-2.0-20261202.093000-2{suffix}" for suffix in (".jar", "-sources.jar")]
    for path in files:
        response = api.put(
            f"/maven/{owner.name}/{repo}/{artifact}/{group_dir}/{path};publish=1", owner.auth, data=b"x"
        )
        assert response.status_code == 201, response.text
    settle(pump, (owner.name, repo))
    base = f"/dl/{owner.name}/{repo}/{GROUP.replace('.', '/')}/{artifact}"
    metadata = fetch(api, f"{base}/maven-metadata.xml").decode()
    assert "<latest>2.0-SNAPSHOT</latest>" in metadata and "<release>1.1</release>" in metadata
    snapshot = fetch(api, f"{base}/2.0-SNAPSHOT/maven-metadata.xml").decode()
    assert "<timestamp>20261202.093000</timestamp>" in snapshot and "<buildNumber>2</buildNumber>" in snapshot
    assert "<classifier>sources</classifier>" in snapshot
    assert snapshot.count("<value>2.0-20261202.093000-2</value>") == 2
    assert "20261201.101500" not in snapshot
    # Deleting a version recomputes the artifact's metadata.
    assert api.delete(f"/packages/{owner.name}/{repo}/{artifact}/versions/1.1", owner.auth).status_code == 200
    settle(pump, (owner.name, repo))
    metadata = fetch(api, f"{base}/maven-metadata.xml").decode()
    assert "<version>1.1</version>" not in metadata and "<release>1.0</release>" in metadata
    # calc_metadata with a path: scheduled (202), and the result is the same.
    response = api.post(
        f"/calc_metadata/{owner.name}/{repo}/{GROUP.replace('.', '/')}/{artifact}", owner.auth
    )
    assert response.status_code == 202, response.text
    settle(pump, (owner.name, repo))
    recalculated = fetch(api, f"{base}/maven-metadata.xml").decode()
    stamp = re.compile(r"<lastUpdated>\d{14}</lastUpdated>")  # from scratch: the newest publish
    assert stamp.sub("", recalculated) == stamp.sub("", metadata)


def test_maven_central_sync_is_validated_then_refused(api, maven):
    owner, secret = maven["owner"], maven["secret"]
    url = f"/maven_central_sync/{owner.name}/{maven['private']}/{secret}/versions/1.0"
    credentials = {"username": "token", "password": "secret", "close": "1"}
    assert api.post(url, json=credentials).status_code == 401
    assert api.post(url, maven["world"].user().auth, json=credentials).status_code == 404  # private
    response = api.post(url, owner.auth, json={"close": "1"})
    assert response.status_code == 400
    assert_message(response, "Sonatype OSS credentials")
    assert_message(api.post(url, owner.auth, json={**credentials, "close": "2"}), "close")
    missing = api.post(url.replace("/1.0", "/9.9"), owner.auth, json=credentials)
    assert missing.status_code == 404
    response = api.post(url, owner.auth, json=credentials)
    assert response.status_code == 403
    assert_message(response, "In order to sync to Maven Central your package must be included in JCenter")
