"""Lifecycle events: the moments other domains react to, and who reacts.

A domain's service says what happened (``publish(VersionPublished(...))``); it never calls another
domain to react. Reactions are subscribers, named by dotted path and imported on first use, so a cold
start pays nothing for them:

- **in-request** subscribers run inside ``publish``, before the request answers (cascades that must
  hold when the caller reads again: deleting a repository deletes its team permissions);
- **queued** subscribers run later, from one SQS message per event (``EVENTS`` queue), consumed by
  ``consume`` behind an ``on_sqs_message`` function; SQS delivers at least once, so a queued subscriber
  must be idempotent (each event carries a unique ``id``).

Each domain declares its subscriptions next to its code, in its ``subscriptions.py`` (a list of
``Subscription``); ``SUBSCRIPTION_MODULES`` names those modules, read once on the first ``publish``.

Example::

    # chalicelib/teams/subscriptions.py
    SUBSCRIPTIONS = [Subscription(RepositoryDeleted, "chalicelib.teams.subscribers:repository_deleted")]

    # chalicelib/repositories/services.py
    events.publish(RepositoryDeleted(owner="acme", repo="tools", repo_id=repo.id))
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, dataclass_transform

from chalicelib.records import dataclass
from chalicelib.timefmt import iso, now

log = logging.getLogger("shelf")


def _event_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return iso(now()) or ""


@dataclass_transform(kw_only_default=True, frozen_default=True)
class Event:
    """Base of every lifecycle event: a unique ``id`` and the moment ``at`` (ISO 8601, UTC).

    A subclass declares its fields as annotations (a value: the default); instances take them as
    keywords and are immutable, compared and hashed by kind and values. Like a frozen keyword-only
    dataclass, but its methods are shared, not generated and compiled for each of the kinds at import
    (docs/performance.md, "Cold import")."""

    id: str
    at: str

    #: Every event class by name (for messages).
    KINDS: ClassVar[dict[str, type[Event]]] = {}
    #: The kind's field names (the base's first) and those without a default.
    FIELDS: ClassVar[tuple[str, ...]] = ("id", "at")
    REQUIRED: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hints = cls.__dict__.get("__annotations__", {})
        own = [name for name, hint in hints.items() if "ClassVar" not in hint]
        cls.FIELDS = (*cls.FIELDS, *own)
        cls.REQUIRED = cls.REQUIRED | {name for name in own if name not in cls.__dict__}
        Event.KINDS[cls.__name__] = cls

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - set(self.FIELDS)
        missing = self.REQUIRED - values.keys()
        if unknown or missing:
            problem = f"unexpected {sorted(unknown)}" if unknown else f"missing {sorted(missing)}"
            raise TypeError(f"{self.kind}: {problem}")
        if "id" not in values:
            values["id"] = _event_id()
        if "at" not in values:
            values["at"] = _now()
        cls = type(self)
        for name in self.FIELDS:
            object.__setattr__(self, name, values[name] if name in values else getattr(cls, name))

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(f'{name}={getattr(self, name)!r}' for name in self.FIELDS)})"

    @property
    def kind(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def replace(self, **changes: Any) -> Event:
        """A copy with ``changes`` (as ``dataclasses.replace``)."""
        return type(self)(**{**self.as_dict(), **changes})

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "event": self.as_dict()})

    @staticmethod
    def from_json(text: str) -> Event:
        data = json.loads(text)
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data["event"].items()}
        return Event.KINDS[data["kind"]](**fields)


# --- content ------------------------------------------------------------------------------------


class FileStored(Event):
    """A file's content was recorded (a small upload, a large one finished, an entry of an archive)."""

    owner: str
    repo: str
    repo_id: str
    package: str
    version: str
    path: str
    size: int
    sha256: str
    uploader: str | None = None
    replaced_size: int | None = None  # the size of the file it overrode


class VersionPublished(Event):
    """Files of a version were published (``files``: their paths)."""

    owner: str
    repo: str
    repo_id: str
    package: str
    version: str
    files: tuple[str, ...] = ()
    #: The repository signs published files (gpg_sign_files or gpg_use_owner_key): chalicelib/gpg.
    sign_files: bool = False
    #: The package's id and the version's ordinal: the packages domain marks the version published
    #: and moves the package's latest published version (in-request, idempotent).
    package_id: str = ""
    ordinal: int | None = None
    #: The version was published already (nothing to mark on it).
    version_was_published: bool = False


