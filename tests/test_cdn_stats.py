"""Statistics of the CDN path, compared with the API path's for the same downloads: two identical
organisations (same repositories, business unit, packages, files); one is downloaded through the API
(``GET /dl`` → 302, one ``Downloaded`` event each), the other through CloudFront, whose standard log
file (gzip, tab-separated, ``#Version``/``#Fields``, as delivered) the scheduled job reads into one
``DownloadsLogged`` event per part of the file. After the rollup and the download-log job, every
statistics and usage route, and the download logs, answer the same for both. The log job crashes half
way and is run again, its events are delivered twice and the same log file is read again: no number
moves."""

from __future__ import annotations

import dataclasses
import gzip
import re
from datetime import timedelta

import pytest

from chalicelib import events, storage
from chalicelib.cdn import logs
from chalicelib.config import settings
from chalicelib.download_logs import services as download_logs
from chalicelib.events import Downloaded, DownloadsLogged
from chalicelib.packages.models import Package
from chalicelib.repositories.models import Repository
from chalicelib.stats import recording, rollup
from chalicelib.stats.models import DownloadEvent
from chalicelib.timefmt import iso, now
from tests.conftest import ADMIN, deliver
from tests.test_cdn import _line, _log_file

LOG_BUCKET = "shelf-test-cdn-stats-logs"
GB, US, DE, JP = "81.2.69.160", "8.8.8.8", "5.9.0.1", "133.242.0.1"
SIZES = {"a.bin": 1000, "b.bin": 500, "c.bin": 200}
#: (address, repository: "main" or "other", path): the downloads, in order.
DOWNLOADS = [
    (GB, "main", "a.bin"),
    (GB, "main", "a.bin"),
    (US, "main", "a.bin"),
    (US, "main", "b.bin"),
    (DE, "main", "b.bin"),
    (JP, "other", "c.bin"),
    (GB, "main", "a.bin"),
]
PART_LINES = 3  # so the log file has several parts


def roll_up() -> rollup.Report:
    return rollup.run(until=now() + timedelta(seconds=rollup.chunk_seconds() + 1))


def _organisation(world) -> dict:
    owner = world.user()
    org = world.org(owner, plan="enterprise")
    main = world.repo(org, business_unit="bu1")
    other = world.repo(org)
    world.package(org, main, name="pkg")
    world.package(org, other, name="tool")
    for repo, version, name in ((main, "1.0", "a.bin"), (main, "2.0", "b.bin"), (other, "1", "c.bin")):
        package = "pkg" if repo == main else "tool"
        body = b"x" * SIZES[name]
        response = api_put(world, f"/content/{org}/{repo}/{package}/{version}/{name};publish=1", body)
        assert response.status_code == 201, response.text
    return {"owner": owner, "org": org, "main": main, "other": other}


def api_put(world, path: str, body: bytes):
    return world.api.put(path, ADMIN, data=body)


