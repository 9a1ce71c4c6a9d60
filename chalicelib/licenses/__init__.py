"""Licenses: Bintray's OSS catalogue (``oss``) and subjects' proprietary licenses (``models``,
``services``, ``views``).

The package root re-exports the catalogue, so ``from chalicelib import licenses`` and
``licenses.unknown_licenses(names)`` keep working without importing the proprietary-license code.
"""

from __future__ import annotations

from chalicelib.licenses.oss import (
    OSS_LICENSE_NAMES,
    OSS_LICENSES,
    is_oss_license,
    unknown_licenses,
)

__all__ = ["OSS_LICENSES", "OSS_LICENSE_NAMES", "is_oss_license", "unknown_licenses"]