class FileDeleted(Event):
    owner: str
    repo: str
    repo_id: str
    package: str
    version: str
    path: str
    size: int
    by: str | None = None


class Downloaded(Event):
    """A download was answered (302 to the content), by ``user`` (None: anonymous) from ``ip``."""

    owner: str
    repo: str
    package: str
    version: str
    path: str
    size: int
    user: str | None = None
    ip: str | None = None
    callback_id: str | None = None
    repo_id: str | None = None
    access_key: str | None = None
    #: The client's country when the request knew it (``SHELF_COUNTRY_SOURCE=cloudfront``).
    country: str | None = None
    business_unit: str | None = None
    #: A signed URL's callback (called once by the statistics recorder).
    callback_url: str | None = None
    callback_method: str | None = None
    callback_email: str | None = None


class DownloadsLogged(Event):
    """Downloads answered by the CDN, read from one part of one CloudFront log file (``source``, its
    S3 key): one event per part instead of one ``Downloaded`` per download. The ``id`` is derived from
    the file and the part, so reading a file again publishes the same ids (recorded once).

    ``files``: the files downloaded, each ``{owner, repo, repo_id, business_unit, package, version,
    path, size}``; ``downloads``: one ``[file index, at (ISO 8601), request id, ip or None]`` each."""

    source: str
    files: tuple = ()
    downloads: tuple = ()


# --- packages, repositories, subjects --------------------------------------------------------------


class VersionDeleted(Event):
    owner: str
    repo: str
    repo_id: str
    package: str
    package_id: str
    version: str


class PackageDeleted(Event):
    owner: str
    repo: str
    repo_id: str
    package: str
    package_id: str
    #: Its Maven coordinates (``group:artifact``), whose search rows go with it.
    system_ids: tuple[str, ...] = ()


class RepositoryDeleted(Event):
    """``teams``: the teams that had a permission on it (their ``permitted_repos`` lose it)."""

    owner: str
    repo: str
    repo_id: str
    teams: tuple[str, ...] = ()


class RepositoryAccessChanged(Event):
    """Who may download from a repository changed: it turned private or public, or its download
    restrictions (geo, IP) were set or removed. Subscribers read the repository's current state."""

    owner: str
    repo: str
    repo_id: str


class DownloadPathChanged(Event):
    """The object served at ``/dl/<owner>/<repo>/<path>`` that is no file record (a repository index)
    is now S3 object ``key`` of the content bucket (None: there is none any more)."""

    owner: str
    repo: str
    repo_id: str
    path: str
    key: str | None = None


class SubjectDeleted(Event):
    """A user or an organisation (``kind_of_subject``: "user" or "org") was deleted."""

    name: str
    kind_of_subject: str


class MemberRemoved(Event):
    """``user`` is being removed from organisation ``org`` (published before the membership row goes:
    out of the organisation's teams first, so a crash in between leaves a member without team rights)."""

    org: str
    user: str


# --- commerce ----------------------------------------------------------------------------------


class ProductDeleted(Event):
    owner: str
    product: str


class AccessKeyDeleted(Event):
    owner: str
    key_id: str


# --- authentication ----------------------------------------------------------------------------


class LoginSucceeded(Event):
    """A request authenticated as ``user`` (a user or ``id@subject``) on a resource of ``subject``."""

    subject: str | None
    user: str
    ip: str | None = None


class LoginFailed(Event):
    """A request with wrong credentials for ``user`` on a resource of ``subject``."""

    subject: str | None
    user: str
    ip: str | None = None


# --- usage -------------------------------------------------------------------------------------


class UsageThresholdExceeded(Event):
    """A usage threshold of organisation ``org`` was crossed in ``period`` (``YYYY-MM`` or
    ``YYYY-MM-DD``); published once per threshold, kind and period (the ``id`` is derived from them).

    ``scope``: ``organization``, ``repo`` or ``business_unit`` (``name``: the repository or unit);
    ``threshold``: ``monthly_storage_bytes``, ``monthly_download_bytes`` or ``daily_download_bytes``."""

    org: str
    scope: str
    name: str | None
    threshold: str
    limit: int
    usage: int
    period: str


