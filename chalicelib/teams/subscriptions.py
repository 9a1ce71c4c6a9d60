"""What the teams domain reacts to: deleted repositories and subjects."""

from chalicelib.events import MemberRemoved, RepositoryDeleted, SubjectDeleted, Subscription

SUBSCRIPTIONS = [
    Subscription(RepositoryDeleted, "chalicelib.teams.subscribers:repository_deleted"),
    Subscription(SubjectDeleted, "chalicelib.teams.subscribers:subject_deleted"),
    Subscription(MemberRemoved, "chalicelib.teams.subscribers:member_removed"),
]
