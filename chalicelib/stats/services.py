"""Statistics and usage reports (spec: Statistics & Usage Report), read from the rollup's aggregate
rows and the storage counters (``models.py``): one Query per key and resolution, never a Scan.

Time ranges: within the last 24 hours the bounds are honoured to the minute (the ledger's chunk items); a
``from`` earlier than that is moved to the beginning of its day, and days are counted whole (day items),
as the spec says. Usage reports are monthly periods between ``from`` and ``to``.

Example::

    downloads_by_day(repo, "pkg", None, TimeRange.parse(body))   # {"from", "to", "records": [...]}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from chalicelib import business_units, db
from chalicelib.accounts.models import Subject
from chalicelib.errors import BadRequest
from chalicelib.packages.models import Package, Version
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository
from chalicelib.stats import ledger, storage
from chalicelib.stats.models import (
    Stat,
    day,
    minute,
    month,
    repo_key,
    storage_key,
    subject_key,
)
from chalicelib.stats.rollup import UNKNOWN_COUNTRY
from chalicelib.timefmt import iso, now, parse_iso
from chalicelib.validation import Body, Field

#: Minute rows cover the last 24 hours.
MINUTE_WINDOW = timedelta(hours=24)
#: The longest usage report (monthly periods).
MAX_MONTHS = 120
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
#: How an unknown country is reported.
UNKNOWN = "Unknown"


class RangeBody(Body):
    """``{"from": ISO 8601, "to": ISO 8601}`` (both optional: the last 30 days up to now)."""

    from_: str | None = Field(default=None, alias="from", max_length=64)
    to: str | None = Field(default=None, max_length=64)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, body: RangeBody, default_days: int = 30) -> TimeRange:
        """The body's range; 400 for a timestamp that is not ISO 8601, out of 2000–2199, or reversed."""
        end = parse_iso(body.to, "to") if body.to else now()
        start = parse_iso(body.from_, "from") if body.from_ else end - timedelta(days=default_days)
        for value, name in ((start, "from"), (end, "to")):
            if not EARLIEST <= value < LATEST:
                raise BadRequest(f"'{name}' must be between 2000 and 2199")
        if start > end:
            raise BadRequest("'from' must not be after 'to'")
        return cls(start, end)


def _rows(key: str, low: str, high: str) -> Iterable[Stat]:
    return Stat.query(key, Stat.period.between(low, high + "~"))


def _day_start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def effective(span: TimeRange) -> TimeRange:
    """The spec's resolution: a ``from`` before the last 24 hours moves to the beginning of its day."""
    if span.start < now() - MINUTE_WINDOW:
        return TimeRange(_day_start(span.start), span.end)
    return span


def _counts(repo: Repository, package: Package, span: TimeRange, version: str | None) -> dict:
    """Downloads of ``package`` in ``span``: ``{(day, country, version): count}``, of ``version`` only
    when given, from its repository's ledger (``ledger.package_counts``: whole days from the day items,
    the partial days at the ends, when they lie in the last 24 hours, to the minute from the chunk
    items; else whole days: day resolution). Per-version and per-country figures are sums of these."""
    window = now() - MINUTE_WINDOW
    first, last = _day_start(span.start), _day_start(span.end)
    minute_days: dict[str, tuple[str, str]] = {}
    for edge in {first, last}:
        low = max(span.start, edge)
        high = min(span.end, edge + timedelta(days=1) - timedelta(minutes=1))
        whole = low == edge and high >= edge + timedelta(days=1) - timedelta(minutes=1)
        if not whole and low >= window.replace(second=0, microsecond=0):
            minute_days[day(edge)] = (minute(low), minute(high))
    counts = ledger.package_counts(repo.id, package.name, day(first), day(last), minute_days, day(now()))
    if version is None:
        return counts
    return {found: count for found, count in counts.items() if found[2] == version}


def _check_version(package: Package, version: str | None) -> None:
    if version is not None:
        db.get_or_404(Version, package.id, version, missing=f"Version '{version}' was not found")


def package_of(repo: Repository, name: str) -> Package:
    return db.get_or_404(Package, repo.id, name, missing=f"Package '{name}' was not found")


def _answer(span: TimeRange, records: list) -> dict:
    return {"from": iso(span.start), "to": iso(span.end), "records": records}


def downloads_by_day(repo: Repository, package: Package, version: str | None, span: TimeRange) -> dict:
    """Get Daily Downloads: records by date (``yyyy/MM/dd``) with the count per version."""
    _check_version(package, version)
    span = effective(span)
    by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts = _counts(repo, package, span, version)
    for (when, _, name), count in counts.items():
        by_day[when][name] += count
    records = [
        {
            "date": when.replace("-", "/"),
            "downloads": [{"version": v, "count": c} for v, c in sorted(versions.items())],
        }
        for when, versions in sorted(by_day.items())
    ]
    return _answer(span, records)


def total_downloads(repo: Repository, package: Package, version: str | None, span: TimeRange) -> dict:
    """Get Total Downloads: the count per version in the range."""
    _check_version(package, version)
    span = effective(span)
    totals: dict[str, int] = defaultdict(int)
    counts = _counts(repo, package, span, version)
    for (_, _, name), count in counts.items():
        totals[name] += count
    records = [{"version": v, "count": c} for v, c in sorted(totals.items())]
    if version is not None and not records:
        records = [{"version": version, "count": 0}]
    return _answer(span, records)


