"""A short ``make load`` (bench/load.py): 2 publishers and 2 downloaders for 3 s against the suite's
gateway, with lifecycle events queued and pumped in the background and the download rollup run before
each check round, as ``make serve`` does on its schedule. Keeps the tool from rotting: the same checks
as the long run (no unexpected status, sha256 of every download, no lost update)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

import pytest

import app as app_module
from bench import load
from chalicelib import eventbus, events, queues
from chalicelib.stats import rollup
from chalicelib.timefmt import now
from infra.local.events import EventPump
from tests.conftest import ADMIN


@pytest.fixture(scope="module")
def background() -> Iterator[EventPump]:
    """Queued subscribers run from the events queue, large uploads are finished from theirs."""
    pump = EventPump(
        {
            queues.UPLOAD_EVENTS: app_module.upload_events,
            queues.EVENTS: eventbus.lifecycle_events,
            queues.INDEXES: app_module.index_calculations,
        }
    )
    pump.drain()
    sender, events.sender = events.sender, eventbus.send
    thread = threading.Thread(target=pump.run_forever, daemon=True)
    thread.start()
    yield pump
    pump.stop()
    thread.join(timeout=30)
    events.sender = sender


def roll_up(pump: EventPump) -> None:
    """What the schedule does, without waiting for the chunk to close: so first the downloads queued
    so far are recorded (one recorded into a chunk already rolled up would never be counted)."""
    pump.wait_quiet()
    rollup.run(until=now() + timedelta(seconds=rollup.chunk_seconds() + 1))


def test_a_short_load_run_has_no_error_and_no_lost_update(api, background):
    run, mismatches = load.run(
        [api.base_url],
        ADMIN,
        publishers=2,
        downloaders=2,
        seconds=2.5,
        seed=7,
        large_every=5,
        settle=20,
        between=partial(roll_up, background),
    )
    recorder = run.client.recorder
    assert recorder.errors == [] and mismatches == [], (recorder.errors, mismatches)
    kinds = set(recorder.latencies)
    assert {"upload", "publish", "s3_get"} <= kinds, kinds
    assert run.ledger.verified > 0 and sum(run.ledger.downloads.values()) >= run.ledger.verified
    table = recorder.table(run.wall)
    assert "| upload |" in table and "requests/s; 0 errors" in table

    # The checks see a lost update: the ledger says a label was set that the API never got.
    package = next(p for p in run.ledger.packages.values() if p.owner == 0)
    package.labels = [*package.labels, "never-sent"]
    assert any("labels" in m for m in run.package_mismatches(package)), "the checks must notice a lost label"


def test_the_load_run_refuses_other_hosts():
    with pytest.raises(SystemExit, match="loopback"):
        load.check_loopback("http://example.com:8000")
    load.check_loopback("http://127.0.0.1:8000")
    load.check_loopback("http://localhost:8000")
