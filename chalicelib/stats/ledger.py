"""A repository's download ledger: its packages' download counts, in items shared by all its packages.

A download of a package nobody else downloaded that day cannot pay for an item of its own (one write
unit is $0.625 per million, half the CDN download's budget), so the rollup writes, per chunk and
repository, one **chunk item** holding every package's downloads of the chunk by minute, country and
version (``c#<day>#<chunk>#<part>``, TTL ``CHUNK_RETENTION``), and an hour after a day ends
(``SETTLE``) the rollup **compacts** the day's chunk items of each repository into **day items**
(``d#<day>#<through>#<part>``: counts by country and version, the chunks up to ``through``). Late
chunks of a compacted day (a CDN log delivered late) make another day item covering the chunks after
the last one; day items are never rewritten. Payloads are gzip JSON, split into parts of at most
``PART_BYTES``; part 0 of a day item is written last and names the count of parts, so a day item whose
part 0 is missing (a crash half-way) is ignored and made again.

A package's statistics read its repository's day items for whole days, and chunk items for the
chunks no day item covers yet and for minute resolution (the last 24 hours): ``package_counts``.

Example::

    write_chunk("2026-12-03T10:00:00", repo_id, {"2026-12-03": {"pkg": {("10:00", "US", "1.0"): 3}}})
    compact(until=now(), done="2026-12-03T10:00:00")
    package_counts(repo_id, "pkg", "2026-12-01", "2026-12-03", minute_days={})
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib import db
from chalicelib.stats.models import CHUNK_RETENTION, COMPACT_KEY, Stat, repo_ledger_key
from chalicelib.timefmt import read_iso

#: The largest uncompressed payload of one item (DynamoDB's item limit is 400 KB).
PART_BYTES = 300_000
#: How long after a day ends its chunk items are compacted (late CDN logs arrive in the meantime).
SETTLE = timedelta(hours=1)
#: Chunk items are looked for in the days this close to today (``CHUNK_RETENTION`` + TTL deletion lag).
CHUNK_DAYS = CHUNK_RETENTION.days + 2

#: ``{package: {(minute "HH:MM", country, version): downloads}}`` of one repository, day and chunk.
Minutes = dict[str, dict[tuple[str, str, str], int]]


def entries(packages: dict[str, dict[tuple, int]]) -> dict[str, list[list]]:
    """A payload's form of per-package counts: ``{package: [[*key, count], ...]}``, keys in order."""
    return {name: [[*key, n] for key, n in sorted(counts.items())] for name, counts in packages.items()}


def encode_parts(packages: dict[str, list[list]]) -> list[bytes]:
    """``packages`` as gzip JSON payloads of at most ``PART_BYTES`` each (byte-identical for the same
    input: a re-run writes the same items)."""
    parts: list[dict[str, list[list]]] = [{}]
    size = 0
    for name in sorted(packages):
        entry = len(json.dumps({name: packages[name]}, separators=(",", ":")))
        if parts[-1] and size + entry > PART_BYTES:
            parts.append({})
            size = 0
        parts[-1][name] = packages[name]
        size += entry
    return [
        gzip.compress(json.dumps(part, separators=(",", ":"), sort_keys=True).encode(), mtime=0)
        for part in parts
    ]


def _decode(item: Stat) -> dict[str, list[list]]:
    return json.loads(gzip.decompress(item.payload)) if item.payload else {}


