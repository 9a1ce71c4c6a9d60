"""API keys and passwords: generated here, stored only as hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_api_key() -> str:
    """A fresh random API key (40 URL-safe characters, 240 bits)."""
    return secrets.token_urlsafe(30)


def hash_api_key(key: str) -> str:
    """Hash of an API key. Keys are random and long, so one SHA-256 round is enough."""
    return "sha256$" + hashlib.sha256(key.encode()).hexdigest()


def verify_api_key(key: str, stored_hash: str | None) -> bool:
    """Whether ``key`` matches ``stored_hash``, in constant time."""
    candidate = hash_api_key(key)
    return hmac.compare_digest(candidate, stored_hash or "sha256$" + "0" * 64)


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password chosen by a person."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"
