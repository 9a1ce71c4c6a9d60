"""RPM (YUM/DNF) repository indexes with createrepo_c: ``repodata/repomd.xml`` and its primary,
filelists and other data (gzipped, named by checksum), the optional groups file, and the detached
armored signature ``repodata/repomd.xml.asc`` when the repository signs its metadata.

``yum_metadata_depth`` N: a ``repodata/`` directory at each path prefix of N segments, covering the
.rpm files below it (0: one at the root). Each .rpm is read once, at upload (``metadata``): its XML
entries are kept on the file item with a placeholder for the location, which depends on the depth.
Incremental: only the bases of changed .rpms are rewritten, from their previous data files plus the
changed packages' entries, without reading the other files.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tempfile
import time
from collections import defaultdict
from xml.sax.saxutils import quoteattr

from chalicelib.content.models import File
from chalicelib.indexes.registry import Job, Output
from chalicelib.repositories.models import Repository

REPODATA = "repodata"
LOCATION = "@@SHELF_LOCATION@@"
KINDS = ("primary", "filelists", "other")
HEADERS = {
    "primary": '<metadata xmlns="http://linux.duke.edu/metadata/common" '
    'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{n}">\n',
    "filelists": '<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="{n}">\n',
    "other": '<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="{n}">\n',
}
FOOTERS = {"primary": "</metadata>\n", "filelists": "</filelists>\n", "other": "</otherdata>\n"}
_PACKAGE = re.compile(r"<package[ >].*?</package>\n?", re.S)
_HREF = re.compile(r'<location href="([^"]*)"')
_PKGID = re.compile(r'<checksum type="[^"]+" pkgid="YES">([0-9a-f]+)</checksum>')
_ATTR_PKGID = re.compile(r'<package pkgid="([0-9a-f]+)"')


def claims(repo: Repository, path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 2 and parts[-2] == REPODATA


def metadata(path: str, data: bytes) -> dict[str, bytes] | None:
    """An .rpm's primary, filelists and other entries (gzipped JSON), kept on its file item."""
    if not path.endswith(".rpm"):
        return None
    entries = rpm_entries(data)
    return {"rpm_xml": gzip.compress(json.dumps(entries).encode(), mtime=0)} if entries else None


def rpm_entries(data: bytes) -> dict[str, str] | None:
    import createrepo_c as cr

    with tempfile.NamedTemporaryFile(suffix=".rpm") as handle:
        handle.write(data)
        handle.flush()
        try:
            package = cr.package_from_rpm(handle.name, checksum_type=cr.SHA256, location_href=LOCATION)
        except Exception:
            return None  # not an rpm
        return {
            "primary": cr.xml_dump_primary(package),
            "filelists": cr.xml_dump_filelists(package),
            "other": cr.xml_dump_other(package),
        }


def _depth(repo: Repository) -> int:
    return int(repo.yum_metadata_depth or 0)


def _base_and_href(path: str, depth: int) -> tuple[str, str] | None:
    parts = path.split("/")
    if len(parts) <= depth:
        return None
    return "/".join(parts[:depth]), "/".join(parts[depth:])


def _repodata(base: str) -> str:
    return f"{base}/{REPODATA}/" if base else f"{REPODATA}/"


def _entries(job: Job, record: File) -> dict[str, str] | None:
    if record.rpm_xml:
        return json.loads(gzip.decompress(bytes(record.rpm_xml)))
    job.stats["read_rpms"] = job.stats.get("read_rpms", 0) + 1
    return rpm_entries(job.blob(record.sha256))  # a large upload, or one from before the index


def _located(entries: dict[str, str], href: str) -> dict[str, str]:
    located = dict(entries)
    located["primary"] = entries["primary"].replace(f'href="{LOCATION}"', f"href={quoteattr(href)}")
    return located


Packages = dict[str, dict[str, str]]  # href -> {kind: XML entry}


def _previous_packages(job: Job, base: str, paths: list[str]) -> Packages:
    """The entries of a base's current data files, by location."""
    repodata = _repodata(base)
    texts: dict[str, str] = {}
    for kind in KINDS:
        found = [p for p in paths if p.startswith(repodata) and p.endswith(f"-{kind}.xml.gz")]
        data = job.previous(found[0]) if found else None
        texts[kind] = gzip.decompress(data).decode() if data else ""
    by_pkgid: dict[str, str] = {}
    packages: Packages = {}
    for entry in _PACKAGE.findall(texts["primary"]):
        href, pkgid = _HREF.search(entry), _PKGID.search(entry)
        if href and pkgid:
            href_text = href.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            href_text = href_text.replace("&quot;", '"').replace("&apos;", "'")
            packages[href_text] = {"primary": entry}
            by_pkgid[pkgid.group(1)] = href_text
    for kind in ("filelists", "other"):
        for entry in _PACKAGE.findall(texts[kind]):
            pkgid = _ATTR_PKGID.search(entry)
            if pkgid and pkgid.group(1) in by_pkgid:
                packages[by_pkgid[pkgid.group(1)]][kind] = entry
    return {href: e for href, e in packages.items() if len(e) == len(KINDS)}


