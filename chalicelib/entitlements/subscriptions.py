"""What the entitlements domain reacts to: deleted products, access keys and subjects."""

from chalicelib.events import AccessKeyDeleted, ProductDeleted, SubjectDeleted, Subscription

SUBSCRIPTIONS = [
    Subscription(ProductDeleted, "chalicelib.entitlements.subscribers:product_deleted"),
    Subscription(AccessKeyDeleted, "chalicelib.entitlements.subscribers:access_key_deleted"),
    Subscription(SubjectDeleted, "chalicelib.entitlements.subscribers:subject_deleted"),
]
