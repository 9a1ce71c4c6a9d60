"""``make bench``, download statistics: the recorder and the rollup (chalicelib/stats).

Measured against the local AWS (moto), operations counted at PynamoDB's ``Connection.dispatch``:

1. events aggregated per second on one core: the rollup's in-memory aggregation (``rollup.aggregate``)
   of synthetic events, and the whole rollup (Queries + writes against moto, which is far slower
   than DynamoDB per call);
2. DynamoDB operations per 1,000 downloads of one hot file and of 1,000 different files: recorder
   (conditional puts, pending marks) and rollup (conditional UpdateItems), through the real code;
3. a simulated day of 1,000,000 downloads over 10,000 files (uniform, 5 countries): the rollup's write
   units per 60 s chunk (shared rows, the repository's ledger chunk item by its size) are counted
   exactly from ``aggregate`` for a sample of chunks and extrapolated to the day's 1,440 chunks, plus
   the day's compaction; its time = aggregation CPU + writes at an assumed DynamoDB latency;
4. cost per million downloads at AWS list prices (``bench/prices.py``: us-east-1, on-demand).
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta
from typing import Any

from bench import prices

#: Per unit, from the list prices of ``bench/prices.py`` (the only copy; USD, us-east-1).
PRICE_WRITE = prices.DYNAMODB_PER_MILLION_WRU / prices.MILLION  # per write request unit (≤ 1 KB)
PRICE_READ = prices.DYNAMODB_PER_MILLION_RRU / prices.MILLION  # per read unit (≤ 4 KB; eventual: half)
PRICE_STORAGE_GB_MONTH = prices.DYNAMODB_STORAGE_PER_GB_MONTH
PRICE_SQS = prices.SQS_PER_MILLION_REQUESTS / prices.MILLION  # per request (64 KB chunk)
PRICE_LAMBDA_REQUEST = prices.LAMBDA_PER_MILLION_REQUESTS / prices.MILLION
PRICE_LAMBDA_GB_SECOND = prices.LAMBDA_PER_GB_SECOND
#: Assumed DynamoDB UpdateItem latency in-region (the rollup writes ``rollup.WRITERS`` rows at once).
WRITE_LATENCY_S = 0.006
COUNTRIES = ("US", "DE", "GB", "JP", "FR")


def _events(n: int, files: int, repo_id: str = "r1", owner: str = "acme") -> list[Any]:
    from chalicelib.stats.models import DownloadEvent
    from chalicelib.timefmt import now

    at = now()
    out = []
    for i in range(n):
        f = i % files
        out.append(
            DownloadEvent(
                uuid.uuid4().hex,
                at=at + timedelta(milliseconds=i),
                owner=owner,
                repo="repo",
                repo_id=repo_id,
                package=f"p{f % 1000}",
                version=f"{f // 1000}.0",
                path=f"p{f % 1000}/{f // 1000}.0/f{f}.bin",
                size=1000,
                country=COUNTRIES[i % len(COUNTRIES)],
                business_unit="bu",
            )
        )
    return out


def aggregation_rate(n: int = 50_000) -> float:
    """Events per second through ``rollup.aggregate`` on one core."""
    from chalicelib.stats.rollup import aggregate

    events = _events(n, 10_000)
    started = time.process_time()
    aggregate(events)
    return n / (time.process_time() - started)


def _downloaded(n: int, files: int, repo_id: str, owner: str) -> list[Any]:
    from chalicelib.events import Downloaded

    ips = ("8.8.8.8", "5.9.0.1", "81.2.69.160", "133.242.0.1", "2.16.0.1")
    return [
        Downloaded(
            owner=owner,
            repo="repo",
            repo_id=repo_id,
            package=f"p{(i % files) % 1000}",
            version="1.0",
            path=f"f{i % files}.bin",
            size=1000,
            ip=ips[i % len(ips)],
            business_unit="bu",
        )
        for i in range(n)
    ]


def pipeline(n: int, files: int, offset: timedelta) -> dict[str, Any]:
    """Record ``n`` downloads over ``files`` files in SQS batches of 10 (ingested ``offset`` from now:
    each run in a chunk of its own), then roll them up; the DynamoDB operations of each stage, and
    the rollup's wall time against moto."""
    from chalicelib.stats import recording, rollup
    from chalicelib.timefmt import now
    from infra.local.opcount import count_operations

    owner, repo_id = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    events = _downloaded(n, files, repo_id, owner)
    recording._marked.clear()
    at = now() + offset
    recording.now = lambda: at
    try:
        with count_operations() as recorded:
            for start in range(0, n, 10):
                recording.record(events[start : start + 10])
    finally:
        recording.now = now
    until = at + timedelta(seconds=rollup.chunk_seconds() + 1)
    with count_operations() as rolled:
        started = time.perf_counter()
        report = rollup.run(until=until)
        seconds = time.perf_counter() - started
    return {"record": dict(recorded), "rollup": dict(rolled), "report": report, "seconds": seconds}


