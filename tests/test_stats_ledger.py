"""The repositories' download ledger (chalicelib/stats/ledger.py): a repository's packages share one
chunk item per chunk, compacted into day items an hour after the day ends. Downloads of an earlier
day arrive through CloudFront's logs (their lines carry the download's time); the statistics answer
the same before the compaction, after it, once the chunk items expired, after a late log file for a
compacted day, after a crash half-way through a compaction and after rolling everything up again."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from chalicelib import events, storage
from chalicelib.cdn import logs
from chalicelib.config import settings
from chalicelib.repositories.models import Repository
from chalicelib.stats import ledger, recording, rollup
from chalicelib.stats.models import COMPACT_KEY, ROLLUP_KEY, Stat, repo_ledger_key
from chalicelib.timefmt import iso, now
from tests.conftest import ADMIN, deliver
from tests.test_cdn import _line, _log_file

LOG_BUCKET = "shelf-test-ledger-logs"
GB, US, DE = "81.2.69.160", "8.8.8.8", "5.9.0.1"
#: The day of the downloads: long enough ago to be compacted, within the chunk items' retention.
DAY = (now() - timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)


def roll_up() -> rollup.Report:
    return rollup.run(until=now() + timedelta(seconds=rollup.chunk_seconds() + 1))


@pytest.fixture(scope="module")
def scene(api):
    from tests.conftest import World

    world = World(api)
    owner = world.user()
    org = world.org(owner, plan="enterprise")
    repo = world.repo(org)
    queued: list[events.Event] = []
    storage.s3().create_bucket(Bucket=LOG_BUCKET)
    configured = dataclasses.replace(settings(), cdn_log_bucket=LOG_BUCKET)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events, "sender", queued.append)
        for package, name in (("pkg", "a.bin"), ("pkg2", "b.bin")):
            world.package(org, repo, name=package)
            response = api.put(f"/content/{org}/{repo}/{package}/1.0/{name};publish=1", ADMIN, data=b"x" * 10)
            assert response.status_code == 201, response.text
        deliver(queued)
    recording._marked.clear()
    roll_up()  # what earlier tests recorded
    return {
        "owner": owner,
        "org": org,
        "repo": repo,
        "repo_id": Repository.get(org, repo).id,
        "queued": queued,
        "settings": configured,
    }


def cdn_downloads(scene, monkeypatch, *downloads: tuple[str, str, str]) -> rollup.Report:
    """Downloads ``(address, file, HH:MM:SS on DAY)`` in one CloudFront log file, read, recorded and
    rolled up (in a chunk after the last one)."""
    org, repo = scene["org"], scene["repo"]
    lines = []
    for i, (ip, name, at) in enumerate(downloads):
        line = _line("GET", f"/dl/{org}/{repo}/{name}", 200, f"ledger-{at}-{i}==", ip=ip)
        lines.append(line.replace("2026-12-01\t23:59:58", f"{DAY:%Y-%m-%d}\t{at}"))
    queued: list[events.Event] = []
    monkeypatch.setattr(events, "sender", queued.append)
    monkeypatch.setattr(logs, "settings", lambda: scene["settings"])
    key = f"cloudfront/E2EXAMPLE.{DAY:%Y-%m-%d}-12.{len(lines)}{downloads[0][2][:2]}.gz"
    storage.s3().put_object(Bucket=LOG_BUCKET, Key=key, Body=_log_file(*lines))
    assert logs.process_logs() == len(downloads)
    mark = rollup.watermark()
    later = max(now(), rollup.read_iso(mark + "Z") if mark else now()) + timedelta(
        seconds=rollup.chunk_seconds()
    )
    monkeypatch.setattr(recording, "now", lambda: later)
    deliver(queued)
    return rollup.run(until=later + timedelta(seconds=rollup.chunk_seconds() + 1))


def numbers(api, scene) -> dict:
    """The package statistics over the week around DAY (day resolution) and within DAY's afternoon."""
    week = {"from": iso(DAY - timedelta(days=2)), "to": iso(now())}
    out = {}
    for package in ("pkg", "pkg2"):
        base = f"/packages/{scene['org']}/{scene['repo']}/{package}/stats"
        for report in ("time_range_downloads", "total_downloads", "country_downloads"):
            response = api.post(f"{base}/{report}", scene["owner"].auth, json=week)
            assert response.status_code == 200, response.text
            out[(package, report)] = response.json()["records"]
    return out


