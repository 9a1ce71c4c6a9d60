"""npm registries (issue #13): the real npm client publishes, installs (integrity checked), moves
dist-tags and unpublishes against ``/npm/:subject/:repo/``; the packument is a precomputed document
(abbreviated on request), scoped names work in both spellings, and the registry's refusals are JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import assert_message, unique


def npm(workdir: Path, npmrc: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """npm with a private userconfig and cache (the machine's own npmrc files are not read)."""
    empty = workdir.parent / "empty-npmrc"
    empty.touch()
    command = [
        "npm",
        "--userconfig",
        str(npmrc),
        "--globalconfig",
        str(empty),
        "--cache",
        str(workdir.parent / "cache"),
        *args,
    ]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
    return done


def write_npmrc(path: Path, registry: str, token: str | None) -> Path:
    lines = [f"registry={registry}", "update-notifier=false", "audit=false", "fund=false", "loglevel=warn"]
    if token:
        lines.append(f"{registry.split(':', 1)[1]}:_authToken={token}")
    path.write_text("\n".join(lines) + "\n")
    return path


def make_package(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name,
        "version": version,
        "description": "a test package",
        "main": "index.js",
        "license": "MIT",
        "repository": {"type": "git", "url": "https://example.com/x.git"},
    }
    (directory / "package.json").write_text(json.dumps(manifest))
    (directory / "index.js").write_text(f"module.exports = {json.dumps(version)};\n")
    return directory


def login(api, subject: str, repo: str, user) -> str:
    response = api.put(
        f"/npm/{subject}/{repo}/-/user/org.couchdb.user:{user.name}",
        json={"name": user.name, "password": user.key},
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture(scope="module")
def registry(api, tmp_path_factory):
    """A user with a public npm repository, logged in, and a workspace for npm."""
    from tests.conftest import World

    world = World(api)
    owner = world.user()
    repo = world.repo(owner.name, type="npm")
    work = tmp_path_factory.mktemp("npm")
    url = f"{api.base_url}/npm/{owner.name}/{repo}/"
    token = login(api, owner.name, repo, owner)
    return {
        "world": world,
        "owner": owner,
        "repo": repo,
        "url": url,
        "token": token,
        "work": work,
        "npmrc": write_npmrc(work / "npmrc", url, token),
    }


@pytest.fixture(scope="module")
def published(registry):
    """``<name>`` 1.0.0 (latest) and 1.1.0 (tag beta), published by npm."""
    work, npmrc = registry["work"], registry["npmrc"]
    name = unique("pkg")
    npm(make_package(work / "src-1.0.0", name, "1.0.0"), npmrc, "publish")
    npm(make_package(work / "src-1.1.0", name, "1.1.0"), npmrc, "publish", "--tag", "beta")
    return name


def test_npm_publish_then_install_checks_integrity(api, registry, published):
    work, npmrc = registry["work"], registry["npmrc"]
    project = work / "project"
    project.mkdir()
    (project / "package.json").write_text(
        json.dumps({"name": "consumer", "version": "0.0.0", "private": True})
    )
    npm(project, npmrc, "install", published)
    installed = json.loads((project / "node_modules" / published / "package.json").read_text())
    assert installed["version"] == "1.0.0"  # latest, not beta
    lock = json.loads((project / "package-lock.json").read_text())["packages"][f"node_modules/{published}"]
    tarball = api.get(lock["resolved"].replace(api.base_url, ""), registry["owner"].auth)
    assert tarball.status_code == 302
    data = api.session.get(tarball.headers["Location"]).content
    assert lock["integrity"] == "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    # The Shelf side: package, published version and file.
    owner, repo = registry["owner"].name, registry["repo"]
    files = api.get(f"/packages/{owner}/{repo}/{published}/versions/1.0.0/files").json()
    assert [f["path"] for f in files] == [f"{published}/-/{published}-1.0.0.tgz"]


def test_dist_tags_add_install_by_tag_and_remove(api, registry, published):
    work, npmrc = registry["work"], registry["npmrc"]
    listed = npm(work, npmrc, "dist-tag", "ls", published).stdout
    assert "latest: 1.0.0" in listed and "beta: 1.1.0" in listed
    npm(work, npmrc, "dist-tag", "add", f"{published}@1.1.0", "stable")
    project = work / "by-tag"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "by-tag", "version": "0.0.0", "private": True}))
    npm(project, npmrc, "install", f"{published}@stable")
    installed = json.loads((project / "node_modules" / published / "package.json").read_text())
    assert installed["version"] == "1.1.0"
    npm(work, npmrc, "dist-tag", "rm", published, "stable")
    tags = api.get(f"/npm/{registry['owner'].name}/{registry['repo']}/-/package/{published}/dist-tags").json()
    assert tags == {"latest": "1.0.0", "beta": "1.1.0"}


