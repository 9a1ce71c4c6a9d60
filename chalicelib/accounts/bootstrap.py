"""The system administrator bootstrap: ``SHELF_ADMIN_USER`` / ``SHELF_ADMIN_API_KEY``."""

from __future__ import annotations

import os

from chalicelib.accounts.services import bootstrap_admin
from chalicelib.auth.secrets import new_api_key


def bootstrap_from_env() -> tuple[str, str | None]:
    """Create or update the system administrator named by the environment.

    Returns (name, generated key): the key is generated (and returned, to be shown once) only
    when ``SHELF_ADMIN_API_KEY`` is not set.
    """
    name = os.environ.get("SHELF_ADMIN_USER") or "admin"
    key = os.environ.get("SHELF_ADMIN_API_KEY")
    generated = None
    if not key:
        key = generated = new_api_key()
    bootstrap_admin(name, key)
    return name, generated
