"""npm registries (issue #13): the real npm client publishes (a scoped package to a private registry
too), moves dist-tags, installs by tag (integrity checked) and unpublishes against
``/npm/:subject/:repo/``; the packument is a precomputed document (abbreviated on request), scoped
names work in both spellings, and the registry's refusals are JSON."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import World, assert_message, unique


def npm(workdir: Path, npmrc: Path, *args: str) -> str:
    """npm with a private userconfig, global config and cache (the machine's npmrc files are not read)."""
    empty = npmrc.parent / "empty-npmrc"
    empty.touch()
    cache = str(npmrc.parent / "cache")
    command = ["npm", "--userconfig", str(npmrc), "--globalconfig", str(empty), "--cache", cache, *args]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
    return done.stdout


def manifest(name: str, version: str) -> dict:
    return {
        "name": name,
        "version": version,
        "description": "a test package",
        "main": "index.js",
        "license": "MIT",
        "repository": {"type": "git", "url": "https://example.com/x.git"},
    }


def make_package(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "package.json").write_text(json.dumps(manifest(name, version)))
    (directory / "index.js").write_text(f"module.exports = {json.dumps(version)};\n")
    return directory


def tarball(name: str, version: str) -> bytes:
    """A package tarball (the same bytes each time)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for member, text in (("package.json", json.dumps(manifest(name, version))), ("index.js", "1;\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"package/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(out.getvalue(), mtime=0)


def publish_body(name: str, version: str, tag: str = "latest", data: bytes | None = None) -> dict:
    """What ``npm publish`` sends."""
    data = tarball(name, version) if data is None else data
    dist = {
        "shasum": hashlib.sha1(data).hexdigest(),
        "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
    }
    return {
        "_id": name,
        "name": name,
        "dist-tags": {tag: version},
        "versions": {version: {**manifest(name, version), "dist": dist}},
        "_attachments": {
            f"{name}-{version}.tgz": {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
                "length": len(data),
            }
        },
    }


def login(api, subject: str, repo: str, user) -> str:
    response = api.put(
        f"/npm/{subject}/{repo}/-/user/org.couchdb.user:{user.name}",
        json={"name": user.name, "password": user.key},
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture(scope="module")
def registry(api, tmp_path_factory):
    """A user with a public npm registry and a private one for a scope, logged in to both (npm login's
    tokens in a private userconfig), ``<name>`` 1.0.0 published by npm, 1.1.0 (tag beta) over HTTP."""
    world = World(api)
    owner = world.user()
    public = world.repo(owner.name, type="npm")
    private = world.repo(owner.name, private=True, type="npm")
    work = tmp_path_factory.mktemp("npm")
    scope = unique("s")
    lines = ["update-notifier=false", "audit=false", "fund=false", "loglevel=warn"]
    for repo, prefix in ((public, ""), (private, f"@{scope}:")):
        url = f"{api.base_url}/npm/{owner.name}/{repo}/"
        lines += [
            f"{prefix}registry={url}",
            f"{url.split(':', 1)[1]}:_authToken={login(api, owner.name, repo, owner)}",
        ]
    npmrc = work / "npmrc"
    npmrc.write_text("\n".join(lines) + "\n")
    name = unique("pkg")
    npm(make_package(work / "src-1.0.0", name, "1.0.0"), npmrc, "publish")
    response = api.put(
        f"/npm/{owner.name}/{public}/{name}", owner.auth, json=publish_body(name, "1.1.0", "beta")
    )
    assert response.status_code == 201, response.text
    return {
        "world": world,
        "owner": owner,
        "repo": public,
        "private": private,
        "scope": scope,
        "name": name,
        "work": work,
        "npmrc": npmrc,
    }


def test_npm_publishes_scoped_moves_tags_and_installs_by_tag(api, registry):
    work, npmrc, name, scope = registry["work"], registry["npmrc"], registry["name"], registry["scope"]
    owner, repo = registry["owner"], registry["repo"]
    scoped = f"@{scope}/lib"
    npm(make_package(work / "scoped", scoped, "0.1.0"), npmrc, "publish")
    npm(work, npmrc, "dist-tag", "add", f"{name}@1.1.0", "stable")
    tags = api.get(f"/npm/{owner.name}/{repo}/-/package/{name}/dist-tags").json()
    assert tags == {"latest": "1.0.0", "beta": "1.1.0", "stable": "1.1.0"}
    project = work / "project"
    project.mkdir()
    (project / "package.json").write_text(
        json.dumps({"name": "consumer", "version": "0.0.0", "private": True})
    )
    npm(project, npmrc, "install", f"{name}@stable", scoped)
    installed = json.loads((project / "node_modules" / name / "package.json").read_text())
    assert installed["version"] == "1.1.0"
    assert (project / "node_modules" / f"@{scope}" / "lib" / "index.js").exists()
    # The lock file's integrity is the tarball's SHA-512 (npm checked it while installing).
    lock = json.loads((project / "package-lock.json").read_text())["packages"][f"node_modules/{name}"]
    assert lock["integrity"] == publish_body(name, "1.1.0")["versions"]["1.1.0"]["dist"]["integrity"]
    # The Shelf side: a package, its published version and the tarball as its file; scoped in private.
    files = api.get(f"/packages/{owner.name}/{repo}/{name}/versions/1.0.0/files").json()
    assert [f["path"] for f in files] == [f"{name}/-/{name}-1.0.0.tgz"]
    private = registry["private"]
    assert api.get(f"/packages/{owner.name}/{private}/{scope}:lib", owner.auth).status_code == 200
    base = f"/npm/{owner.name}/{private}"
    for path in (f"{base}/@{scope}/lib", f"{base}/@{scope}%2flib"):
        assert api.get(path, owner.auth).json()["name"] == scoped
    refused = api.get(f"{base}/@{scope}/lib")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert api.get(f"{base}/@{scope}/lib", registry["world"].user().auth).status_code == 404
    # Removing a tag.
    response = api.delete(f"/npm/{owner.name}/{repo}/-/package/{name}/dist-tags/stable", owner.auth)
    assert response.status_code == 200 and response.json() == {"latest": "1.0.0", "beta": "1.1.0"}
    assert_message(
        api.delete(f"/npm/{owner.name}/{repo}/-/package/{name}/dist-tags/latest", owner.auth), "latest"
    )


def test_full_and_abbreviated_packuments(api, registry):
    base, name = f"/npm/{registry['owner'].name}/{registry['repo']}", registry["name"]
    full = api.get(f"{base}/{name}")
    assert full.status_code == 200 and full.headers["Content-Type"] == "application/json"
    doc = full.json()
    assert doc["name"] == name and set(doc["versions"]) == {"1.0.0", "1.1.0"}
    assert doc["dist-tags"]["latest"] == "1.0.0" and doc["dist-tags"]["beta"] == "1.1.0"
    assert doc["versions"]["1.0.0"]["description"] == "a test package" and "1.0.0" in doc["time"]
    tarball_url = doc["versions"]["1.0.0"]["dist"]["tarball"]
    assert tarball_url == f"{api.base_url}{base}/{name}/-/{name}-1.0.0.tgz"
    assert api.get(tarball_url.replace(api.base_url, "")).status_code == 302
    short = api.get(f"{base}/{name}", headers={"Accept": "application/vnd.npm.install-v1+json"})
    assert short.headers["Content-Type"] == "application/vnd.npm.install-v1+json"
    version = short.json()["versions"]["1.0.0"]
    assert "description" not in version and version["dist"] == doc["versions"]["1.0.0"]["dist"]
    whoami = api.get(f"{base}/-/whoami", registry["owner"].auth)
    assert whoami.json() == {"username": registry["owner"].name}


def test_publish_and_login_refusals(api, registry):
    base, name, auth = (
        f"/npm/{registry['owner'].name}/{registry['repo']}",
        registry["name"],
        registry["owner"].auth,
    )
    body = publish_body(name, "2.0.0")
    body["versions"]["2.0.0"]["dist"]["shasum"] = "0" * 40
    assert_message(api.put(f"{base}/{name}", auth, json=body), "Checksum mismatch")
    body = publish_body(name, "2.0.0", data=b"other bytes")
    body["versions"]["2.0.0"]["dist"] = {"integrity": "sha512-" + base64.b64encode(b"x" * 64).decode()}
    assert_message(api.put(f"{base}/{name}", auth, json=body), "Integrity mismatch")
    response = api.put(f"{base}/{name}", auth, json=publish_body(name, "1.0.0"))
    assert response.status_code == 403
    assert_message(response, "cannot publish over the previously published versions: 1.0.0")
    stranger = registry["world"].user()
    assert api.put(f"{base}/{name}", stranger.auth, json=publish_body(name, "3.0.0")).status_code == 403
    assert api.put(f"{base}/{name}", json=publish_body(name, "3.0.0")).status_code == 401
    bearer = {"Authorization": f"Bearer {base64.b64encode(f'{stranger.name}:wrong'.encode()).decode()}"}
    assert api.get(f"{base}/{name}", headers=bearer).status_code == 401
    response = api.put(
        f"{base}/-/user/org.couchdb.user:{stranger.name}", json={"name": stranger.name, "password": "x"}
    )
    assert response.status_code == 401
    assert api.get(f"{base}/nothing-here").status_code == 404


def test_unpublish_a_version_with_npm(api, registry):
    work, npmrc = registry["work"], registry["npmrc"]
    owner, repo = registry["owner"], registry["repo"]
    name = unique("gone")
    for version in ("1.0.0", "2.0.0"):
        response = api.put(f"/npm/{owner.name}/{repo}/{name}", owner.auth, json=publish_body(name, version))
        assert response.status_code == 201, response.text
    npm(work, npmrc, "unpublish", f"{name}@2.0.0", "--force")
    doc = api.get(f"/npm/{owner.name}/{repo}/{name}").json()
    assert set(doc["versions"]) == {"1.0.0"} and doc["dist-tags"] == {"latest": "1.0.0"}
    assert api.get(f"/packages/{owner.name}/{repo}/{name}/versions/2.0.0").status_code == 404
    assert api.get(f"/dl/{owner.name}/{repo}/{name}/-/{name}-2.0.0.tgz").status_code == 404
    # The whole package (npm unpublish <name> --force sends this).
    rev = doc["_rev"]
    assert api.delete(f"/npm/{owner.name}/{repo}/{name}/-rev/{rev}", owner.auth).status_code == 200
    assert api.get(f"/npm/{owner.name}/{repo}/{name}").status_code == 404
    assert api.get(f"/packages/{owner.name}/{repo}/{name}").status_code == 404