# --- subscriptions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """``target`` ("package.module:function") reacts to ``event``; ``queued``: later, from SQS;
    ``batch`` (queued only): ``target`` takes a list, all the events of its kind in one SQS batch."""

    event: type[Event]
    target: str
    queued: bool = False
    batch: bool = False


#: The modules whose ``SUBSCRIPTIONS`` lists declare who reacts to what (one per domain). Their order
#: is the order in which in-request subscribers of one event run (children after their parents'
#: other dependents: a repository's team records and links before its packages, a package's files
#: before its links).
SUBSCRIPTION_MODULES: list[str] = [
    "chalicelib.repositories.subscriptions",
    "chalicelib.teams.subscriptions",
    "chalicelib.content.subscriptions",
    "chalicelib.attributes.subscriptions",
    "chalicelib.docs_meta.subscriptions",
    "chalicelib.links.subscriptions",
    "chalicelib.packages.subscriptions",
    "chalicelib.products.subscriptions",
    "chalicelib.entitlements.subscriptions",
    "chalicelib.webhooks.subscriptions",
    "chalicelib.stream.subscriptions",
    "chalicelib.gpg.subscriptions",
    "chalicelib.indexes.subscriptions",
    "chalicelib.npm.subscriptions",
    "chalicelib.cdn.subscriptions",
    "chalicelib.telemetry.subscriptions",
    "chalicelib.stats.subscriptions",
    "chalicelib.thresholds.subscriptions",
]

_table: dict[type[Event], list[Subscription]] | None = None


def subscriptions(kind: type[Event]) -> list[Subscription]:
    """Who reacts to events of ``kind`` (the declarations are read on first use)."""
    global _table
    if _table is None:
        table: dict[type[Event], list[Subscription]] = {}
        for module in SUBSCRIPTION_MODULES:
            for sub in importlib.import_module(module).SUBSCRIPTIONS:
                table.setdefault(sub.event, []).append(sub)
        _table = table
    return _table.get(kind, [])


def _call(target: str, event: Event, batch: bool = False) -> None:
    module, _, name = target.partition(":")
    handler: Callable[[Any], None] = getattr(importlib.import_module(module), name)
    handler([event] if batch else event)


#: How queued events leave the process: ``send(event)``; set by the queue layer (``chalicelib.queues``)
#: or by tests. None: queued subscribers run in-request (local tools without queues).
sender: Callable[[Event], None] | None = None


def publish(event: Event) -> None:
    """Run ``event``'s in-request subscribers now, in declaration order, and queue it once for its
    queued subscribers."""
    subs = subscriptions(type(event))
    for sub in subs:
        if not sub.queued:
            _call(sub.target, event)
    if any(sub.queued for sub in subs):
        if sender is None:
            for sub in subs:
                if sub.queued:
                    _call(sub.target, event, sub.batch)
        else:
            sender(event)


def deliver(event: Event) -> None:
    """Run ``event``'s queued subscribers (the SQS consumer calls this for each message). Each must be
    idempotent: SQS may deliver the same event again."""
    for sub in subscriptions(type(event)):
        if sub.queued:
            _call(sub.target, event, sub.batch)


def consume(sqs_event: Mapping[str, Any]) -> int:
    """Deliver every event of an SQS batch (Lambda's event dict); returns how many. Batch subscribers
    get the batch's events of their kind in one call, after the per-event subscribers."""
    records = sqs_event.get("Records") or []
    batches: dict[str, list[Event]] = {}
    for record in records:
        event = Event.from_json(record["body"])
        for sub in subscriptions(type(event)):
            if not sub.queued:
                continue
            if sub.batch:
                batches.setdefault(sub.target, []).append(event)
            else:
                _call(sub.target, event)
    for target, batch in batches.items():
        module, _, name = target.partition(":")
        getattr(importlib.import_module(module), name)(batch)
    return len(records)