def _put_once(item: Stat) -> bool:
    """Write ``item`` unless it exists (same key, same content: a re-run's); whether it was written."""
    try:
        item.save(condition=Stat.key.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def _mark(day: str, repo_id: str, chunk: str) -> None:
    """Note that ``repo_id`` has chunk items of ``day`` up to ``chunk`` to compact."""
    try:
        Stat(COMPACT_KEY, f"{day}#{repo_id}").update(
            actions=[Stat.applied.set(chunk)],
            condition=Stat.applied.does_not_exist() | (Stat.applied < chunk),
        )
    except UpdateError as error:
        if not db.condition_failed(error):  # a later chunk marked it already
            raise


def write_chunk(chunk: str, repo_id: str, days: dict[str, Minutes]) -> tuple[int, int]:
    """The chunk items of ``repo_id`` for ``chunk`` (one per day its downloads fall on, in parts),
    each written once; the compaction mark first, so no chunk item is left uncompacted.
    Returns (items written, items that existed already)."""
    written = skipped = 0
    expires = read_iso(chunk + "Z") + CHUNK_RETENTION
    key = repo_ledger_key(repo_id)
    for when, packages in sorted(days.items()):
        _mark(when, repo_id, chunk)
        for index, payload in enumerate(encode_parts(entries(packages))):
            item = Stat(key, f"c#{when}#{chunk}#{index}", payload=payload, expires_at=expires)
            if _put_once(item):
                written += 1
            else:
                skipped += 1
    return written, skipped


def _day_items(key: str, low: str, high: str, consistent: bool = False) -> dict[str, dict[str, list[Stat]]]:
    """The complete day items of days ``low``…``high``: ``{day: {through: [parts]}}`` (a day item
    without its part 0, or with fewer parts than part 0 names, is left out)."""
    found: dict[str, dict[str, list[Stat]]] = defaultdict(lambda: defaultdict(list))
    periods = Stat.period.between(f"d#{low}", f"d#{high}~")
    for item in Stat.query(key, periods, consistent_read=consistent):
        _, when, through, _ = item.period.split("#")
        found[when][through].append(item)
    complete: dict[str, dict[str, list[Stat]]] = {}
    for when, deltas in found.items():
        for through, parts in deltas.items():
            heads = [p for p in parts if p.period.endswith("#0") and p.parts]
            if heads and len(parts) >= int(heads[0].parts):
                complete.setdefault(when, {})[through] = parts
    return complete


def _chunk_items(key: str, when: str, after: str, until: str = "~", consistent: bool = False) -> list[Stat]:
    """The chunk items of ``when`` with a chunk after ``after`` ("" for all) and up to ``until``."""
    low = f"c#{when}#{after}#~" if after else f"c#{when}#"
    periods = Stat.period.between(low, f"c#{when}#{until}#~")
    return list(Stat.query(key, periods, consistent_read=consistent))


def _compact_day(repo_id: str, when: str, done: str, latest: str) -> int:
    """One day item of ``repo_id``'s chunk items of ``when`` after its last day item, up to chunk
    ``done`` (consistent reads: every item up to ``done`` is written, so all are seen); then the mark
    goes, unless it names a chunk after ``done`` (written meanwhile: the next run's). Items written."""
    key = repo_ledger_key(repo_id)
    covered = max(_day_items(key, when, when, consistent=True).get(when, {}), default="")
    sums: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    through = ""
    for item in _chunk_items(key, when, covered, done, consistent=True):
        through = max(through, item.period.split("#")[2])
        for name, rows in _decode(item).items():
            for _, cc, version, n in rows:
                sums[name][(cc, version)] += n
    written = 0
    if through:
        parts = encode_parts(entries(sums))
        for index in reversed(range(len(parts))):  # part 0 last: it says the day item is complete
            item = Stat(key, f"d#{when}#{through}#{index}", payload=parts[index])
            if index == 0:
                item.parts = len(parts)
            item.save()
            written += 1
    if latest <= done:
        try:
            Stat(COMPACT_KEY, f"{when}#{repo_id}").delete(condition=Stat.applied <= done)
        except DeleteError as error:
            if not db.condition_failed(error):
                raise
    return written


def compact(until: datetime, done: str) -> int:
    """Compact the marked repository days that ended ``SETTLE`` before ``until``, up to chunk ``done``
    (the last chunk whose items are all written). Items written."""
    written = 0
    for mark in Stat.query(COMPACT_KEY):
        when, repo_id = mark.period.split("#", 1)
        if read_iso(when + "T00:00:00Z") + timedelta(days=1) + SETTLE <= until:
            written += _compact_day(repo_id, when, done, mark.applied or "")
    return written


def package_counts(
    repo_id: str, package: str, first: str, last: str, minute_days: dict[str, tuple[str, str]], today: str
) -> dict[tuple[str, str, str], int]:
    """Downloads of ``package`` on days ``first``…``last``: ``{(day, country, version): count}``. A day
    in ``minute_days`` (``{day: (low, high)}``, ``YYYY-MM-DDTHH:MM``) counts the minutes within its
    bounds only, from the chunk items; other days their day items plus the chunk items after them."""
    key = repo_ledger_key(repo_id)
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    covered: dict[str, str] = {}
    for when, deltas in _day_items(key, first, last).items():
        covered[when] = max(deltas)
        if when in minute_days:
            continue
        for parts in deltas.values():
            for item in parts:
                for cc, version, n in _decode(item).get(package, ()):
                    out[(when, cc, version)] += n
    oldest = (read_iso(today + "T00:00:00Z") - timedelta(days=CHUNK_DAYS)).strftime("%Y-%m-%d")
    cursor = read_iso(max(first, oldest) + "T00:00:00Z")
    while (when := cursor.strftime("%Y-%m-%d")) <= last:
        bounds = minute_days.get(when)
        for item in _chunk_items(key, when, "" if bounds else covered.get(when, "")):
            for at, cc, version, n in _decode(item).get(package, ()):
                if bounds is None or bounds[0] <= f"{when}T{at}" <= bounds[1]:
                    out[(when, cc, version)] += n
        cursor += timedelta(days=1)
    return out
