"""Signed download URLs: the scheme, and its verification by the policy (``policy.resolve``, on a
``Need.DOWNLOAD`` route). Creating them and the subject's key: ``chalicelib/content/signing.py``.

A signed URL is ``<base>/dl/:subject/:repo/:file_path?expiry=E&id=I&signature=S`` where

- ``E`` is the expiry in epoch milliseconds;
- ``I`` is an opaque token carrying the callback information (``callback_id``, ``callback_url``,
  ``callback_method``, ``callback_email``): AES-256-GCM under a key derived from the subject's
  signing key (``HMAC-SHA256(signing key, "shelf/signed-url-id")``), the path as associated data,
  a random 96-bit nonce prepended; urlsafe base64 without padding. It can be neither read nor forged;
- ``S`` is ``HMAC-SHA256(signing key, "subject\\nrepo\\nfile_path\\nE\\nI")``, urlsafe base64
  without padding.

The signing key (32 random bytes, ``Subject.url_signing_key``) is created on first use with a
conditional write, so two concurrent first uses agree; ``POST /subjects/:subject/keypair``
replaces it, which revokes every outstanding URL.

A signed download grants read on that exact path only (published files; private repositories too).

Example::

    claims = verify_download(subject, "repo", "a/b.bin", {"expiry": ..., "id": ..., "signature": ...})
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from chalicelib.accounts.models import Subject
from chalicelib.errors import Forbidden
from chalicelib.timefmt import now_ms
from chalicelib.validation import ASCII_DIGITS

SIGNED_PARAMS = ("expiry", "id", "signature")
_ID_KEY_INFO = b"shelf/signed-url-id"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(subject: str, repo: str, path: str) -> str:
    return f"{subject}\n{repo}\n{path}"


def id_cipher(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hmac.new(key, _ID_KEY_INFO, hashlib.sha256).digest())


def open_id(key: bytes, subject: str, repo: str, path: str, token: str) -> dict[str, str]:
    """The claims of an ``id`` token; 403 if it was not made with ``key`` for this path."""
    from cryptography.exceptions import InvalidTag

    try:
        raw = unb64(token)
        plain = id_cipher(key).decrypt(raw[:12], raw[12:], canonical(subject, repo, path).encode())
        claims = json.loads(plain)
    except (InvalidTag, ValueError, TypeError):
        raise Forbidden("The signed URL is not valid") from None
    return claims if isinstance(claims, dict) else {}


def signature(key: bytes, subject: str, repo: str, path: str, expiry: int | str, token: str) -> str:
    """HMAC-SHA256 of the canonical string of a signed URL."""
    message = f"{canonical(subject, repo, path)}\n{expiry}\n{token}".encode()
    return b64(hmac.new(key, message, hashlib.sha256).digest())


def is_signed(query: Mapping[str, str]) -> bool:
    """Whether a request presents a signed-URL query."""
    return any(query.get(name) for name in SIGNED_PARAMS)


def verify_download(subject: Subject, repo: str, path: str, query: Mapping[str, str]) -> dict[str, str]:
    """The callback claims of a valid signed download of ``path``; 403 if forged, tampered, expired or
    revoked (signed with a key that was regenerated since)."""
    expiry, token, sig = (query.get(name) or "" for name in SIGNED_PARAMS)
    if not (expiry and token and sig):
        raise Forbidden("The signed URL is incomplete: it needs 'expiry', 'id' and 'signature'")
    key = unb64(subject.url_signing_key) if subject.url_signing_key else None
    expected = signature(key, subject.name, repo, path, expiry, token).encode() if key else b""
    if key is None or not hmac.compare_digest(expected, sig.encode()):  # bytes: sig may be non-ASCII
        raise Forbidden("The signed URL is not valid")
    if not ASCII_DIGITS.fullmatch(expiry) or int(expiry) < now_ms():
        raise Forbidden("The signed URL has expired")
    return open_id(key, subject.name, repo, path, token)
