"""Debian repository indexes: ``dists/<dist>/Release``, ``InRelease`` (clear-signed), ``Release.gpg``
and ``<comp>/binary-<arch>/Packages`` (+ ``.gz``) for the published .debs, by their distribution,
component and architecture coordinates (a .deb with several lands in each).

The control paragraph is read from the .deb at upload (``control_fields``, kept on the file item);
incremental: only the ``Packages`` files of the coordinates a changed .deb had or has are rewritten
(from their previous content, without reading the other files), and the ``Release`` of their
distributions. An empty repository with default coordinates gets an empty distribution.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
from collections import defaultdict
from email.utils import formatdate

from chalicelib.content.models import File
from chalicelib.indexes.registry import Job, Output
from chalicelib.repositories.models import Repository

log = logging.getLogger("shelf")

DISTS = "dists/"
#: The fields of a Packages stanza Shelf writes itself (after the control fields).
FILE_FIELDS = ("Filename", "Size", "SHA1", "SHA256")

Group = tuple[str, str, str]  # (distribution, component, architecture)


def claims(repo: Repository, path: str) -> bool:
    return path.startswith(DISTS)


def control_fields(data: bytes) -> str | None:
    """The control paragraph of a .deb (None when ``data`` is not one)."""
    from debian import debfile

    try:
        return debfile.DebFile(fileobj=io.BytesIO(data)).debcontrol().dump()
    except Exception:
        return None


def metadata(path: str, data: bytes) -> dict[str, str] | None:
    """A .deb's control paragraph, kept on its file item (not a .deb: nothing)."""
    if not path.endswith(".deb"):
        return None
    control = control_fields(data)
    return {"deb_control": control} if control else None


def _groups(record: File) -> list[Group]:
    return [
        (d, c, a)
        for d in record.deb_distribution or ()
        for c in record.deb_component or ()
        for a in record.deb_architecture or ()
    ]


def _packages_path(group: Group) -> str:
    dist, comp, arch = group
    return f"{DISTS}{dist}/{comp}/binary-{arch}/Packages"


def _group_of(path: str) -> Group | None:
    parts = path.split("/")
    if len(parts) == 5 and parts[4] == "Packages" and parts[3].startswith("binary-"):
        return parts[1], parts[2], parts[3][len("binary-") :]
    return None


def _stanza(record: File, control: str) -> str:
    fields = control.rstrip("\n")
    lines = [line for line in fields.split("\n") if not line.startswith(tuple(f + ":" for f in FILE_FIELDS))]
    lines += [
        f"Filename: {record.path}",
        f"Size: {int(record.size)}",
        f"SHA1: {record.sha1}",
        f"SHA256: {record.sha256}",
    ]
    return "\n".join(lines) + "\n"


def _split(packages: str) -> dict[str, str]:
    """Stanzas of a Packages file by their Filename."""
    found: dict[str, str] = {}
    for block in packages.split("\n\n"):
        block = block.strip("\n")
        if not block:
            continue
        for line in block.split("\n"):
            if line.startswith("Filename: "):
                found[line[len("Filename: ") :]] = block + "\n"
                break
    return found


def _control(job: Job, record: File) -> str | None:
    if record.deb_control:
        return record.deb_control
    job.stats["read_debs"] = job.stats.get("read_debs", 0) + 1
    return control_fields(job.blob(record.sha256))  # uploaded before controls were kept, or large


