"""Reactions of the entitlements domain to other domains' events."""

from __future__ import annotations

from chalicelib.entitlements.services import forget_key, product_scope_key, purge_scope, purge_subject
from chalicelib.events import AccessKeyDeleted, ProductDeleted, SubjectDeleted


def product_deleted(event: ProductDeleted) -> None:
    """The product-scope entitlements of a deleted product go (a re-created one starts empty)."""
    purge_scope(event.owner, product_scope_key(event.owner, event.product))


def access_key_deleted(event: AccessKeyDeleted) -> None:
    """A deleted key's grant rows and its place in entitlements go."""
    forget_key(event.owner, event.key_id)


def subject_deleted(event: SubjectDeleted) -> None:
    purge_subject(event.name)
