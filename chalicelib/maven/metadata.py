"""Maven metadata documents (pure functions, no I/O): version ordering, artifact-level
``maven-metadata.xml`` (versions, latest, release, lastUpdated) and the SNAPSHOT-version level one
(timestamped snapshots), with the checksum files Maven fetches beside each.

Example::

    artifact_metadata("com.acme", "lib", ["1.0", "1.1-SNAPSHOT", "1.0.1"], updated)
    # <metadata><groupId>com.acme</groupId>...<latest>1.1-SNAPSHOT</latest><release>1.0.1</release>...
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from chalicelib.records import dataclass

METADATA = "maven-metadata.xml"
#: Checksum files beside every metadata file, by extension.
CHECKSUMS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
SNAPSHOT = "-SNAPSHOT"

# --- version order (Maven's ComparableVersion, the common cases) ----------------------------------

_QUALIFIERS = {"alpha": 1, "a": 1, "beta": 2, "b": 2, "milestone": 3, "m": 3, "rc": 4, "cr": 4, "snapshot": 5,
               "": 6, "ga": 6, "final": 6, "release": 6, "sp": 7}  # fmt: skip


def _items(version: str) -> list[tuple[int, int | str]]:
    """Comparable items: numbers as (2, n); known qualifiers as (1, rank) (below numbers, ``ga`` and
    release equal to nothing); unknown ones as (1, 8 + text), after the known."""
    out: list[tuple[int, int | str]] = []
    for token in re.findall(r"\d+|[A-Za-z]+", version.lower()):
        if token.isdigit():
            out.append((2, int(token)))
        else:
            rank = _QUALIFIERS.get(token)
            out.append((1, f"{rank:02d}" if rank is not None else f"99{token}"))
    # Zeros before a qualifier or the end, and release markers, say nothing: 1.0 == 1 == 1-ga,
    # 1.0-alpha == 1-alpha.
    trimmed: list[tuple[int, int | str]] = []
    for item in reversed(out):
        if item == (1, "06") or (item == (2, 0) and (not trimmed or trimmed[-1][0] == 1)):
            continue
        trimmed.append(item)
    return trimmed[::-1]


def version_key(version: str) -> tuple:
    """Sort key of a Maven version: ``1.0-alpha < 1.0-rc1 < 1.0-SNAPSHOT < 1.0 < 1.0-sp < 1.0.1 < 1.10``."""
    items = _items(version)
    # A missing item compares as the release marker: below numbers, above pre-release qualifiers.
    return tuple(items) + ((1, "06"),)


def is_snapshot(version: str) -> bool:
    return version.endswith(SNAPSHOT)


def timestamp(moment: datetime) -> str:
    """Maven's ``lastUpdated``: ``yyyyMMddHHmmss`` in UTC."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


# --- documents ---------------------------------------------------------------------------------


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def artifact_metadata(group_id: str, artifact_id: str, versions: Iterable[str], updated: datetime) -> bytes:
    """``<group path>/<artifact>/maven-metadata.xml``: every version in Maven's order, the highest as
    ``latest``, the highest that is not a SNAPSHOT as ``release``."""
    ordered = sorted(set(versions), key=version_key)
    releases = [v for v in ordered if not is_snapshot(v)]
    lines = [
        "<metadata>",
        f"  <groupId>{escape(group_id)}</groupId>",
        f"  <artifactId>{escape(artifact_id)}</artifactId>",
    ]
    lines.append("  <versioning>")
    if ordered:
        lines.append(f"    <latest>{escape(ordered[-1])}</latest>")
    if releases:
        lines.append(f"    <release>{escape(releases[-1])}</release>")
    lines.append("    <versions>")
    lines += [f"      <version>{escape(v)}</version>" for v in ordered]
    lines += [
        "    </versions>",
        f"    <lastUpdated>{timestamp(updated)}</lastUpdated>",
        "  </versioning>",
        "</metadata>",
    ]
    return _xml("\n".join(lines) + "\n")


