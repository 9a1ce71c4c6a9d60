"""``X-Bintray-Explode: 1``: an uploaded zip is unpacked into the version instead of being stored.

All or nothing. Entries land under the directory the archive was uploaded to. Before the first byte
is stored, every entry path is validated, every override rule checked, duplicate entries refused and
every entry inflated once (its CRC checked): a corrupt archive is a 400 that leaves nothing behind. A
zip bomb is refused by its declared sizes before anything is inflated (an entry never inflates beyond
its declared size). Should recording fail half-way (another upload to one of the paths at the same
moment), the records written so far are taken back, so the archive still lands whole or not at all.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import replace

from chalicelib import storage
from chalicelib.auth.principal import Principal
from chalicelib.content.models import File
from chalicelib.content.paths import check_file_path
from chalicelib.content.services import (
    Digest,
    Upload,
    check_upload,
    digest,
    publish_after_upload,
    store,
    undo_store,
)
from chalicelib.errors import BadRequest, Conflict
from chalicelib.packages.services import get_package
from chalicelib.repositories.models import Repository

MAX_ENTRIES = 1000
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
#: What a damaged archive or entry raises while it is read (bad CRC, truncated or garbled data,
#: unsupported compression, encryption).
CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError)


def _open(body: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(body))
    except CORRUPT:
        raise BadRequest("X-Bintray-Explode needs a zip archive; the content is not one") from None


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except CORRUPT as error:
        name = info.filename
        raise BadRequest(f"The archive is damaged: entry '{name}' cannot be read ({error})") from None


def explode_zip(principal: Principal, repo: Repository, request: Upload, body: bytes) -> int:
    """Unpack the zip ``body`` into ``request``'s version; returns the number of files stored."""
    package = get_package(repo, request.package)
    whole = digest(body)
    if request.sha256 and request.sha256.lower() != whole.sha256:
        raise Conflict(
            f"Checksum mismatch: X-Checksum-Sha2 is {request.sha256} but the content's is {whole.sha256}"
        )
    archive = _open(body)
    entries = [info for info in archive.infolist() if not info.is_dir()]
    if len(entries) > MAX_ENTRIES:
        raise BadRequest(f"The archive has more than {MAX_ENTRIES} files")
    if sum(info.file_size for info in entries) > MAX_UNPACKED_BYTES:
        raise BadRequest(f"The archive unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    base = request.path.rsplit("/", 1)[0] + "/" if "/" in request.path else ""
    planned: list[tuple[zipfile.ZipInfo, Upload, File | None, Digest]] = []
    seen: set[str] = set()
    for info in entries:
        path = check_file_path(base + info.filename)
        if path in seen:
            raise BadRequest(f"The archive has '{info.filename}' more than once")
        seen.add(path)
        entry = replace(request, path=path, sha256=None, publish=False)
        replaced = check_upload(principal.name, principal.is_admin, repo, package, entry)
        planned.append((info, entry, replaced, digest(_inflate(archive, info))))
    stored: list[tuple[File, File | None]] = []
    try:
        for info, entry, replaced, entry_digest in planned:
            storage.put_blob(_inflate(archive, info), entry_digest.sha256)
            stored.append((store(principal.name, repo, package, entry, entry_digest, replaced), replaced))
    except Exception:
        for record, replaced in reversed(stored):
            undo_store(record, replaced)
        raise
    if request.publish and stored:
        publish_after_upload(repo, package, stored[0][0].version, [record for record, _ in stored])
    return len(planned)
