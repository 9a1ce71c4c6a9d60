"""The Maven index calculator (registered for repository type ``maven`` with the index machinery of
``chalicelib/indexes``): ``maven-metadata.xml`` per artifact and per SNAPSHOT version, each with its
``.md5``/``.sha1``/``.sha256``/``.sha512``, recomputed for the artifacts whose files were published
or deleted (from the served metadata and one Query per changed version), or for every artifact from
scratch
(``POST /calc_metadata``). Checksums of the files themselves are recorded at upload and answered by
``/dl`` (``content.services.checksum_file``).

A calculator is duck-typed (``claims(repo, path)``, ``calculate(job)``); ``job`` is the machinery's
``Job``: ``repo``, ``changed`` (None: from scratch), ``files()`` (every published file), ``stats``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from chalicelib.content.models import File
from chalicelib.content.paths import maven_coordinates
from chalicelib.errors import BadRequest
from chalicelib.maven.metadata import (
    METADATA,
    artifact_metadata,
    is_snapshot,
    snapshot_file,
    snapshot_metadata,
    with_checksums,
)
from chalicelib.timefmt import now

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def claims(repo: Any, path: str) -> bool:
    """Metadata files and their checksums are the index; everything else is content."""
    return path.rsplit("/", 1)[-1].startswith(METADATA)


def artifact_dir(path: str) -> str | None:
    """``group/path/artifact`` of a file in the Maven layout (None: off the layout, or metadata)."""
    if claims(None, path):
        return None
    try:
        maven_coordinates(path)
    except BadRequest:
        return None
    return path.rsplit("/", 2)[0]


def _artifact_files(repo_id: str, directory: str) -> list[File]:
    """Published files under an artifact's directory (one Query, consistent)."""
    rows = File.query(repo_id, File.path.startswith(directory + "/"), consistent_read=True)
    return [row for row in rows if row.published]


def _updated(files: Iterable[File]) -> datetime:
    """The newest publish among ``files``: lastUpdated, so a recomputation writes the same bytes."""
    return max((f.published_at or f.created for f in files), default=EPOCH)


def artifact_outputs(
    directory: str, files: list[File], changed: Iterable[str] = ()
) -> dict[str, bytes | None]:
    """The metadata of one artifact directory (and of its SNAPSHOT versions) from its published
    files; metadata of versions left without files is removed."""
    by_version: dict[str, list[File]] = defaultdict(list)
    for record in files:
        rest = record.path[len(directory) + 1 :]
        version, sep, name = rest.partition("/")
        if sep and "/" not in name and artifact_dir(record.path) == directory:
            by_version[version].append(record)
    group_path, _, artifact_id = directory.rpartition("/")
    group_id = group_path.replace("/", ".")
    out = with_checksums(
        f"{directory}/{METADATA}",
        artifact_metadata(group_id, artifact_id, by_version, _updated(files)) if by_version else None,
    )
    for version, records in by_version.items():
        if is_snapshot(version):
            parsed = [snapshot_file(artifact_id, version, r.name) for r in records]
            content = snapshot_metadata(
                group_id, artifact_id, version, [p for p in parsed if p], _updated(records)
            )
            out.update(with_checksums(f"{directory}/{version}/{METADATA}", content))
    for path in changed:  # a SNAPSHOT version whose last file went
        version = path[len(directory) + 1 :].split("/", 1)[0]
        if is_snapshot(version) and version not in by_version:
            out.update(with_checksums(f"{directory}/{version}/{METADATA}", None))
    return out


def previous_versions(text: bytes | None) -> tuple[set[str], datetime] | None:
    """The versions and lastUpdated of a served artifact-level maven-metadata.xml (None: none, or
    unreadable: recompute the artifact from its files)."""
    if not text:
        return None
    try:
        root = ElementTree.fromstring(text)
        stamp = root.findtext("versioning/lastUpdated") or "19700101000000"
        updated = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except (ElementTree.ParseError, ValueError):
        return None
    return {v.text for v in root.iterfind("versioning/versions/version") if v.text}, updated


def _version_files(repo_id: str, directory: str, version: str) -> list[File]:
    """Published files of one version directory (one Query of a few items)."""
    return _artifact_files(repo_id, f"{directory}/{version}")


def incremental_outputs(job: Any, directory: str, paths: list[str]) -> dict[str, bytes | None]:
    """An artifact's metadata from the served one and the changed versions: one Query per changed
    version (its few files), so the cost does not grow with the artifact's number of versions."""
    known = previous_versions(job.previous(f"{directory}/{METADATA}"))
    if known is None:
        return artifact_outputs(directory, _artifact_files(job.repo.id, directory), paths)
    versions, updated = known
    group_path, _, artifact_id = directory.rpartition("/")
    group_id = group_path.replace("/", ".")
    out: dict[str, bytes | None] = {}
    for version in sorted({path[len(directory) + 1 :].split("/", 1)[0] for path in paths}):
        files = [
            f for f in _version_files(job.repo.id, directory, version) if artifact_dir(f.path) == directory
        ]
        if files:
            versions.add(version)
            updated = max(updated, _updated(files))
        elif version in versions:
            versions.discard(version)
            updated = max(updated, now())
        if is_snapshot(version):
            parsed = [snapshot_file(artifact_id, version, f.name) for f in files]
            content = snapshot_metadata(
                group_id, artifact_id, version, [p for p in parsed if p], _updated(files)
            )
            out.update(with_checksums(f"{directory}/{version}/{METADATA}", content if files else None))
    document = artifact_metadata(group_id, artifact_id, versions, updated) if versions else None
    out.update(with_checksums(f"{directory}/{METADATA}", document))
    return out


def calculate(job: Any) -> dict[str, bytes | None]:
    """The metadata files to write (and to remove) for ``job``."""
    out: dict[str, bytes | None] = {}
    if job.changed is None:  # from scratch: every artifact of the repository, from one listing
        grouped: dict[str, list[File]] = defaultdict(list)
        for record in job.files():
            directory = artifact_dir(record.path)
            if directory is not None:
                grouped[directory].append(record)
        for directory, files in grouped.items():
            out.update({k: v for k, v in artifact_outputs(directory, files).items() if v is not None})
        job.stats["artifacts"] = len(grouped)
        return out
    touched: dict[str, list[str]] = defaultdict(list)
    for path in job.changed:
        directory = artifact_dir(path)
        if directory is not None:
            touched[directory].append(path)
    for directory, paths in touched.items():
        out.update(incremental_outputs(job, directory, paths))
    job.stats["artifacts"] = len(touched)
    return out