@dataclass(frozen=True)
class SnapshotFile:
    """A file of a SNAPSHOT version directory, timestamped
    (``<artifact>-<base>-<yyyyMMdd.HHmmss>-<build>[-<classifier>].<ext>``) or not
    (``<artifact>-<version>[-<classifier>].<ext>``)."""

    value: str  # the version the file carries: 1.0-20261202.101500-3 or 1.0-SNAPSHOT
    classifier: str
    extension: str
    stamp: str | None  # 20261202.101500
    build: int | None


def snapshot_file(artifact_id: str, version: str, filename: str) -> SnapshotFile | None:
    """What a file name in directory ``version`` (a SNAPSHOT) says; None for checksums, signatures and
    files off the layout."""
    if any(filename.endswith("." + ext) for ext in (*CHECKSUMS, "asc")) or filename.startswith(METADATA):
        return None
    base = version[: -len(SNAPSHOT)]
    stamped = re.fullmatch(
        rf"{re.escape(artifact_id)}-{re.escape(base)}-(\d{{8}}\.\d{{6}})-(\d+)(?:-([^.]+))?\.(.+)", filename
    )
    if stamped:
        stamp, build, classifier, extension = stamped.groups()
        return SnapshotFile(f"{base}-{stamp}-{build}", classifier or "", extension, stamp, int(build))
    plain = re.fullmatch(rf"{re.escape(artifact_id)}-{re.escape(version)}(?:-([^.]+))?\.(.+)", filename)
    if plain:
        classifier, extension = plain.groups()
        return SnapshotFile(version, classifier or "", extension, None, None)
    return None


def snapshot_metadata(
    group_id: str, artifact_id: str, version: str, files: Iterable[SnapshotFile], updated: datetime
) -> bytes:
    """``<artifact dir>/<version>-SNAPSHOT/maven-metadata.xml``: the newest timestamp and build number,
    and for each classifier and extension the newest file's version (``snapshotVersions``)."""
    newest: dict[tuple[str, str], SnapshotFile] = {}
    for item in files:
        key = (item.classifier, item.extension)
        order = (item.stamp or "", item.build or 0)
        if key not in newest or order > (newest[key].stamp or "", newest[key].build or 0):
            newest[key] = item
    stamped = [f for f in newest.values() if f.stamp is not None]
    top = max(stamped, key=lambda f: (f.stamp, f.build), default=None)
    lines = [
        '<metadata modelVersion="1.1.0">',
        f"  <groupId>{escape(group_id)}</groupId>",
        f"  <artifactId>{escape(artifact_id)}</artifactId>",
        f"  <version>{escape(version)}</version>",
        "  <versioning>",
        "    <snapshot>",
    ]
    if top is not None:
        lines += [
            f"      <timestamp>{top.stamp}</timestamp>",
            f"      <buildNumber>{top.build}</buildNumber>",
        ]
    else:
        lines.append("      <localCopy>true</localCopy>")
    lines += [
        "    </snapshot>",
        f"    <lastUpdated>{timestamp(updated)}</lastUpdated>",
        "    <snapshotVersions>",
    ]
    for (classifier, extension), item in sorted(newest.items()):
        lines.append("      <snapshotVersion>")
        if classifier:
            lines.append(f"        <classifier>{escape(classifier)}</classifier>")
        lines += [
            f"        <extension>{escape(extension)}</extension>",
            f"        <value>{escape(item.value)}</value>",
            f"        <updated>{timestamp(updated)}</updated>",
            "      </snapshotVersion>",
        ]
    lines += ["    </snapshotVersions>", "  </versioning>", "</metadata>"]
    return _xml("\n".join(lines) + "\n")


def with_checksums(path: str, content: bytes | None) -> dict[str, bytes | None]:
    """``path`` and its ``.md5``/``.sha1``/``.sha256``/``.sha512`` (all None: remove them)."""
    out: dict[str, bytes | None] = {path: content}
    for extension, algorithm in CHECKSUMS.items():
        out[f"{path}.{extension}"] = None if content is None else algorithm(content).hexdigest().encode()
    return out