def test_abbreviated_packument_and_full_packument(api, registry, published):
    base = f"/npm/{registry['owner'].name}/{registry['repo']}"
    full = api.get(f"{base}/{published}")
    assert full.status_code == 200 and full.headers["Content-Type"] == "application/json"
    doc = full.json()
    assert doc["name"] == published and set(doc["versions"]) == {"1.0.0", "1.1.0"}
    assert doc["dist-tags"] == {"latest": "1.0.0", "beta": "1.1.0"}
    assert doc["versions"]["1.0.0"]["description"] == "a test package" and "1.0.0" in doc["time"]
    tarball = doc["versions"]["1.0.0"]["dist"]["tarball"]
    assert tarball == f"{api.base_url}{base}/{published}/-/{published}-1.0.0.tgz"
    short = api.get(f"{base}/{published}", headers={"Accept": "application/vnd.npm.install-v1+json"})
    assert short.headers["Content-Type"] == "application/vnd.npm.install-v1+json"
    version = short.json()["versions"]["1.0.0"]
    assert "description" not in version and version["dist"] == doc["versions"]["1.0.0"]["dist"]


def test_publish_refusals(api, registry, published):
    base = f"/npm/{registry['owner'].name}/{registry['repo']}"
    auth = registry["owner"].auth
    data = b"not really a tarball"
    body = {
        "_id": published,
        "name": published,
        "dist-tags": {"latest": "2.0.0"},
        "versions": {"2.0.0": {"name": published, "version": "2.0.0", "dist": {"shasum": "0" * 40}}},
        "_attachments": {
            f"{published}-2.0.0.tgz": {"data": base64.b64encode(data).decode(), "length": len(data)}
        },
    }
    response = api.put(f"{base}/{published}", auth, json=body)
    assert response.status_code == 400
    assert_message(response, "Checksum mismatch")
    body["versions"]["2.0.0"]["dist"] = {"integrity": "sha512-" + base64.b64encode(b"x" * 64).decode()}
    assert_message(api.put(f"{base}/{published}", auth, json=body), "Integrity mismatch")
    body["versions"] = {"1.0.0": {"name": published, "version": "1.0.0"}}
    response = api.put(f"{base}/{published}", auth, json=body)
    assert response.status_code == 403
    assert_message(response, "cannot publish over the previously published versions: 1.0.0")
    stranger = registry["world"].user()
    response = api.put(f"{base}/{published}", stranger.auth, json=body)
    assert response.status_code == 403
    assert api.put(f"{base}/{published}", json=body).status_code == 401
    # npm login with a wrong key
    response = api.put(
        f"{base}/-/user/org.couchdb.user:{stranger.name}", json={"name": stranger.name, "password": "x"}
    )
    assert response.status_code == 401
    assert api.get(f"{base}/nothing-here").status_code == 404


def test_unpublish_a_version_with_npm(api, registry, published):
    work, npmrc = registry["work"], registry["npmrc"]
    owner, repo = registry["owner"].name, registry["repo"]
    name = unique("gone")
    npm(make_package(work / "gone-1", name, "1.0.0"), npmrc, "publish")
    npm(make_package(work / "gone-2", name, "2.0.0"), npmrc, "publish")
    npm(work, npmrc, "unpublish", f"{name}@2.0.0", "--force")
    doc = api.get(f"/npm/{owner}/{repo}/{name}").json()
    assert set(doc["versions"]) == {"1.0.0"} and doc["dist-tags"]["latest"] == "1.0.0"
    assert api.get(f"/packages/{owner}/{repo}/{name}/versions/2.0.0").status_code == 404
    assert api.get(f"/dl/{owner}/{repo}/{name}/-/{name}-2.0.0.tgz").status_code == 404
    npm(work, npmrc, "unpublish", name, "--force")
    assert api.get(f"/npm/{owner}/{repo}/{name}").status_code == 404
    assert api.get(f"/packages/{owner}/{repo}/{name}").status_code == 404


def test_scoped_package_in_a_private_registry(api, registry):
    world, work = registry["world"], registry["work"]
    owner = world.user()
    repo = world.repo(owner.name, private=True, type="npm")
    url = f"{api.base_url}/npm/{owner.name}/{repo}/"
    npmrc = write_npmrc(work / "private-npmrc", url, login(api, owner.name, repo, owner))
    scope = unique("s")
    name = f"@{scope}/lib"
    npm(make_package(work / "scoped", name, "0.1.0"), npmrc, "publish")
    project = work / "scoped-project"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "p", "version": "0.0.0", "private": True}))
    npm(project, npmrc, "install", name)
    assert (project / "node_modules" / f"@{scope}" / "lib" / "index.js").exists()
    base = f"/npm/{owner.name}/{repo}"
    # Both spellings; the Shelf package is scope:lib; anonymous readers are challenged.
    for path in (f"{base}/@{scope}/lib", f"{base}/@{scope}%2flib"):
        assert api.get(path, owner.auth).json()["name"] == name
    assert api.get(f"/packages/{owner.name}/{repo}/{scope}:lib", owner.auth).status_code == 200
    assert api.get(f"{base}/@{scope}/lib").status_code == 401
    assert api.get(f"{base}/@{scope}/lib", world.user().auth).status_code == 404
    whoami = npm(project, npmrc, "whoami").stdout.strip()
    assert whoami == owner.name