def country_downloads(repo: Repository, package: Package, version: str | None, span: TimeRange) -> dict:
    """Get Downloads by Country: the count per country (ISO 3166-1 alpha-2) in the range, most first."""
    _check_version(package, version)
    span = effective(span)
    totals: dict[str, int] = defaultdict(int)
    counts = _counts(repo, package, span, version)
    for (_, country, _), count in counts.items():
        totals[UNKNOWN if country == UNKNOWN_COUNTRY else country] += count
    records = [{"country": c, "count": n} for c, n in sorted(totals.items(), key=lambda i: (-i[1], i[0]))]
    return _answer(span, records)


# --- usage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    partial: bool


def periods(span: TimeRange) -> list[Period]:
    """The monthly periods of ``span``; a period not covering its whole month is partial."""
    out: list[Period] = []
    cursor = span.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while cursor < span.end or not out:
        following = (cursor + timedelta(days=32)).replace(day=1)
        start, end = max(cursor, span.start), min(following, span.end)
        out.append(Period(start, end, start != cursor or end != following))
        cursor = following
        if len(out) > MAX_MONTHS:
            raise BadRequest(f"A usage report covers at most {MAX_MONTHS} months")
    return out


def _monthly_bytes(
    key: str, spans: list[Period], month_prefix: str = "M", day_prefix: str = "d"
) -> dict[tuple[int, str], int]:
    """Bytes downloaded under ``key`` per period: ``{(period index, sub): bytes}`` (``sub``: what
    follows the time in the row's period, e.g. a business unit, or ""). Month rows for whole months
    (one Query), day rows for the partial periods (one Query each; only the first and last can be)."""
    out: dict[tuple[int, str], int] = defaultdict(int)
    index = {month(p.start): i for i, p in enumerate(spans) if not p.partial}
    if index:
        low, high = min(index), max(index)
        for row in _rows(key, f"{month_prefix}#{low}", f"{month_prefix}#{high}"):
            _, when, *sub = row.period.split("#", 2)
            if when in index:
                out[(index[when], sub[0] if sub else "")] += int(row.bytes or 0)
    for i, p in enumerate(spans):
        if not p.partial:
            continue
        last = p.end - timedelta(microseconds=1)
        for row in _rows(key, f"{day_prefix}#{day(p.start)}", f"{day_prefix}#{day(last)}"):
            _, _, *sub = row.period.split("#", 2)
            out[(i, sub[0] if sub else "")] += int(row.bytes or 0)
    return out


def _percentage(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 8) if whole else 0


def _period_fields(period: Period) -> dict:
    return {"from": iso(period.start), "to": iso(period.end), "partial_period": period.partial}


def subject_usage(subject: Subject, span: TimeRange) -> list[dict]:
    """Get Usage Report For Subject: per month, download and storage bytes."""
    spans = periods(span)
    downloads = _monthly_bytes(subject_key(subject.name), spans)
    stored = storage.storage_at(subject.name, ["total"], [p.end for p in spans])
    return [
        {**_period_fields(p), "download_bytes": downloads[(i, "")], "storage_bytes": stored[("total", i)]}
        for i, p in enumerate(spans)
    ]


def _shares(owner: str, spans: list[Period], part: dict, scope: str, sub: str = "") -> list[dict]:
    """Download and storage bytes of one part of ``owner`` per period, with its shares of the totals."""
    totals = _monthly_bytes(subject_key(owner), spans)
    stored = storage.storage_at(owner, [scope, "total"], [p.end for p in spans])
    out = []
    for i, p in enumerate(spans):
        downloads = part[(i, sub)]
        out.append(
            {
                **_period_fields(p),
                "download_bytes": downloads,
                "download_percentage": _percentage(downloads, totals[(i, "")]),
                "storage_bytes": stored[(scope, i)],
                "storage_percentage": _percentage(stored[(scope, i)], stored[("total", i)]),
            }
        )
    return out


def repo_usage(repo: Repository, span: TimeRange) -> list[dict]:
    """Get Usage Report For Repository: per month, with percentages of the subject's totals."""
    spans = periods(span)
    part = _monthly_bytes(repo_key(repo.id), spans)
    return [
        {"business_unit": repo.business_unit, **row}
        for row in _shares(repo.owner, spans, part, f"r#{repo.id}")
    ]


def business_unit_usage(subject: Subject, span: TimeRange, unit: str | None = None) -> list[dict]:
    """Get Usage Report Grouped By Business Unit: per unit and month, with percentages."""
    units = [unit] if unit is not None else sorted(business_units.names(subject.name))
    spans = periods(span)
    part = _monthly_bytes(subject_key(subject.name), spans, "bu", "bud")
    out = []
    for name in units:
        for row in _shares(subject.name, spans, part, f"bu#{name}", sub=name):
            out.append({"business_unit": name, **row})
    return out


def package_usage(repo: Repository, package: str | None, start: int, size: int) -> tuple[list[dict], int]:
    """Get Usage Report For Package: current storage bytes and file count per package (paged)."""
    prefix = f"r#{repo.id}#p#"
    if package is not None:
        package_of(repo, package)
        try:
            row = Stat.get(storage_key(repo.owner), prefix + package)
            found = [(package, int(row.bytes or 0), int(row.files or 0))]
        except Stat.DoesNotExist:
            found = [(package, 0, 0)]
    else:
        found = [
            (row.period[len(prefix) :], int(row.bytes or 0), int(row.files or 0))
            for row in Stat.query(storage_key(repo.owner), Stat.period.startswith(prefix))
            if int(row.files or 0) > 0
        ]
    items = [{"package": n, "storage_bytes": b, "file_count": f} for n, b, f in found[start : start + size]]
    return items, len(found)
