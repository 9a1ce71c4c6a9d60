"""Download statistics and usage reports, end to end: downloads anonymously, by a user and by an access
key from addresses in different countries; the queued events are delivered, the rollup job runs (called
directly), and every report answers exactly those counts. Running the job twice, or again after a
crash half-way, changes no number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import events
from chalicelib.stats import recording, rollup
from chalicelib.stats.models import ROLLUP_KEY, Stat
from chalicelib.timefmt import iso, now
from tests.conftest import ADMIN, assert_message, deliver

GB, US, DE, JP = "81.2.69.160", "8.8.8.8", "5.9.0.1", "133.242.0.1"
SIZES = {"a.bin": 1000, "b.bin": 500, "c.bin": 200}


#: The rollup's chunk: everything recorded until now is in a chunk closed by then.
CHUNK = timedelta(seconds=rollup.chunk_seconds())


def roll_up() -> rollup.Report:
    """Roll up everything recorded so far (the chunks closed, ignoring the lag)."""
    return rollup.run(until=now() + CHUNK + timedelta(seconds=1))


@pytest.fixture(scope="module")
def world(api):
    from tests.conftest import World

    return World(api)


@pytest.fixture(scope="module")
def scene(api, world):
    owner = world.user()
    org = world.org(owner, plan="enterprise")
    member = world.user()
    world.member(org, member, "member")
    repo = world.repo(org, business_unit="bu1")
    other = world.repo(org)
    queued: list[events.Event] = []
    recording._marked.clear()  # marks this process wrote before the local AWS was reset are gone
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events, "sender", queued.append)
        world.package(org, repo, name="pkg")
        for version, name in (("1.0", "a.bin"), ("2.0", "b.bin")):
            body = b"x" * SIZES[name]
            response = api.put(f"/content/{org}/{repo}/pkg/{version}/{name};publish=1", ADMIN, data=body)
            assert response.status_code == 201, response.text
        world.package(org, other, name="tool")
        response = api.put(f"/content/{org}/{other}/tool/1/c.bin;publish=1", ADMIN, data=b"x" * 200)
        assert response.status_code == 201, response.text
        response = api.post(f"/orgs/{org}/access_keys", ADMIN, json={"id": "key"})
        assert response.status_code == 201, response.text
        key = (response.json()["username"], response.json()["password"])
        body = {"id": "rw", "access": "rw", "access_keys": ["key"]}
        response = api.post(f"/packages/{org}/{repo}/pkg/entitlements", ADMIN, json=body)
        assert response.status_code == 201, response.text
        response = api.post(f"/orgs/{org}/access_keys", ADMIN, json={"id": "reader"})
        reader = (response.json()["username"], response.json()["password"])
        body = {"id": "r", "access": "r", "access_keys": ["reader"]}
        assert api.post(f"/packages/{org}/{repo}/pkg/entitlements", ADMIN, json=body).status_code == 201
        downloads = [
            (None, GB, f"{repo}/a.bin"),
            (None, GB, f"{repo}/a.bin"),
            (member.auth, US, f"{repo}/a.bin"),
            (member.auth, US, f"{repo}/b.bin"),
            (key, DE, f"{repo}/b.bin"),
            (None, JP, f"{other}/c.bin"),
        ]
        for auth, ip, path in downloads:
            response = api.get(f"/dl/{org}/{path}", auth, headers={"X-Forwarded-For": ip})
            assert response.status_code == 302, response.text
        deliver(queued)
    first = roll_up()
    return {
        "org": org,
        "repo": repo,
        "other": other,
        "owner": owner,
        "member": member,
        "key": key,
        "reader": reader,
        "first": first,
        "world": world,
    }


def stats(api, scene, report: str, version: str | None = None, auth=None, **body) -> dict:
    path = f"/packages/{scene['org']}/{scene['repo']}/pkg"
    if version:
        path += f"/versions/{version}"
    response = api.post(f"{path}/stats/{report}", auth or scene["owner"].auth, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def today() -> str:
    return now().strftime("%Y/%m/%d")


def test_the_rollup_read_the_events_once(scene):
    first = scene["first"]
    assert first.events == 6 + 0  # the six downloads (uploads are not downloads)
    assert first.chunks >= 1 and first.writes > 0


def test_daily_downloads_per_package_and_version(api, scene):
    body = stats(api, scene, "time_range_downloads")
    assert body["records"] == [
        {"date": today(), "downloads": [{"version": "1.0", "count": 3}, {"version": "2.0", "count": 2}]}
    ]
    assert set(body) == {"from", "to", "records"}
    body = stats(api, scene, "time_range_downloads", "2.0")
    assert body["records"] == [{"date": today(), "downloads": [{"version": "2.0", "count": 2}]}]


def test_minute_resolution_in_the_last_24_hours(api, scene):
    start, end = now() - timedelta(minutes=30), now() + timedelta(minutes=1)
    body = stats(api, scene, "total_downloads", **{"from": iso(start), "to": iso(end)})
    assert body["from"] == iso(start)  # minutes are kept
    assert body["records"] == [{"version": "1.0", "count": 3}, {"version": "2.0", "count": 2}]
    later = {"from": iso(now() + timedelta(minutes=2)), "to": iso(now() + timedelta(minutes=3))}
    assert stats(api, scene, "total_downloads", **later)["records"] == []
    assert stats(api, scene, "time_range_downloads", **later)["records"] == []
    # Before the last 24 hours: from the beginning of that day, by days.
    old = now() - timedelta(days=3, hours=1)
    body = stats(api, scene, "total_downloads", **{"from": iso(old)})
    assert body["from"] == iso(old.replace(hour=0, minute=0, second=0, microsecond=0))
    assert body["records"] == [{"version": "1.0", "count": 3}, {"version": "2.0", "count": 2}]


def test_total_and_country_downloads(api, scene):
    assert stats(api, scene, "total_downloads", "1.0")["records"] == [{"version": "1.0", "count": 3}]
    assert stats(api, scene, "country_downloads")["records"] == [
        {"country": "GB", "count": 2},
        {"country": "US", "count": 2},
        {"country": "DE", "count": 1},
    ]
    assert stats(api, scene, "country_downloads", "2.0")["records"] == [
        {"country": "DE", "count": 1},
        {"country": "US", "count": 1},
    ]


def test_an_access_key_with_a_read_write_entitlement_reads_statistics(api, scene):
    body = stats(api, scene, "total_downloads", "1.0", auth=scene["key"])
    assert body["records"] == [{"version": "1.0", "count": 3}]
    path = f"/packages/{scene['org']}/{scene['repo']}/pkg/stats/total_downloads"
    assert api.post(path, scene["reader"], json={}).status_code == 403
    assert api.post(path, scene["member"].auth, json={}).status_code == 403  # read only
    assert api.post(path, json={}).status_code == 401


def month_start() -> str:
    return iso(now().replace(day=1, hour=0, minute=0, second=0, microsecond=0))


def usage(api, scene, path: str, auth=None, **body):
    response = api.post(path, auth or scene["owner"].auth, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_subject_and_repository_usage(api, scene):
    org, repo = scene["org"], scene["repo"]
    body = {"from": month_start()}
    [period] = usage(api, scene, f"/usage/{org}", **body)
    assert period["from"] == month_start() and period["partial_period"] is True
    assert (period["download_bytes"], period["storage_bytes"]) == (4200, 1700)
    [period] = usage(api, scene, f"/usage/{org}/{repo}", **body)
    assert period["business_unit"] == "bu1"
    assert (period["download_bytes"], period["storage_bytes"]) == (4000, 1500)
    assert period["download_percentage"] == round(100 * 4000 / 4200, 8)
    assert period["storage_percentage"] == round(100 * 1500 / 1700, 8)
    # Two whole months before this one: nothing then.
    last = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    earlier = (last - timedelta(days=40)).replace(day=1)
    periods = usage(api, scene, f"/usage/{org}", **{"from": iso(earlier), "to": iso(last)})
    assert [(p["partial_period"], p["download_bytes"], p["storage_bytes"]) for p in periods] == [
        (False, 0, 0),
        (False, 0, 0),
    ]


def test_package_and_business_unit_usage(api, scene):
    org, repo = scene["org"], scene["repo"]
    expected = [{"package": "pkg", "storage_bytes": 1500, "file_count": 2}]
    response = api.post(f"/usage/package_usage/{org}/{repo}", scene["owner"].auth)
    assert response.status_code == 200 and response.json() == expected
    assert response.headers["X-RangeLimit-Total"] == "1"
    assert usage(api, scene, f"/usage/package_usage/{org}/{repo}/pkg") == expected
    span = {"from": month_start(), "to": iso(now() + timedelta(minutes=1))}
    [period] = usage(api, scene, f"/usage/business_unit_usage/{org}", **span)
    assert period["business_unit"] == "bu1"
    assert (period["download_bytes"], period["storage_bytes"]) == (4000, 1500)
    assert period["download_percentage"] == round(100 * 4000 / 4200, 8)
    assert usage(api, scene, f"/usage/business_unit_usage/{org}/bu1", **span) == [period]
    response = api.post(f"/usage/business_unit_usage/{org}/nope", scene["owner"].auth, json={})
    assert response.status_code == 404
    assert_message(response, "BusinessUnit 'nope' was not found")


def test_refusals_on_lower_plans(api, world, scene):
    user = world.user(plan="premium")
    repo = world.repo(user.name)
    world.package(user.name, repo, name="pkg")
    free = world.user()
    free_repo = world.repo(free.name)
    world.package(free.name, free_repo, name="pkg")
    response = api.post(f"/packages/{free.name}/{free_repo}/pkg/stats/total_downloads", free.auth, json={})
    assert response.status_code == 403
    assert_message(response, "This resource is only available for premium packages.")
    response = api.post(f"/packages/{free.name}/{free_repo}/nope/stats/total_downloads", free.auth, json={})
    assert response.status_code == 404  # existence before the plan
    response = api.post(f"/usage/{free.name}", free.auth, json={})
    assert (response.status_code, response.json()) == (
        403,
        {"message": "This resource is only available for Premium users"},
    )
    response = api.post(f"/usage/{free.name}/{free_repo}", free.auth, json={})
    assert response.json() == {"message": "This resource is only available for Premium repositories"}
    response = api.post(f"/usage/package_usage/{free.name}/{free_repo}", free.auth, json={})
    assert response.status_code == 403
    response = api.post(f"/usage/business_unit_usage/{user.name}", user.auth, json={})
    assert response.json() == {"message": "This resource is only available for Enterprise users"}
    assert api.post(f"/usage/{user.name}", user.auth, json={}).status_code == 200
    response = api.post(f"/usage/{scene['org']}", scene["member"].auth, json={})
    assert response.status_code == 403  # the admin right


def test_bad_ranges_are_400(api, scene):
    path = f"/packages/{scene['org']}/{scene['repo']}/pkg/stats/total_downloads"
    for body in ({"from": "yesterday"}, {"from": iso(now()), "to": iso(now() - timedelta(days=1))}):
        response = api.post(path, scene["owner"].auth, json=body)
        assert response.status_code == 400, body
        assert set(response.json()) == {"message"}
    response = api.post(f"/usage/{scene['org']}", scene["owner"].auth, json={"from": "2001-01-01T00:00:00Z"})
    assert response.status_code == 400  # over 120 months


def _numbers(api, scene) -> tuple:
    org, repo = scene["org"], scene["repo"]
    return (
        stats(api, scene, "time_range_downloads")["records"],
        stats(api, scene, "country_downloads")["records"],
        usage(api, scene, f"/usage/{org}", **{"from": month_start()})[0]["download_bytes"],
        usage(api, scene, f"/usage/{org}/{repo}", **{"from": month_start()})[0]["download_bytes"],
    )


def test_running_the_job_twice_is_running_it_once(api, scene):
    before = _numbers(api, scene)
    assert roll_up().writes == 0  # nothing after the watermark
    Stat(ROLLUP_KEY, "-").delete()  # forget the watermark: every bucket is read again
    again = roll_up()
    assert again.events == 6 and again.writes == 0 and again.skipped == scene["first"].writes
    assert _numbers(api, scene) == before


def _marks(until) -> list[str]:
    [(_, marks)] = rollup.pending_chunks("", until, rollup.chunk_seconds())[-1:]
    return marks


def test_a_crash_half_way_loses_nothing(api, scene, monkeypatch):
    before = _numbers(api, scene)
    queued: list[events.Event] = []
    monkeypatch.setattr(events, "sender", queued.append)
    # Recorded in a chunk after the watermark the earlier runs left.
    later = now() + CHUNK
    monkeypatch.setattr(recording, "now", lambda: later)
    for _ in range(3):
        response = api.get(f"/dl/{scene['org']}/{scene['repo']}/a.bin", headers={"X-Forwarded-For": GB})
        assert response.status_code == 302
    deliver(queued)
    real_update = Stat.update
    calls = [0]

    def failing_update(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 5:
            raise RuntimeError("DynamoDB is unavailable")
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(Stat, "update", failing_update)
    until = later + CHUNK + timedelta(seconds=1)
    with pytest.raises(RuntimeError):
        rollup.run(until=until)
    monkeypatch.setattr(Stat, "update", real_update)
    report = rollup.run(until=until)
    assert report.events == 3 and report.skipped >= 1  # the rows written before the crash
    totals = rollup.aggregate(rollup._events_of(_marks(until)))
    chunk_items = sum(len(days) for days in totals.packages.values())  # one per repository and day
    assert report.writes + report.skipped == len(totals.rows) + chunk_items
    records, countries, subject_bytes, repo_bytes = _numbers(api, scene)
    assert records == [
        {"date": today(), "downloads": [{"version": "1.0", "count": 6}, {"version": "2.0", "count": 2}]}
    ]
    assert countries[0] == {"country": "GB", "count": 5}
    assert (subject_bytes, repo_bytes) == (before[2] + 3000, before[3] + 3000)


def test_storage_follows_file_events_once(api, scene, monkeypatch):
    from chalicelib.events import FileDeleted
    from chalicelib.stats import storage

    org, repo = scene["org"], scene["repo"]
    queued: list[events.Event] = []
    monkeypatch.setattr(events, "sender", queued.append)
    response = api.delete(f"/content/{org}/{repo}/b.bin", ADMIN)
    assert response.status_code == 200, response.text
    [deleted] = [e for e in queued if isinstance(e, FileDeleted)]
    deliver(queued)
    assert storage.apply(deleted) is False  # delivered again: counted once
    expected = [{"package": "pkg", "storage_bytes": 1000, "file_count": 1}]
    assert usage(api, scene, f"/usage/package_usage/{org}/{repo}") == expected
    [period] = usage(api, scene, f"/usage/{org}/{repo}", **{"from": month_start()})
    assert period["storage_bytes"] == 1000
    assert usage(api, scene, f"/usage/{org}", **{"from": month_start()})[0]["storage_bytes"] == 1200


def test_a_chunk_item_in_parts_gives_the_same_answers(api, scene, monkeypatch):
    """A repository's packages share one ledger item per chunk, in parts when it is large: with a part
    per package every report counts each download once, also when the chunk is rolled up again."""
    from chalicelib.stats import ledger
    from chalicelib.stats.models import repo_ledger_key

    monkeypatch.setattr(ledger, "PART_BYTES", 1)  # one part per package
    org, repo = scene["org"], scene["repo"]
    start, end = now() - timedelta(minutes=30), now() + timedelta(minutes=1)
    span = {"from": iso(start), "to": iso(end)}
    before = stats(api, scene, "total_downloads", "1.0", **span)["records"][0]["count"]
    countries = {r["country"]: r["count"] for r in stats(api, scene, "country_downloads")["records"]}
    queued: list[events.Event] = []
    monkeypatch.setattr(events, "sender", queued.append)
    scene_world = scene["world"]
    scene_world.package(org, repo, name="pkg2")
    response = api.put(f"/content/{org}/{repo}/pkg2/1.0/d.bin;publish=1", ADMIN, data=b"d" * 10)
    assert response.status_code == 201, response.text
    later = rollup.read_iso(rollup.watermark() + "Z") + CHUNK  # a chunk after the earlier tests'
    monkeypatch.setattr(recording, "now", lambda: later)
    for name in ("a.bin", "a.bin", "d.bin"):
        response = api.get(f"/dl/{org}/{repo}/{name}", headers={"X-Forwarded-For": JP})
        assert response.status_code == 302
    deliver(queued)
    report = rollup.run(until=later + CHUNK + timedelta(seconds=1))
    assert report.events == 3
    chunk = rollup.chunk_of(rollup.watermark(), rollup.chunk_seconds())
    items = [r for r in Stat.query(repo_ledger_key(scene_repo_id(org, repo))) if f"#{chunk}#" in r.period]
    assert sorted(r.period.rsplit("#", 1)[1] for r in items) == ["0", "1"]  # two packages, two parts
    assert stats(api, scene, "total_downloads", "1.0", **span)["records"] == [
        {"version": "1.0", "count": before + 2}
    ]
    after = {r["country"]: r["count"] for r in stats(api, scene, "country_downloads")["records"]}
    assert after == {**countries, "JP": countries.get("JP", 0) + 2}
    response = api.post(f"/packages/{org}/{repo}/pkg2/stats/total_downloads", scene["owner"].auth, json=span)
    assert response.json()["records"] == [{"version": "1.0", "count": 1}]
    numbers = _numbers(api, scene)
    Stat(ROLLUP_KEY, "-").delete()  # every chunk again: nothing changes
    assert roll_up().writes == 0
    assert _numbers(api, scene) == numbers


def scene_repo_id(org: str, repo: str) -> str:
    from chalicelib.repositories.models import Repository

    return Repository.get(org, repo).id


def test_storage_counts_a_batch_in_one_transaction_and_each_event_once(api):
    """The storage statistics count an SQS batch's file events in one transaction (the rows they share
    written once), each event once however its redeliveries are batched; an event that changes
    nothing writes nothing; the ledger's daily ``total`` is the sum of its repository rows."""
    import uuid

    from chalicelib.events import FileDeleted, FileStored
    from chalicelib.stats import storage
    from chalicelib.stats.models import day, event_mark_key, ledger_key, storage_key
    from infra.local.opcount import count_operations

    owner = f"batch-{uuid.uuid4().hex[:8]}"  # no such repository: no business unit

    def stored(path: str, size: int, replaced: int | None = None) -> FileStored:
        fields = {"owner": owner, "repo": "r", "repo_id": "r1", "package": "p", "version": "1"}
        return FileStored(**fields, path=path, size=size, sha256="0" * 64, replaced_size=replaced)

    a, b, c, d = stored("a", 100), stored("b", 20), stored("c", 3), stored("d", 4000)
    with count_operations() as operations:
        assert storage.apply_batch([a, b, c, b]) == 3
    assert operations["TransactWriteItems"] == 1
    # Redelivered in another batch, with a new event: only the new one counts.
    assert storage.apply_batch([c, d, a]) == 1
    assert storage.apply(b) is False
    # An override of the same size changes nothing: no write at all, not even a mark.
    same = stored("a", 100, replaced=100)
    with count_operations() as operations:
        assert storage.apply(same) is False
    assert operations["TransactWriteItems"] == 0
    with pytest.raises(Stat.DoesNotExist):
        Stat.get(event_mark_key(same.id), "-")
    gone = FileDeleted(owner=owner, repo="r", repo_id="r1", package="p", version="1", path="b", size=20)
    assert storage.apply_batch([gone, gone]) == 1

    def counter(period: str) -> tuple[int, int]:
        row = Stat.get(storage_key(owner), period, consistent_read=True)
        return int(row.bytes), int(row.files)

    assert counter("total") == counter("r#r1") == counter("r#r1#p#p") == (4103, 3)
    ledger = {row.period.split("#", 1)[1]: int(row.bytes) for row in Stat.query(ledger_key(owner))}
    assert ledger == {"r#r1": 4103}
    # A `<day>#total` row written before the ledger stopped writing it is left out (its repository
    # rows carry the same change).
    Stat(ledger_key(owner), f"{day(now())}#total", bytes=4103, files=3).save()
    yesterday = now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = yesterday + timedelta(days=1)
    found = storage.storage_at(owner, ["total", "r#r1"], [yesterday, today])
    assert found == {("total", 0): 0, ("r#r1", 0): 0, ("total", 1): 4103, ("r#r1", 1): 4103}
