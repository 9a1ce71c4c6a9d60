"""What the products domain reacts to: a deleted subject's products go with it."""

from chalicelib.events import SubjectDeleted, Subscription

SUBSCRIPTIONS = [Subscription(SubjectDeleted, "chalicelib.products.subscribers:subject_deleted")]
