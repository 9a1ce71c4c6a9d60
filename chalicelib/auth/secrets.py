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


def _scrypt(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1).hex()


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password chosen by a person."""
    salt = secrets.token_bytes(16)
    return f"scrypt${salt.hex()}${_scrypt(password, salt)}"


#: Passwords this container verified already, as SHA-256 of (stored hash, password): scrypt costs
#: ~35 ms, too much for every request of an access key with a chosen password.
_verified: set[str] = set()
_VERIFIED_MAX = 4096


def verify_password(password: str, stored_hash: str) -> bool:
    """Whether ``password`` matches the scrypt ``stored_hash``, in constant time; a pair verified
    before in this container is recognised without running scrypt again."""
    memo = hashlib.sha256(f"{stored_hash}\0{password}".encode()).hexdigest()
    if memo in _verified:
        return True
    _, salt, digest = stored_hash.split("$")
    if not hmac.compare_digest(_scrypt(password, bytes.fromhex(salt)), digest):
        return False
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified.add(memo)
    return True