def calculate(job: Job) -> Output:
    repo = job.repo
    groups: dict[Group, dict[str, str]] = defaultdict(dict)
    touched: set[Group] = set()
    out: Output = {}
    existing = [p for p in job.paths() if p.startswith(DISTS)]
    if job.full:
        for record in job.files():
            if not record.path.endswith(".deb"):
                continue
            control = _control(job, record)
            if control is None:
                continue
            for group in _groups(record):
                groups[group][record.path] = _stanza(record, control)
        touched = set(groups)
    else:
        changed = {p for p in job.changed or () if p.endswith(".deb")}
        records = {p: job.file(p) for p in changed}
        wanted: set[Group] = set()
        for record in records.values():
            if record is not None and record.published:
                wanted.update(_groups(record))
        # Every existing Packages file that may hold a changed .deb, and every one it goes to now.
        for path in existing:
            group = _group_of(path)
            if group is None:
                continue
            previous = (job.previous(path) or b"").decode()
            stanzas = _split(previous)
            if group in wanted or changed & set(stanzas):
                groups[group] = stanzas
                touched.add(group)
            else:
                groups[group] = stanzas  # unchanged, still listed in its Release
        for path, record in records.items():
            for group in list(groups):
                if path in groups[group]:
                    del groups[group][path]
                    touched.add(group)
            if record is None or not record.published:
                continue
            control = _control(job, record)
            if control is None:
                continue
            for group in _groups(record):
                groups[group][path] = _stanza(record, control)
                touched.add(group)
    for group in [g for g in touched if not groups.get(g)]:
        del groups[group]  # lost its last .deb (the default coordinates come back below)
    _defaults(repo, groups, touched)
    dists: dict[str, dict[Group, dict[str, str]]] = defaultdict(dict)
    for group, stanzas in groups.items():
        dists[group[0]][group] = stanzas
    touched_dists = {g[0] for g in touched}
    for dist, members in dists.items():
        if dist not in touched_dists and not job.full:
            continue
        files: dict[str, bytes] = {}
        for group in sorted(members):
            stanzas = members[group]
            text = "\n".join(stanzas[p] for p in sorted(stanzas)).encode()
            relative = _packages_path(group)[len(f"{DISTS}{dist}/") :]
            files[relative] = text
            files[relative + ".gz"] = gzip.compress(text, mtime=0)
        for relative, data in files.items():
            out[f"{DISTS}{dist}/{relative}"] = data
        release = _release(dist, sorted(members), files)
        out[f"{DISTS}{dist}/Release"] = release
        if job.signer is not None:
            out[f"{DISTS}{dist}/InRelease"] = job.signer.clear(release)
            out[f"{DISTS}{dist}/Release.gpg"] = job.signer.detached(release)
        else:
            out[f"{DISTS}{dist}/InRelease"] = None
            out[f"{DISTS}{dist}/Release.gpg"] = None
    if not job.full:
        # Distributions, components or architectures that lost their last .deb: their files go.
        live = {_packages_path(g) for g in groups}
        for path in existing:
            group = _group_of(path)
            if group is not None and _packages_path(group) not in live:
                out[path] = None
                out[path + ".gz"] = None
                if group[0] not in dists:
                    for name in ("Release", "InRelease", "Release.gpg"):
                        out[f"{DISTS}{group[0]}/{name}"] = None
    job.stats["packages_files"] = sum(1 for p in out if p.endswith("/Packages"))
    return out


def _defaults(repo: Repository, groups: dict[Group, dict[str, str]], touched: set[Group]) -> None:
    """The default coordinates of the repository always exist (an empty repository is usable)."""
    if not repo.default_debian_distribution:
        return
    group = (
        repo.default_debian_distribution,
        repo.default_debian_component or "main",
        repo.default_debian_architecture or "amd64",
    )
    if group not in groups:
        groups[group] = {}
        touched.add(group)


def _release(dist: str, members: list[Group], files: dict[str, bytes]) -> bytes:
    components = sorted({g[1] for g in members})
    architectures = sorted({g[2] for g in members})
    lines = [
        "Origin: Shelf",
        "Label: Shelf",
        f"Suite: {dist}",
        f"Codename: {dist}",
        f"Date: {formatdate(usegmt=True)}",
        f"Architectures: {' '.join(architectures)}",
        f"Components: {' '.join(components)}",
        "Acquire-By-Hash: no",
    ]
    for title, algorithm in (("MD5Sum", hashlib.md5), ("SHA1", hashlib.sha1), ("SHA256", hashlib.sha256)):
        lines.append(f"{title}:")
        for relative in sorted(files):
            data = files[relative]
            lines.append(f" {algorithm(data).hexdigest()} {len(data):>16} {relative}")
    return ("\n".join(lines) + "\n").encode()