def marks(scene) -> list[Stat]:
    """The repository's days still to compact."""
    return [m for m in Stat.query(COMPACT_KEY) if m.period.endswith("#" + scene["repo_id"])]


def items(scene, prefix: str) -> list[Stat]:
    return [i for i in Stat.query(repo_ledger_key(scene["repo_id"])) if i.period.startswith(prefix)]


def expected(pkg: dict[str, int], pkg2: int) -> dict:
    date = f"{DAY:%Y/%m/%d}"
    total = sum(pkg.values())
    countries = [{"country": c, "count": n} for c, n in sorted(pkg.items(), key=lambda i: (-i[1], i[0]))]
    return {
        ("pkg", "time_range_downloads"): [{"date": date, "downloads": [{"version": "1.0", "count": total}]}],
        ("pkg", "total_downloads"): [{"version": "1.0", "count": total}],
        ("pkg", "country_downloads"): countries,
        ("pkg2", "time_range_downloads"): [{"date": date, "downloads": [{"version": "1.0", "count": pkg2}]}],
        ("pkg2", "total_downloads"): [{"version": "1.0", "count": pkg2}],
        ("pkg2", "country_downloads"): [{"country": "US", "count": pkg2}],
    }


def test_a_past_day_is_compacted_into_one_day_item(api, scene, monkeypatch):
    report = cdn_downloads(
        scene, monkeypatch, (GB, "a.bin", "12:00:01"), (GB, "a.bin", "12:03:00"), (US, "b.bin", "13:00:00")
    )
    assert report.events == 3 and report.compacted == 1
    [day_item] = items(scene, f"d#{DAY:%Y-%m-%d}#")
    assert day_item.parts == 1
    assert len(items(scene, f"c#{DAY:%Y-%m-%d}#")) == 1  # both packages in one chunk item
    assert not marks(scene)  # nothing left to compact
    assert numbers(api, scene) == expected({"GB": 2}, 1)


def test_the_day_items_answer_once_the_chunk_items_expired(api, scene):
    before = numbers(api, scene)
    chunk_items = items(scene, f"c#{DAY:%Y-%m-%d}#")
    for item in chunk_items:
        item.delete()  # what the TTL does after CHUNK_RETENTION
    assert numbers(api, scene) == before == expected({"GB": 2}, 1)
    for item in chunk_items:
        item.save()  # for the tests below (rolling up again would write them again)


def test_a_late_log_file_for_a_compacted_day_adds_a_day_item(api, scene, monkeypatch):
    report = cdn_downloads(scene, monkeypatch, (DE, "a.bin", "23:59:00"))
    assert report.compacted == 1
    assert len(items(scene, f"d#{DAY:%Y-%m-%d}#")) == 2  # the first day item is never rewritten
    assert numbers(api, scene) == expected({"GB": 2, "DE": 1}, 1)


def test_a_crash_half_way_through_a_compaction_loses_nothing(api, scene, monkeypatch):
    monkeypatch.setattr(ledger, "PART_BYTES", 1)  # a day item part per package: two parts
    real_save = Stat.save

    def failing_save(self, *args, **kwargs):
        if self.period.startswith("d#") and self.period.endswith("#0"):
            raise RuntimeError("DynamoDB is unavailable")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Stat, "save", failing_save)
    with pytest.raises(RuntimeError):
        cdn_downloads(scene, monkeypatch, (US, "b.bin", "20:00:00"), (GB, "a.bin", "20:00:00"))
    assert numbers(api, scene) == expected({"GB": 3, "DE": 1}, 2)  # from the chunk item meanwhile
    assert marks(scene)  # still to compact
    monkeypatch.setattr(Stat, "save", real_save)
    assert roll_up().compacted == 2  # the same day item again, whole this time
    assert numbers(api, scene) == expected({"GB": 3, "DE": 1}, 2)
    assert not marks(scene)


def test_rolling_everything_up_again_changes_nothing(api, scene):
    before = numbers(api, scene)
    day_items = len(items(scene, "d#"))
    Stat(ROLLUP_KEY, "-").delete()  # every chunk again
    report = roll_up()
    assert report.writes == 0 and report.compacted == 0
    assert len(items(scene, "d#")) == day_items
    assert numbers(api, scene) == before
    assert not marks(scene)