@pytest.fixture(scope="module")
def scene(api):
    from tests.conftest import World

    world = World(api)
    recording._marked.clear()  # marks this process wrote before the local AWS was reset are gone
    storage.s3().create_bucket(Bucket=LOG_BUCKET)
    configured = dataclasses.replace(settings(), cdn_log_bucket=LOG_BUCKET)
    queued: list[events.Event] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events, "sender", queued.append)
        patch.setattr(logs, "settings", lambda: configured)
        patch.setattr(logs, "PART_LINES", PART_LINES)
        lam, cdn = _organisation(world), _organisation(world)
        deliver(queued)  # uploads and publishes (storage counters, CDN copies)

        # The API path: one request and one event per download.
        for ip, repo, path in DOWNLOADS:
            response = api.get(f"/dl/{lam['org']}/{lam[repo]}/{path}", headers={"X-Forwarded-For": ip})
            assert response.status_code == 302, response.text
        api_events = [e for e in queued if isinstance(e, Downloaded)]
        assert len(api_events) == len(DOWNLOADS)
        deliver(queued)

        # The CDN path: the same downloads at the same seconds in one CloudFront log file, among
        # lines that are no downloads.
        entries = []
        for i, ((ip, repo, path), event) in enumerate(zip(DOWNLOADS, api_events, strict=True)):
            entry = _line("GET", f"/dl/{cdn['org']}/{cdn[repo]}/{path}", 200, f"edge-{i}==", ip=ip)
            entries.append(entry.replace("2026-12-01\t23:59:58", event.at[:19].replace("T", "\t")))
        noise = [
            _line("HEAD", f"/dl/{cdn['org']}/{cdn['main']}/a.bin", 200, "n-1=="),
            _line("GET", f"/dl/{cdn['org']}/{cdn['main']}/a.bin", 302, "n-2=="),
            _line("GET", f"/dl/{cdn['org']}/{cdn['main']}/a.bin", 304, "n-3=="),
            _line("GET", f"/dl/{cdn['org']}/{cdn['main']}/dists/main/Packages", 200, "n-4=="),
            _line("GET", f"/dl/{cdn['org']}/nope/a.bin", 200, "n-5=="),
        ]
        data = _log_file(*entries[:4], *noise, *entries[4:])
        key = "cloudfront/E2EXAMPLE.2026-12-01-23.0a1b2c3d.gz"
        storage.s3().put_object(Bucket=LOG_BUCKET, Key=key, Body=data)

        # A crash after the first part was published: the file stays, the next run reads it all.
        sent: list[events.Event] = []

        def crashing(event: events.Event) -> None:
            if sent:
                raise RuntimeError("SQS is unavailable")
            sent.append(event)
            queued.append(event)

        patch.setattr(events, "sender", crashing)
        with pytest.raises(RuntimeError):
            logs.process_logs()
        patch.setattr(events, "sender", queued.append)
        assert logs.process_logs() == len(DOWNLOADS)
        logged = [e for e in queued if isinstance(e, DownloadsLogged)]
        assert not [e for e in queued if isinstance(e, Downloaded)]
        # 12 lines in parts of 3: the third part holds no download; the first was published twice.
        assert [e.id for e in logged[1:]] == [logs._part_id(key, part) for part in (0, 1, 3)]
        assert logged[0].id == logged[1].id
        twice = list(queued)
        deliver(queued)
        deliver(twice)  # SQS delivers again
        # The same log file again (delivered twice, or a run that stopped before deleting it).
        storage.s3().put_object(Bucket=LOG_BUCKET, Key=key, Body=data)
        assert logs.process_logs() == len(DOWNLOADS)
        assert [recording.record_logged(e) for e in queued if isinstance(e, DownloadsLogged)] == [False] * 3
        deliver(queued)
        assert storage.s3().list_objects_v2(Bucket=LOG_BUCKET).get("KeyCount") == 0
    report = roll_up()
    download_logs.run()
    return {"lam": lam, "cdn": cdn, "report": report, "logged": logged[1:]}


def _stats(api, org: dict, report: str, version: str | None = None, **body) -> dict:
    path = f"/packages/{org['org']}/{org['main']}/pkg"
    if version:
        path += f"/versions/{version}"
    response = api.post(f"{path}/stats/{report}", org["owner"].auth, json=body)
    assert response.status_code == 200, response.text
    return response.json()["records"]