def _item_units(entries: dict[str, list[list]]) -> int:
    """Write units of a ledger item with ``entries`` (its parts, 1 KB units) and of its mark (1)."""
    from chalicelib.stats import ledger

    return 1 + sum(-(-len(part) // 1024) for part in ledger.encode_parts(entries))


def simulated_day(downloads: int = 1_000_000, files: int = 10_000, sample_chunks: int = 24) -> dict:
    """Write units and CPU of a day's rollup, from ``sample_chunks`` chunks of 60 s extrapolated: per
    chunk the shared aggregate rows (one unit each), the repository's ledger chunk item (its gzip
    payload's size, in 1 KB units) and its compaction mark; once a day the compaction's day item (every
    package, country and version of the day: all of them, at this rate) and the mark's delete."""
    from chalicelib.stats import ledger
    from chalicelib.stats.rollup import aggregate

    chunks = 24 * 60
    per_chunk = downloads // chunks
    units = 0
    cpu = 0.0
    rng = random.Random(7)
    for _ in range(sample_chunks):
        events = _events(per_chunk, files)
        for event in events:  # uniform over the files
            f = rng.randrange(files)
            event.package, event.version, event.path = f"p{f % 1000}", f"{f // 1000}.0", f"f{f}.bin"
        started = time.process_time()
        totals = aggregate(events)
        cpu += time.process_time() - started
        units += len(totals.rows)
        for days in totals.packages.values():
            for packages in days.values():
                units += _item_units(ledger.entries(packages))
    scale = chunks / sample_chunks
    per_package = downloads // (files * len(COUNTRIES))
    day_entries = {
        f"p{p}": [[cc, f"{v}.0", per_package] for cc in sorted(COUNTRIES) for v in range(files // 1000)]
        for p in range(1000)
    }
    day_units = _item_units(day_entries)
    writes = units * scale + day_units
    return {
        "per_chunk": per_chunk,
        "writes": writes,
        "cpu_s": cpu * scale,
        "write_s": (len(totals.rows) + 2) * chunks * WRITE_LATENCY_S,
        "sample_chunks": sample_chunks,
    }


def cost_per_million(rollup_writes_per_download: float) -> dict[str, float]:
    """USD per million downloads of this path (recording + rollup + raw-event storage)."""
    m = 1e6
    # Each raw event: 1 write to the table + 1 to bucket_index (items < 1 KB); pending marks are one
    # per container and 10 s bucket (negligible). Reads: the rollup's GSI Query, 1 RRU per 4 KB ≈ 8
    # events, eventually consistent (half).
    record_writes = 2 * m
    rollup_writes = rollup_writes_per_download * m
    reads = m / 8 / 2
    # SQS: one SendMessage per download, ReceiveMessage + DeleteMessageBatch per batch of 10.
    sqs = m * (1 + 2 / 10)
    # Lambda: one invocation per batch of 10 (128 MB, ~60 ms with 10 conditional puts), plus the
    # rollup (1,440 runs a day, not per download: ignored here).
    invocations = m / 10
    lambda_cost = invocations * PRICE_LAMBDA_REQUEST + invocations * 0.128 * 0.060 * PRICE_LAMBDA_GB_SECOND
    # Raw events kept 30 days: ~350 bytes + ~100 bytes of item overhead, table and GSI.
    storage_gb = m * 450 * 2 / 1e9
    return {
        "dynamodb_writes": (record_writes + rollup_writes) * PRICE_WRITE,
        "dynamodb_reads": reads * PRICE_READ,
        "sqs": sqs * PRICE_SQS,
        "lambda": lambda_cost,
        "raw_storage_month": storage_gb * PRICE_STORAGE_GB_MONTH,
    }


def _ops(counter: dict[str, int]) -> str:
    total = sum(counter.values())
    return f"{total:,} (" + ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items())) + ")"


def report() -> None:
    """Print the statistics section of ``make bench`` (after ``bench.start()``)."""
    from chalicelib.stats.rollup import WRITERS

    rate = aggregation_rate()
    chunk = timedelta(seconds=120)
    hot = pipeline(1000, 1, chunk)
    spread = pipeline(1000, 1000, 2 * chunk)
    day = simulated_day()
    print("\nDownload statistics (chalicelib/stats)\n")
    print(f"- aggregation on one core: {rate:,.0f} events/s (`rollup.aggregate`, CPU time)")
    for label, run in (("1 hot file", hot), ("1,000 different files", spread)):
        events = run["report"].events
        print(
            f"- 1,000 downloads of {label}: recorder {_ops(run['record'])}; rollup {_ops(run['rollup'])}, "
            f"of which {run['report'].writes:,} aggregate writes; rollup against moto "
            f"{run['seconds']:.2f} s ({events / run['seconds']:,.0f} events/s)"
        )
    per_download = day["writes"] / 1e6
    print(
        f"- simulated day, 1,000,000 downloads over 10,000 files ({day['per_chunk']} per 60 s chunk; "
        f"{day['sample_chunks']} chunks aggregated, extrapolated to 1,440): rollup writes "
        f"{day['writes']:,.0f} ({per_download:.2f} per download), aggregation CPU {day['cpu_s']:.1f} s, "
        f"writes at {WRITE_LATENCY_S * 1000:.0f} ms each with {WRITERS} concurrent writers "
        f"{day['write_s'] / WRITERS / 60:.0f} min in the day ({day['write_s'] / WRITERS / 1440:.1f} s per "
        f"one-minute run)"
    )
    costs = cost_per_million(per_download)
    total = sum(costs.values())
    parts = ", ".join(f"{k} ${v:.2f}" for k, v in costs.items())
    print(f"- cost per million downloads (that day's mix, list prices): ${total:.2f} ({parts})")
