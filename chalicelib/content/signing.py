"""URL signing: anonymous, expiring download URLs under a per-subject key (Premium): the key, the
``signed_url`` request, callbacks. The scheme and its verification (by the policy, on download) are
``chalicelib/auth/signed_urls.py``.

A signed download grants read on that exact path only (published files; private repositories too).
A download with a ``callback_url`` is reported *outside* the request: the download event carries the
callback, and the events consumer calls ``perform_callback(event)``.

Example::

    url = create_signed_url(ctx.subject, "repo", "a/b.bin", base, body)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from chalicelib import netsafety
from chalicelib.accounts.models import Subject
from chalicelib.auth.signed_urls import b64, canonical, id_cipher, now_ms, signature, unb64
from chalicelib.db import condition_failed
from chalicelib.errors import BadRequest
from chalicelib.validation import Body, Field

if TYPE_CHECKING:
    from chalicelib.auth.policy import Access

log = logging.getLogger("shelf")

#: Default life of a signed URL (the spec: 24 hours).
DEFAULT_VALID_SECONDS = 24 * 3600
#: Life of the signed URL a dynamic ($latest) download redirects to (the spec: 15 seconds).
DYNAMIC_VALID_SECONDS = 15
CALLBACK_METHODS = ("GET", "POST", "PUT", "HEAD")
#: Seconds the callback may take to connect and to answer.
CALLBACK_TIMEOUT = 3.0


class SignedUrlBody(Body):
    expiry: int | None = None
    valid_for_secs: int | None = None
    callback_id: str | None = Field(default=None, max_length=256)
    callback_email: str | None = Field(default=None, max_length=254)
    callback_url: str | None = Field(default=None, max_length=2048)
    callback_method: str | None = None
    secret: str | None = Field(default=None, max_length=256)


# --- the per-subject key ---------------------------------------------------------------------------


def _new_key() -> str:
    return b64(secrets.token_bytes(32))


def signing_key(subject: Subject) -> bytes:
    """The subject's signing key, created on first use (concurrent first uses agree on one key)."""
    if not subject.url_signing_key:
        try:
            subject.update(
                actions=[Subject.url_signing_key.set(_new_key())],
                condition=Subject.url_signing_key.does_not_exist() & Subject.name.exists(),
            )
        except Exception as error:  # noqa: BLE001  (PynamoDB's UpdateError)
            if not condition_failed(error):
                raise
            subject.refresh(consistent_read=True)
    return unb64(subject.url_signing_key or "")


def regenerate_key(subject: Subject) -> None:
    """Replace the subject's signing key: every outstanding signed URL stops working."""
    subject.update(actions=[Subject.url_signing_key.set(_new_key())], condition=Subject.name.exists())


# --- tokens and signatures -------------------------------------------------------------------------


def seal_id(key: bytes, subject: str, repo: str, path: str, claims: Mapping[str, str]) -> str:
    """The opaque ``id`` of a signed URL: ``claims`` encrypted and authenticated (AES-256-GCM)."""
    nonce = secrets.token_bytes(12)
    plain = json.dumps(dict(claims), separators=(",", ":")).encode()
    sealed = id_cipher(key).encrypt(nonce, plain, canonical(subject, repo, path).encode())
    return b64(nonce + sealed)


def signed_query(
    subject: Subject, repo: str, path: str, expiry_ms: int, claims: Mapping[str, str] | None = None
) -> str:
    """The query ``expiry=..&id=..&signature=..`` granting a download of ``path`` until ``expiry_ms``."""
    key = signing_key(subject)
    token = seal_id(key, subject.name, repo, path, claims or {})
    sig = signature(key, subject.name, repo, path, expiry_ms, token)
    return urlencode({"expiry": expiry_ms, "id": token, "signature": sig})


def download_url(
    base: str, subject: Subject, repo: str, path: str, expiry_ms: int, claims: Mapping[str, str] | None = None
) -> str:
    """The signed ``/dl`` URL of ``path``."""
    where = "/".join(quote(part, safe="") for part in (subject.name, repo)) + "/" + quote(path)
    return f"{base}/dl/{where}?{signed_query(subject, repo, path, expiry_ms, claims)}"


# --- the signed_url request ------------------------------------------------------------------------


def expiry_of(body: SignedUrlBody) -> int:
    """The expiry (epoch ms) a request asks for: ``expiry`` or ``valid_for_secs``, 24 hours by default."""
    if body.expiry is not None and body.valid_for_secs is not None:
        raise BadRequest("'expiry' and 'valid_for_secs' are mutually exclusive")
    now = now_ms()
    if body.valid_for_secs is not None:
        if body.valid_for_secs <= 0:
            raise BadRequest("Invalid value for 'valid_for_secs': it must be positive")
        return now + body.valid_for_secs * 1000
    if body.expiry is not None:
        if body.expiry <= now:
            raise BadRequest("Invalid value for 'expiry': it is in the past")
        return body.expiry
    return now + DEFAULT_VALID_SECONDS * 1000


