"""What the repositories domain reacts to: a deleted subject's repositories go with it."""

from chalicelib.events import SubjectDeleted, Subscription

SUBSCRIPTIONS = [Subscription(SubjectDeleted, "chalicelib.repositories.subscribers:subject_deleted")]
