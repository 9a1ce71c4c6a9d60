"""DynamoDB models of download statistics.

Access patterns (see docs/data-model.md):
- one download event by id (exactly-once recording: conditional put): ``DownloadEvent`` hash ``id``
- downloads of a file or a version per day (statistics): ``DailyDownloads`` hash ``key``, range ``date``
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta


class DownloadEvent(Model):
    """One download: who, what, when, how many bytes, from where. Written once per event id."""

    Meta = table_meta("download_events")

    #: The id of the request that answered the download (the event's id): redelivery is a no-op.
    id = UnicodeAttribute(hash_key=True)
    at = UTCDateTimeAttribute()
    #: The authenticated user, or None for an anonymous download.
    user = UnicodeAttribute(null=True)
    access_key = UnicodeAttribute(null=True)
    callback_id = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    owner = UnicodeAttribute()
    repo = UnicodeAttribute()
    repo_id = UnicodeAttribute()
    package = UnicodeAttribute()
    version = UnicodeAttribute()
    path = UnicodeAttribute()
    size = NumberAttribute()


class DailyDownloads(Model):
    """Downloads of one file or one version on one UTC day, incremented once per consumer batch.

    ``key`` is ``file#<repo_id>#<path>`` or ``version#<repo_id>#<package>#<version>``.
    """

    Meta = table_meta("daily_downloads")

    key = UnicodeAttribute(hash_key=True)
    #: ``YYYY-MM-DD`` (UTC)
    date = UnicodeAttribute(range_key=True)
    downloads = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    owner = UnicodeAttribute(null=True)
    repo = UnicodeAttribute(null=True)
    package = UnicodeAttribute(null=True)
    version = UnicodeAttribute(null=True)
    path = UnicodeAttribute(null=True)


def file_key(repo_id: str, path: str) -> str:
    return f"file#{repo_id}#{path}"


def version_key(repo_id: str, package: str, version: str) -> str:
    return f"version#{repo_id}#{package}#{version}"


MODELS = (DownloadEvent, DailyDownloads)