def callback_claims(body: SignedUrlBody) -> dict[str, str]:
    """The callback information a signed URL carries in its ``id`` (validated)."""
    claims: dict[str, str] = {}
    if body.callback_id:
        claims["callback_id"] = body.callback_id
    if body.callback_email:
        if not body.callback_id:
            raise BadRequest("'callback_email' requires a 'callback_id'")
        local, _, domain = body.callback_email.partition("@")
        if not local or "." not in domain:
            raise BadRequest("Invalid value for 'callback_email': not an email address")
        claims["callback_email"] = body.callback_email
    if body.callback_method is not None and body.callback_method.upper() not in CALLBACK_METHODS:
        raise BadRequest(f"Invalid value for 'callback_method': use one of {', '.join(CALLBACK_METHODS)}")
    if body.callback_url:
        netsafety.check_public_url(body.callback_url.replace("%callback_id", "x"), "callback_url")
        claims["callback_url"] = body.callback_url
        claims["callback_method"] = (body.callback_method or "POST").upper()
    return claims


def create_signed_url(subject: Subject, repo: str, path: str, base: str, body: SignedUrlBody) -> str:
    """A signed download URL of ``path`` as the request ``body`` asks (expiry, callback)."""
    expiry = expiry_of(body)
    return download_url(base, subject, repo, path, expiry, callback_claims(body))


def base_url(headers: Mapping[str, str], context: Mapping[str, Any]) -> str:
    """The public base URL of this API as the client reached it (Host, X-Forwarded-Proto, stage).

    Through an ``execute-api`` host the stage is part of the path; through a custom domain it is not.
    """
    host = headers.get("host") or str(context.get("domainName") or "localhost")
    aws_host = host.split(":")[0].endswith(".amazonaws.com")
    proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        proto = "https" if aws_host else "http"
    stage = context.get("stage")
    prefix = f"/{stage}" if aws_host and stage else ""
    return f"{proto}://{host}{prefix}"


# --- encrypt=true ----------------------------------------------------------------------------------


def new_secret() -> str:
    """A secret for ``encrypt=true`` when the caller gave none."""
    return secrets.token_urlsafe(32)


def encrypt_payload(secret: str, payload: bytes) -> str:
    """``encrypt=true``: base64(IV || AES-256-CBC(key=SHA-256(secret), PKCS7(payload))), random 16-byte IV."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(payload) + padder.finalize()
    key = hashlib.sha256(secret.encode()).digest()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt_payload(secret: str, data: str) -> bytes:
    """The inverse of ``encrypt_payload`` (what a client does with ``X-Bintray-Secret``)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    raw = base64.b64decode(data)
    key = hashlib.sha256(secret.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


# --- downloads and callbacks -----------------------------------------------------------------------


def callback_fields(access: Access) -> dict[str, str | None]:
    """The callback fields of a signed download (the claims ``policy.resolve`` verified), for its
    download event (empty for others)."""
    claims = access.extra.get("signed") or {}
    return {
        name: claims.get(name)
        for name in ("callback_id", "callback_url", "callback_method", "callback_email")
        if claims.get(name)
    }


def callback_hmac(key: bytes, subject: str, repo: str, path: str) -> str:
    """``X-Bintray-Callback-Hmac``: base64 HMAC-MD5 of ``:subject/:repo/:file_path`` keyed by the subject."""
    return base64.b64encode(hmac.new(key, f"{subject}/{repo}/{path}".encode(), hashlib.md5).digest()).decode()


def perform_callback(event: Mapping[str, Any], timeout: float = CALLBACK_TIMEOUT) -> int | None:
    """Call the ``callback_url`` of a signed download event; the HTTP status, or None if not called.

    The URL is checked again (DNS may have changed since signing); redirects are not followed;
    failures are logged, never raised (a callback is best effort).
    """
    url = event.get("callback_url")
    if not url:
        return None
    callback_id = event.get("callback_id") or ""
    url = url.replace("%callback_id", quote(callback_id, safe=""))
    reason = netsafety.unsafe_reason(url)  # before any work; call_public_url checks again when sending
    if reason is not None:
        log.warning("signed URL callback refused: %s", reason)
        return None
    subject, repo, path = event["owner"], event["repo"], event["path"]
    try:
        key = signing_key(Subject.get(subject))
    except Exception:  # noqa: BLE001  (the subject is gone: nobody to report to)
        return None
    method = (event.get("callback_method") or "POST").upper()
    payload = {
        "subject": subject,
        "repo": repo,
        "package": event.get("package"),
        "version": event.get("version"),
        "file_path": path,
        "callback_id": callback_id,
        "ip_address": event.get("ip"),
    }
    data = json.dumps(payload).encode() if method in ("POST", "PUT") else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Bintray-Callback-Hmac", callback_hmac(key, subject, repo, path))
    return netsafety.call_public_url(request, timeout, "signed URL callback")