def _usage(api, org: dict, path: str, **body) -> list[dict]:
    response = api.post(path.format(**org), org["owner"].auth, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _numbers(api, org: dict, end=None) -> dict:
    """Every statistics and usage route's answer for ``org`` (ranges ending at ``end``, by default the
    next minute; pass one ``end`` to compare two readings across a minute boundary)."""
    end = end or now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    month = {"from": iso(end.replace(day=1, hour=0, minute=0)), "to": iso(end)}
    recent = {"from": iso(end - timedelta(minutes=30)), "to": iso(end)}
    return {
        "daily": _stats(api, org, "time_range_downloads"),
        "daily 2.0": _stats(api, org, "time_range_downloads", "2.0"),
        "total": _stats(api, org, "total_downloads"),
        "total 1.0, last 30 minutes": _stats(api, org, "total_downloads", "1.0", **recent),
        "countries": _stats(api, org, "country_downloads"),
        "countries 2.0": _stats(api, org, "country_downloads", "2.0"),
        "subject": _usage(api, org, "/usage/{org}", **month),
        "repository": _usage(api, org, "/usage/{org}/{main}", **month),
        "business unit": _usage(api, org, "/usage/business_unit_usage/{org}", **month),
    }


def _log_lines(org: dict) -> list[str]:
    """The day's download-log lines of every package of ``org``, names and milliseconds left out."""
    out = []
    for repo, package in (("main", "pkg"), ("other", "tool")):
        repo_id = Repository.get(org["org"], org[repo]).id
        key = download_logs.object_key(Package.get(repo_id, package), now().date())
        body = storage.s3().get_object(Bucket=settings().bucket, Key=key)["Body"].read()
        for text in gzip.decompress(body).decode().splitlines():
            text = text.replace(f"/{org['org']}/{org[repo]}/", f"/{repo}/")
            out.append(re.sub(r"(T\d\d:\d\d:\d\d)\.\d{3} ", r"\1.000 ", text))
    return out


def test_the_cdn_path_answers_every_statistic_as_the_api_path(api, scene):
    end = now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    lam, cdn = _numbers(api, scene["lam"], end), _numbers(api, scene["cdn"], end)
    assert lam == cdn
    # And those are the downloads' numbers.
    assert [r["count"] for r in cdn["total"]] == [4, 2]
    assert cdn["countries"] == [
        {"country": "GB", "count": 3},
        {"country": "US", "count": 2},
        {"country": "DE", "count": 1},
    ]
    assert [p["download_bytes"] for p in cdn["subject"]] == [4 * 1000 + 2 * 500 + 200]
    assert [p["download_bytes"] for p in cdn["business unit"]] == [5000]


def test_the_download_logs_hold_the_same_lines(scene):
    lines = _log_lines(scene["cdn"])
    assert sorted(lines) == sorted(_log_lines(scene["lam"]))
    assert len(lines) == len(DOWNLOADS)
    assert f"{GB} - anonymous [" in lines[0] and '"GET /main/a.bin HTTP/1.1" 200 1000 "-" "-"' in lines[0]


def test_each_part_of_a_log_file_is_one_event_and_one_item(scene):
    logged = scene["logged"]
    assert sum(len(e.downloads) for e in logged) == len(DOWNLOADS)
    # Each part names a file once, however often it was downloaded in it.
    assert [len(e.files) for e in logged] == [1, 1, 3]
    assert [len(e.downloads) for e in logged] == [3, 1, 3]
    assert scene["report"].events == 2 * len(DOWNLOADS)  # both organisations' downloads, once each
    # The parts are items of the events table; bucket_index holds them without their payloads.
    items = [DownloadEvent.get(e.id) for e in logged]
    assert [int(i.count) for i in items] == [3, 1, 3] and all(i.payload for i in items)
    indexed = {i.id: i for b in {i.bucket for i in items} for i in DownloadEvent.bucket_index.query(b)}
    assert [(int(indexed[i.id].count), indexed[i.id].payload) for i in items] == [
        (3, None),
        (1, None),
        (3, None),
    ]


def test_rolling_up_again_changes_nothing(api, scene):
    end = now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    before, lines = _numbers(api, scene["cdn"], end), _log_lines(scene["cdn"])
    from chalicelib.stats.models import ROLLUP_KEY, Stat

    Stat(ROLLUP_KEY, "-").delete()  # forget the watermark: every bucket is read again
    again = roll_up()
    assert again.writes == 0 and again.events == 2 * len(DOWNLOADS)
    assert _numbers(api, scene["cdn"], end) == before
    download_logs.run()
    assert _log_lines(scene["cdn"]) == lines
