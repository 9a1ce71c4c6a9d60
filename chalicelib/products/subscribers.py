"""Reactions of the products domain to other domains' events."""

from __future__ import annotations

from chalicelib.events import SubjectDeleted
from chalicelib.products.services import purge_subject


def subject_deleted(event: SubjectDeleted) -> None:
    """Delete the subject's products with their EULAs (each publishes ProductDeleted)."""
    purge_subject(event.name)
