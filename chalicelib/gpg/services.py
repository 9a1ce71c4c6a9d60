"""GPG keys and signatures (OpenPGP by pysequoia, v4 signatures: Debian 12's gpgv refuses v6).

- a subject's key pair: generated (not passphrase-protected: KMS protects it at rest) or imported (as
  given, passphrase-protected or not); its public key is served armored;
- Shelf's own key (subject ``$system``), generated on first use, signs where a repository asks for
  Bintray's key (``gpg_sign_metadata``, ``gpg_sign_files``);
- ``<file>.asc``: a detached armored signature stored beside a file, as a file of the same version.

Example::

    signer = signer_for(repo)             # metadata: None unless the repository signs it
    inrelease = signer.clear(release)     # clear-signed
    signature = signer.detached(release)  # armored detached
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import db, storage
from chalicelib.content import services as content
from chalicelib.content.models import File
from chalicelib.content.services import Upload
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.gpg import keystore
from chalicelib.gpg.models import SYSTEM, GpgKey
from chalicelib.packages.models import Package, Version
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository
from chalicelib.timefmt import now
from chalicelib.validation import Body, Field

SIGNATURE_SUFFIX = ".asc"
#: The passphrase of the current request (X-GPG-PASSPHRASE), for signing on upload and publish.
_request_passphrase: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gpg_passphrase", default=None
)


class SigningInfo(Body):
    """The JSON body of signing routes (all optional): another subject's key, a private key not stored
    in Shelf, its passphrase."""

    subject: str | None = Field(default=None, max_length=255)
    passphrase: str | None = Field(default=None, max_length=1024)
    private_key: str | None = Field(default=None, max_length=65536)


class KeyBody(Body):
    """POST /users/:user/keys/gpg: import ``private_key`` (armored; ``passphrase`` checks it), or
    generate a key pair when it is absent."""

    private_key: str | None = Field(default=None, max_length=65536)
    passphrase: str | None = Field(default=None, max_length=1024)


@dataclass
class KeySigner:
    """Signs with one secret key (``registry.Signer`` of the indexes)."""

    signer: Any
    fingerprint: str

    def clear(self, data: bytes) -> bytes:
        import pysequoia

        return bytes(pysequoia.sign(self.signer, data, mode=pysequoia.SignatureMode.CLEAR))

    def detached(self, data: bytes) -> bytes:
        import pysequoia

        return bytes(pysequoia.sign(self.signer, data, mode=pysequoia.SignatureMode.DETACHED))


@contextmanager
def request_passphrase(passphrase: str | None) -> Iterator[None]:
    """Make ``passphrase`` (the request's X-GPG-PASSPHRASE) available to signing on publish."""
    token = _request_passphrase.set(passphrase or None)
    try:
        yield
    finally:
        _request_passphrase.reset(token)


# --- keys -------------------------------------------------------------------------------------------


def _find(subject: str) -> GpgKey | None:
    try:
        return GpgKey.get(subject)
    except DoesNotExist:
        return None


def has_key(subject: str) -> bool:
    return _find(subject) is not None


def _store(
    subject: str, secret: bytes, public: str, fingerprint: str, protected: bool, replace: bool
) -> GpgKey:
    sealed, data_key = keystore.seal(secret)
    item = GpgKey(
        subject,
        fingerprint=fingerprint,
        public_key=public,
        sealed_secret=sealed,
        data_key=data_key,
        protected=protected,
        created=now(),
    )
    item.save(condition=None if replace else GpgKey.subject.does_not_exist())
    return item


def _generate(subject: str, user_id: str, replace: bool) -> GpgKey:
    import pysequoia

    tsk = pysequoia.Tsk.generate(user_id)  # v4 (RFC 4880 profile), Ed25519 signing subkey
    cert = tsk.extract_certificate()
    return _store(subject, bytes(tsk), str(cert), cert.fingerprint, protected=False, replace=replace)


def generate_key(subject: str) -> GpgKey:
    """A new key pair for ``subject`` (replacing its key, if any)."""
    return _generate(subject, f"{subject} (Shelf) <{subject}@users.shelf>", replace=True)


def import_key(subject: str, private_key: str, passphrase: str | None) -> GpgKey:
    """Keep ``subject``'s own secret key (400 unless it is a secret key that signs, with the passphrase
    when it is protected)."""
    import pysequoia

    try:
        tsk = pysequoia.Tsk.from_bytes(private_key.encode())
    except Exception:
        raise BadRequest("'private_key' is not an OpenPGP private key") from None
    protected = False
    try:
        tsk.signer()
    except Exception:
        protected = True
        if not passphrase:
            raise BadRequest("The private key is protected: give its 'passphrase'") from None
        _signer(tsk, passphrase)
    cert = tsk.extract_certificate()
    return _store(subject, bytes(tsk), str(cert), cert.fingerprint, protected=protected, replace=True)


def delete_key(subject: str) -> None:
    if _find(subject) is None:
        raise NotFound(f"Subject '{subject}' has no GPG key")
    GpgKey(subject).delete()


def describe(key: GpgKey) -> dict[str, Any]:
    return {
        "fingerprint": key.fingerprint,
        "public_key": key.public_key,
        "passphrase_protected": key.protected,
    }


def public_key(subject: str) -> str:
    key = _find(subject)
    if key is None:
        raise NotFound(f"Subject '{subject}' has no GPG public key")
    return key.public_key


def system_key() -> GpgKey:
    """Shelf's own key pair, generated on first use (one writer wins)."""
    key = _find(SYSTEM)
    if key is not None:
        return key
    try:
        return _generate(SYSTEM, "Shelf repository signing key <signing@shelf>", replace=False)
    except PutError as error:
        if not db.condition_failed(error):
            raise
        return GpgKey.get(SYSTEM, consistent_read=True)


def system_public_key() -> str:
    return system_key().public_key


# --- signers ----------------------------------------------------------------------------------------


def _signer(tsk: Any, passphrase: str | None) -> Any:
    try:
        return tsk.signer(passphrase) if passphrase else tsk.signer()
    except Exception:
        raise BadRequest("The GPG passphrase is wrong or missing") from None


def _key_signer(key: GpgKey, passphrase: str | None) -> KeySigner | None:
    """A signer of ``key``; None when it is protected and no passphrase is given."""
    import pysequoia

    if key.protected and not passphrase:
        return None
    tsk = pysequoia.Tsk.from_bytes(keystore.unseal(key.sealed_secret, key.data_key))
    return KeySigner(_signer(tsk, passphrase if key.protected else None), key.fingerprint)


def signer_for(repo: Repository, passphrase: str | None = None) -> KeySigner | None:
    """Who signs ``repo``'s metadata: the owner's key (``gpg_use_owner_key``), Shelf's
    (``gpg_sign_metadata``), or nobody (also when the owner's key needs a passphrase not given)."""
    if repo.gpg_use_owner_key:
        key = _find(repo.owner)
        return _key_signer(key, passphrase) if key else None
    if repo.gpg_sign_metadata:
        return _key_signer(system_key(), None)
    return None


def file_signer(repo: Repository) -> KeySigner | None:
    """Who signs files on publish (``gpg_sign_files``: Shelf; ``gpg_use_owner_key``: the owner, with
    the request's X-GPG-PASSPHRASE when the key is protected), or nobody."""
    if repo.gpg_use_owner_key:
        key = _find(repo.owner)
        return _key_signer(key, _request_passphrase.get()) if key else None
    if repo.gpg_sign_files:
        return _key_signer(system_key(), None)
    return None


def explicit_signer(repo: Repository, caller: str | None, info: SigningInfo, header: str | None) -> KeySigner:
    """The signer of the GPG signing routes: ``private_key`` of the body, else the key of ``subject``
    (the repository's owner by default; another subject only the caller's own), with the passphrase of
    the body or the X-GPG-PASSPHRASE header. 400 when that information is missing or wrong."""
    import pysequoia

    passphrase = info.passphrase or header
    if info.private_key:
        try:
            tsk = pysequoia.Tsk.from_bytes(info.private_key.encode())
        except Exception:
            raise BadRequest("'private_key' is not an OpenPGP private key") from None
        cert = tsk.extract_certificate()
        return KeySigner(_signer(tsk, passphrase), cert.fingerprint)
    subject = info.subject or repo.owner
    if subject not in (repo.owner, caller):
        raise BadRequest(f"Signing with the key of '{subject}' is not allowed here")
    key = _find(subject)
    if key is None:
        raise BadRequest(f"Subject '{subject}' has no GPG key pair to sign with")
    signer = _key_signer(key, passphrase)
    if signer is None:
        raise BadRequest("The GPG key is protected: give its passphrase (X-GPG-PASSPHRASE or 'passphrase')")
    return signer


# --- signatures -------------------------------------------------------------------------------------


def is_signature(path: str) -> bool:
    return path.endswith(SIGNATURE_SUFFIX)


def sign_files(
    uploader: str | None,
    is_admin: bool,
    repo: Repository,
    package: Package,
    version: Version,
    files: list[File],
    signer: KeySigner,
) -> list[File]:
    """Store ``<file>.asc`` beside each of ``files`` (signatures are not signed again), in the same
    version, published when the signed file is. Returns the signature files."""
    signatures: list[File] = []
    published: list[File] = []
    for record in files:
        if is_signature(record.path):
            continue
        data = storage.get_object(storage.blob_key(record.sha256))
        signature = signer.detached(data)
        request = Upload(
            path=record.path + SIGNATURE_SUFFIX, package=package.name, version=version.name, override=True
        )
        try:
            replaced = content.check_upload(uploader, is_admin, repo, package, request)
        except Conflict:
            continue  # a signature path owned by another version, or past the update window: left alone
        digest = content.digest(signature)
        storage.put_blob(signature, digest.sha256)
        stored = content.store(uploader, repo, package, request, digest, replaced)
        signatures.append(stored)
        if record.published and not stored.published:
            published.append(stored)
    at = now()
    for stored in published:  # as published as what they sign (no new publish event: nothing new to announce)
        actions = [File.published.set(True), File.published_at.set(at)]
        if not repo.private:
            actions.append(File.search_shard.set("public"))
        stored.update(actions=actions, condition=File.sha256 == stored.sha256)
    return signatures


def sign_path(repo: Repository, caller: str | None, is_admin: bool, record: File, signer: KeySigner) -> None:
    """POST /gpg/:subject/:repo/:file_path."""
    from chalicelib.packages.services import get_package
    from chalicelib.packages.versions import get_version

    package = get_package(repo, record.package)
    sign_files(caller, is_admin, repo, package, get_version(package, record.version), [record], signer)


def sign_version(
    repo: Repository,
    caller: str | None,
    is_admin: bool,
    package: Package,
    version: Version,
    signer: KeySigner,
) -> int:
    """POST /gpg/:subject/:repo/:package/versions/:version: every file of the version."""
    files = [f for f in File.version_index.query(f"{package.id}#{version.name}") if not is_signature(f.path)]
    return len(sign_files(caller, is_admin, repo, package, version, files, signer))
