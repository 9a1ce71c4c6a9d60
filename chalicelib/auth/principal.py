"""Who is calling: a user, an access key (with its grants) or nobody. Authentication (HTTP Basic)
is ``chalicelib/auth/credentials.py``."""

from __future__ import annotations

from dataclasses import field

from chalicelib.accounts.models import Subject
from chalicelib.records import dataclass


@dataclass(frozen=True)
class Grant:
    """What one entitlement gives an access key in one repository of the key's owner.

    ``repo_id`` is None for grants of a product (matched by repository name); ``package_id`` is None
    when the grant names no package or comes from a product (matched by package name).
    """

    access: str  # "r" or "rw"
    repo: str
    repo_id: str | None
    package: str | None = None
    package_id: str | None = None
    version: str | None = None
    path: str | None = None

    @property
    def writes(self) -> bool:
        return self.access == "rw"

    @property
    def whole_repo(self) -> bool:
        """The grant covers every file of its repository (repository scope without a path)."""
        return self.package is None and self.version is None and not self.path

    def in_repo(self, name: str, repo_id: str) -> bool:
        return self.repo == name and (self.repo_id is None or self.repo_id == repo_id)

    def covers(self, path: str, package: str | None, version: str | None, package_id: str | None) -> bool:
        """Whether a file at ``path`` of ``package``/``version`` (same repository) is in the grant."""
        if self.path and path != self.path and not path.startswith(self.path.rstrip("/") + "/"):
            return False
        if self.package is not None:
            if package != self.package:
                return False
            if self.package_id is not None and package_id is not None and package_id != self.package_id:
                return False
        return self.version is None or version == self.version


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, or the anonymous one (``name`` is None)."""

    name: str | None
    is_admin: bool = False
    #: The caller's item (not in a repr: it holds the API key's and the password's hashes).
    subject: Subject | None = field(default=None, repr=False)
    #: An access key (``name`` is ``<key_id>@<key_owner>``): its id and the subject that owns it.
    key_id: str | None = None
    key_owner: str | None = None
    #: An access key's grants, loaded once at authentication.
    grants: tuple[Grant, ...] = ()
    #: The caller's roles in organisations looked up while serving this request (org -> role or None),
    #: so the policy and the query limits read a membership once (``policy.role_in``).
    roles: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of_user(cls, user: Subject) -> Principal:
        """The principal of ``user`` as their credentials authenticate them: the policy's answer for
        them, e.g. whether a link's creator may still read its source, is the one they get in person."""
        return cls(name=user.name, is_admin=user.is_admin, subject=user)

    @property
    def authenticated(self) -> bool:
        return self.name is not None

    @property
    def is_access_key(self) -> bool:
        return self.key_id is not None


ANONYMOUS = Principal(name=None)
