"""``X-Bintray-Explode: 1``: an uploaded zip is unpacked into the version instead of being stored.

Entries land under the directory the archive was uploaded to. Every entry path is validated and
every override rule checked before the first byte is stored (no zip-slip, no half-applied archive
because of a bad entry); a zip bomb is refused by its declared sizes before anything is inflated.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

from chalicelib import storage
from chalicelib.auth.principal import Principal
from chalicelib.content.paths import check_file_path
from chalicelib.content.services import Upload, check_upload, digest, store
from chalicelib.errors import BadRequest, Conflict
from chalicelib.packages.services import get_package
from chalicelib.repositories.models import Repository

MAX_ENTRIES = 1000
MAX_UNPACKED_BYTES = 512 * 1024 * 1024


def explode_zip(principal: Principal, repo: Repository, request: Upload, body: bytes) -> int:
    """Unpack the zip ``body`` into ``request``'s version; returns the number of files stored."""
    package = get_package(repo, request.package)
    whole = digest(body)
    if request.sha256 and request.sha256.lower() != whole.sha256:
        raise Conflict(
            f"Checksum mismatch: X-Checksum-Sha2 is {request.sha256} but the content's is {whole.sha256}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile:
        raise BadRequest("X-Bintray-Explode needs a zip archive; the content is not one") from None
    entries = [info for info in archive.infolist() if not info.is_dir()]
    if len(entries) > MAX_ENTRIES:
        raise BadRequest(f"The archive has more than {MAX_ENTRIES} files")
    if sum(info.file_size for info in entries) > MAX_UNPACKED_BYTES:
        raise BadRequest(f"The archive unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    base = request.path.rsplit("/", 1)[0] + "/" if "/" in request.path else ""
    planned = []
    for info in entries:
        path = check_file_path(base + info.filename)
        entry = replace(request, path=path, sha256=None)
        planned.append((info, entry, check_upload(principal, repo, package, entry)))
    for info, entry, replaced in planned:
        data = archive.read(info)
        entry_digest = digest(data)
        storage.put_blob(data, entry_digest.sha256)
        store(principal, repo, package, entry, entry_digest, replaced)
    return len(planned)