def calculate(job: Job) -> Output:
    repo = job.repo
    depth = _depth(repo)
    paths = job.paths()
    bases: dict[str, Packages] = defaultdict(dict)
    if job.full:
        for record in job.files():
            if not record.path.endswith(".rpm"):
                continue
            located = _base_and_href(record.path, depth)
            entries = _entries(job, record) if located else None
            if located and entries:
                bases[located[0]][located[1]] = _located(entries, located[1])
        if not bases and depth == 0:
            bases[""] = {}  # an empty repository is usable
        touched = set(bases)
    else:
        changed: dict[str, dict[str, File | None]] = defaultdict(dict)
        for path in job.changed or ():
            located = _base_and_href(path, depth) if path.endswith(".rpm") else None
            if located:
                changed[located[0]][located[1]] = job.file(path)
        for scope in job.scopes:
            changed.setdefault(scope.strip("/"), {})
        for base, records in changed.items():
            packages = _previous_packages(job, base, paths)
            for href, record in records.items():
                packages.pop(href, None)
                entries = _entries(job, record) if record is not None and record.published else None
                if entries:
                    packages[href] = _located(entries, href)
            bases[base] = packages
        touched = set(bases)
    out: Output = {}
    for base in touched:
        out.update(_write_base(job, base, bases[base], paths))
    return out


def _write_base(job: Job, base: str, packages: Packages, paths: list[str]) -> Output:
    import createrepo_c as cr

    repodata = _repodata(base)
    out: Output = {}
    if not packages and base:
        for path in paths:  # a base without packages any more: its repodata goes
            if path.startswith(repodata):
                out[path] = None
        return out
    repomd = cr.Repomd()
    stamp = int(time.time())
    for kind in KINDS:
        body = "".join(packages[href][kind].rstrip("\n") + "\n" for href in sorted(packages))
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            + HEADERS[kind].format(n=len(packages))
            + body
            + FOOTERS[kind]
        ).encode()
        compressed = gzip.compress(text, mtime=0)
        digest = hashlib.sha256(compressed).hexdigest()
        name = f"{REPODATA}/{digest}-{kind}.xml.gz"
        out[f"{base}/{name}" if base else name] = compressed
        repomd.set_record(_record(cr, kind, name, compressed, text, stamp))
    groups = _groups_file(job, base)
    if groups is not None:
        digest = hashlib.sha256(groups).hexdigest()
        name = f"{REPODATA}/{digest}-comps.xml"
        out[f"{base}/{name}" if base else name] = groups
        repomd.set_record(_record(cr, "group", name, groups, groups, stamp))
    repomd.set_revision(str(stamp))
    document = repomd.xml_dump().encode()
    out[repodata + "repomd.xml"] = document
    out[repodata + "repomd.xml.asc"] = job.signer.detached(document) if job.signer is not None else None
    for path in paths:  # data files of the previous generation
        if (
            path.startswith(repodata)
            and path not in out
            and not path.endswith(("repomd.xml", "repomd.xml.asc"))
        ):
            out[path] = None
    job.stats["packages"] = job.stats.get("packages", 0) + len(packages)
    return out


def _record(cr, kind: str, name: str, data: bytes, opened: bytes, stamp: int):
    record = cr.RepomdRecord(kind, None)
    record.location_href = name
    record.checksum_type = "sha256"
    record.checksum = hashlib.sha256(data).hexdigest()
    record.checksum_open_type = "sha256"
    record.checksum_open = hashlib.sha256(opened).hexdigest()
    record.size = len(data)
    record.size_open = len(opened)
    record.timestamp = stamp
    return record


def _groups_file(job: Job, base: str) -> bytes | None:
    """The repository's ``yum_groups_file`` (a published file at the base, or at that path)."""
    name = job.repo.yum_groups_file
    if not name:
        return None
    for path in (f"{base}/{name}" if base else name, name):
        record = job.file(path.lstrip("/"))
        if record is not None and record.published:
            return job.blob(record.sha256)
    return None
