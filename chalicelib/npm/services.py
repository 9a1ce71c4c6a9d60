"""npm registry services: publish, packuments (precomputed), dist-tags, unpublish, login.

The source of truth is DynamoDB (``NpmPackage``: dist-tags; ``NpmManifest``: one item per published
version) and the repository's files (tarballs, through the content services). The packument a client
reads is a document in S3 rebuilt after every change (``rebuild``), so serving one costs a GetItem and
a GetObject whether the package has one version or a thousand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import db
from chalicelib.accounts.models import Subject
from chalicelib.auth.credentials import authenticate
from chalicelib.auth.principal import Principal
from chalicelib.content.services import Upload, find_file, upload_bytes
from chalicelib.errors import BadRequest, Forbidden, NotFound, Unauthorized
from chalicelib.npm import documents
from chalicelib.npm.models import NpmManifest, NpmPackage
from chalicelib.npm.paths import check_name, npm_name, package_name, tarball_path
from chalicelib.packages.models import Package
from chalicelib.packages.services import CreatePackageBody, create_package, delete_package, get_package
from chalicelib.packages.versions import delete_version, get_version
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import iso, now

#: Fields of a version in the abbreviated packument (``application/vnd.npm.install-v1+json``).
ABBREVIATED_FIELDS = (
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bin",
    "directories",
    "engines",
    "os",
    "cpu",
    "deprecated",
    "funding",
    "license",
    "hasInstallScript",
    "dist",
)


def find(repo: Repository, name: str) -> NpmPackage | None:
    try:
        return NpmPackage.get(repo.id, name)
    except DoesNotExist:
        return None


def get(repo: Repository, name: str) -> NpmPackage:
    found = find(repo, name)
    if found is None:
        raise NotFound(f"Package '{name}' was not found")
    return found


# --- reading ----------------------------------------------------------------------------------


def packument(repo: Repository, item: NpmPackage, abbreviated: bool, base: str) -> str:
    """The packument of ``item`` as JSON text, tarball URLs under ``base`` (the registry's URL): one
    GetObject of the stored document."""
    kind = documents.ABBREVIATED if abbreviated else documents.FULL
    text = documents.get(repo.id, item.package_id, kind)
    if text is None:  # never built (e.g. a crash right after the first publish): build it now
        text = rebuild(item)[kind]
    return text.replace(documents.BASE, base)


def dist_tags(repo: Repository, name: str) -> dict[str, str]:
    return dict(get(repo, check_name(name)).dist_tags.as_dict())


# --- building ----------------------------------------------------------------------------------


def rebuild(item: NpmPackage) -> dict[str, str]:
    """Rebuild and store the package's packuments from its manifests (one Query); returns them."""
    rows = sorted(NpmManifest.query(item.package_id), key=lambda row: row.published)
    versions = {row.version: json.loads(row.manifest) for row in rows}
    tags = {tag: v for tag, v in item.dist_tags.as_dict().items() if v in versions}
    if "latest" not in tags and rows:
        tags["latest"] = rows[-1].version
    times = {"created": iso(item.created), "modified": iso(item.modified)}
    times.update({row.version: iso(row.published) for row in rows})
    latest = versions.get(tags.get("latest", ""), {})
    full: dict[str, Any] = {
        "_id": item.name,
        "_rev": f"{int(item.revision)}-{hashlib.md5(json.dumps(tags).encode()).hexdigest()[:16]}",
        "name": item.name,
        "description": latest.get("description", ""),
        "dist-tags": tags,
        "versions": versions,
        "time": times,
        "readme": latest.get("readme", ""),
        "license": latest.get("license"),
    }
    abbreviated = {
        "name": item.name,
        "modified": iso(item.modified),
        "dist-tags": tags,
        "versions": {v: {k: m[k] for k in ABBREVIATED_FIELDS if k in m} for v, m in versions.items()},
    }
    texts = {documents.FULL: json.dumps(full), documents.ABBREVIATED: json.dumps(abbreviated)}
    for kind, text in texts.items():
        documents.put(item.repo_id, item.package_id, kind, text)
    return texts


def _touch(item: NpmPackage, tags: dict[str, str] | None = None) -> NpmPackage:
    """Record a change (new revision, modified time, optionally new dist-tags) and rebuild."""
    actions = [NpmPackage.revision.add(1), NpmPackage.modified.set(now())]
    if tags is not None:
        actions.append(NpmPackage.dist_tags.set(tags))
    item.update(actions=actions)
    rebuild(item)
    return item


# --- publishing --------------------------------------------------------------------------------


def _tarball(attachment: Any) -> bytes:
    if not isinstance(attachment, dict) or not isinstance(attachment.get("data"), str):
        raise BadRequest("The attachment must carry the tarball as base64 'data'")
    try:
        data = base64.b64decode(attachment["data"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("The attachment's 'data' is not base64") from None
    length = attachment.get("length")
    if length is not None and length != len(data):
        raise BadRequest(f"The attachment's length is {length} but its data has {len(data)} bytes")
    return data


def _integrity(data: bytes) -> tuple[str, str]:
    """(shasum, integrity) of a tarball: SHA-1 hex and the SHA-512 subresource-integrity string."""
    return hashlib.sha1(data).hexdigest(), "sha512-" + base64.b64encode(
        hashlib.sha512(data).digest()
    ).decode()


def _check_dist(dist: dict[str, Any], shasum: str, integrity: str) -> None:
    if dist.get("shasum") not in (None, shasum):
        raise BadRequest(
            f"Checksum mismatch: the manifest's shasum is {dist['shasum']} but the tarball's is {shasum}"
        )
    given = dist.get("integrity")
    if given is None:
        return
    sha512s = [part for part in str(given).split() if part.startswith("sha512-")]
    if not isinstance(given, str) or (sha512s and integrity not in sha512s):
        raise BadRequest(
            f"Integrity mismatch: the manifest says {str(given)[:120]} but the tarball is {integrity}"
        )


def _vcs_url(manifest: dict[str, Any]) -> str | None:
    repository = manifest.get("repository")
    url = repository.get("url") if isinstance(repository, dict) else repository
    return url if isinstance(url, str) and url else None


def _ensure_package(repo: Repository, name: str, manifest: dict[str, Any]) -> Package:
    """The Shelf package of npm package ``name``, created from the manifest (license, repository)
    on its first publish."""
    shelf_name = package_name(name)
    try:
        return get_package(repo, shelf_name)
    except NotFound:
        pass
    owner = db.get_or_404(Subject, repo.owner, missing=f"Subject '{repo.owner}' was not found")
    license_ = manifest.get("license")
    body = CreatePackageBody(
        name=shelf_name,
        desc=(manifest.get("description") or None) if isinstance(manifest.get("description"), str) else None,
        licenses=[license_] if isinstance(license_, str) and license_ else None,
        vcs_url=_vcs_url(manifest),
    )
    try:
        return create_package(owner, repo, body)
    except BadRequest as refused:
        raise BadRequest(f"Cannot create package '{shelf_name}' for '{name}': {refused.message}") from None


def check_publish(name: str, body: Any) -> tuple[str, dict[str, Any], bytes, dict[str, str]]:
    """Validate an ``npm publish`` body: (version, manifest, tarball, dist-tags) or a 400."""
    check_name(name)
    if not isinstance(body, dict) or body.get("name") != name:
        raise BadRequest(f"The document's name must be '{name}'")
    versions, attachments = body.get("versions"), body.get("_attachments")
    if not isinstance(versions, dict) or len(versions) != 1:
        raise BadRequest("A publish carries exactly one version")
    if not isinstance(attachments, dict) or len(attachments) != 1:
        raise BadRequest("A publish carries exactly one tarball in '_attachments'")
    version, manifest = next(iter(versions.items()))
    if not isinstance(manifest, dict) or manifest.get("version") != version or manifest.get("name") != name:
        raise BadRequest(f"The manifest of version '{str(version)[:64]}' must name '{name}' and that version")
    tags = body.get("dist-tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise BadRequest("'dist-tags' must map tags to versions")
    return version, manifest, _tarball(next(iter(attachments.values()))), tags


def publish(principal: Principal, repo: Repository, name: str, body: Any) -> None:
    """``npm publish``: store the tarball as a published file of version ``<version>`` of the package
    (both created when missing), record the manifest and the dist-tags, rebuild the packument."""
    version, manifest, data, tags = check_publish(name, body)
    shasum, integrity = _integrity(data)
    dist = manifest.get("dist") if isinstance(manifest.get("dist"), dict) else {}
    _check_dist(dist, shasum, integrity)
    package = _ensure_package(repo, name, manifest)
    if _manifest(package.id, version) is not None:
        raise Forbidden(f"You cannot publish over the previously published versions: {version}.")
    path = tarball_path(name, version)
    upload_bytes(
        principal, repo, Upload(path=path, package=package.name, version=version, publish=True), data
    )
    at = now()
    item = find(repo, name)
    if item is None:  # before the first manifest: a package's manifests exist only under its item
        item = NpmPackage(
            repo.id,
            name,
            package=package.name,
            package_id=package.id,
            owner=repo.owner,
            repo=repo.name,
            dist_tags={},
            created=at,
            modified=at,
            revision=0,
        )
        try:
            item.save(condition=NpmPackage.name.does_not_exist())
        except PutError as error:
            if not db.condition_failed(error):
                raise
            item = get(repo, name)  # a concurrent first publish created it
    manifest = {**manifest, "_id": f"{name}@{version}"}
    tarball_url = f"{documents.BASE}/{path}"
    manifest["dist"] = {**dist, "shasum": shasum, "integrity": integrity, "tarball": tarball_url}
    NpmManifest(package.id, version, manifest=json.dumps(manifest), path=path, published=at).save()
    new_tags = {**item.dist_tags.as_dict(), **{t: v for t, v in tags.items() if v == version}}
    if not new_tags:
        new_tags = {"latest": version}
    _touch(item, new_tags)


def _manifest(package_id: str, version: str) -> NpmManifest | None:
    try:
        return NpmManifest.get(package_id, version)
    except DoesNotExist:
        return None


# --- dist-tags ---------------------------------------------------------------------------------


def set_dist_tag(repo: Repository, name: str, tag: str, body: Any) -> dict[str, str]:
    """``npm dist-tag add name@version tag``: the body is the version as a JSON string."""
    item = get(repo, check_name(name))
    if not isinstance(body, str) or not body:
        raise BadRequest("The body must be the version, as a JSON string")
    if _manifest(item.package_id, body) is None:
        raise NotFound(f"Version '{body[:64]}' of '{name}' was not found")
    tags = {**item.dist_tags.as_dict(), tag: body}
    _touch(item, tags)
    return tags


def remove_dist_tag(repo: Repository, name: str, tag: str) -> dict[str, str]:
    item = get(repo, check_name(name))
    tags = item.dist_tags.as_dict()
    if tag == "latest":
        raise BadRequest("The 'latest' tag cannot be removed")
    if tag not in tags:
        raise NotFound(f"Tag '{tag[:64]}' of '{name}' was not found")
    del tags[tag]
    _touch(item, tags)
    return tags


# --- unpublishing ------------------------------------------------------------------------------


def update(repo: Repository, name: str, body: Any) -> None:
    """``PUT <name>/-rev/<rev>`` (what ``npm unpublish name@version`` sends): the versions missing
    from the document are deleted (their files go with them), its dist-tags replace the stored ones."""
    item = get(repo, check_name(name))
    if not isinstance(body, dict) or not isinstance(body.get("versions"), dict):
        raise BadRequest("The document must carry 'versions'")
    package = get_package(repo, item.package)
    kept = set(body["versions"])
    for row in NpmManifest.query(item.package_id):
        if row.version not in kept:
            try:
                delete_version(package, get_version(package, row.version))
            except NotFound:
                row.delete()  # the version went some other way: only the manifest is left
    tags = body.get("dist-tags")
    if isinstance(tags, dict):
        _touch(get(repo, name), {t: v for t, v in tags.items() if isinstance(v, str) and v in kept})


def delete_tarball(repo: Repository, name: str, path: str) -> None:
    """``DELETE <name>/-/<file>/-rev/<rev>``: after ``update`` removed the version its tarball is gone
    already; a tarball still there belongs to a version still published, which is refused."""
    get(repo, check_name(name))
    if find_file(repo, path) is not None:
        raise BadRequest(f"'{path}' belongs to a published version: unpublish the version first")


def unpublish_package(repo: Repository, name: str) -> None:
    """``npm unpublish name --force``: the whole package (its versions and files, the registry's items
    by the package-deletion cascade)."""
    item = get(repo, check_name(name))
    delete_package(repo, get_package(repo, item.package))


# --- cascades (in-request subscribers) --------------------------------------------------------


def _item_of(repo_id: str, package: str, package_id: str) -> NpmPackage | None:
    try:
        item = NpmPackage.get(repo_id, npm_name(package))
    except DoesNotExist:
        return None
    return item if item.package_id == package_id else None


def version_gone(repo_id: str, package: str, package_id: str, version: str) -> None:
    """A version was deleted: its manifest goes and the packument is rebuilt (idempotent)."""
    row = _manifest(package_id, version)
    if row is None:
        return
    row.delete()
    item = _item_of(repo_id, package, package_id)
    if item is not None:
        _touch(item)


def package_gone(repo_id: str, package: str, package_id: str) -> None:
    """A package was deleted: its registry items and documents go (idempotent; one GetItem for a
    package that never was an npm one: manifests are written only under an item)."""
    item = _item_of(repo_id, package, package_id)
    if item is None:
        return
    for row in NpmManifest.query(package_id):
        row.delete()
    documents.delete(repo_id, package_id)
    item.delete()


# --- login -------------------------------------------------------------------------------------


def token_of(name: str, key: str) -> str:
    """The ``_authToken`` of a user (or access key) and its API key (password): Bearer credentials the
    central authentication reads like Basic ones."""
    return base64.b64encode(f"{name}:{key}".encode()).decode()


def login(couch_user: str, body: Any) -> dict[str, Any]:
    """``npm login`` (``PUT /-/user/org.couchdb.user:<name>``): a token for valid credentials (the
    password is the user's API key, or an access key's password); 401 otherwise."""
    prefix = "org.couchdb.user:"
    if not couch_user.startswith(prefix) or not isinstance(body, dict):
        raise BadRequest("Log in with PUT /-/user/org.couchdb.user:<name> and {name, password}")
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or name != couch_user[len(prefix) :]:
        raise BadRequest("The body must carry the 'name' of the path and a 'password'")
    token = token_of(name, password)
    principal = authenticate({"authorization": f"Basic {token}"})
    if not principal.authenticated:
        raise Unauthorized()
    return {"ok": True, "id": couch_user, "token": token}
