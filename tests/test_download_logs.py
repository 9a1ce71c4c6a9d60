"""Download logs (spec "Logs"): the scheduled job writes one gzip file per package and day from real
downloads (anonymous, with an API key, with an access key, through a signed URL with a callback id,
from several addresses); the routes list and serve them; rewriting a day changes nothing; retention;
permissions and plan refusals."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta

import pytest
import requests

from chalicelib import events
from chalicelib.download_logs import services
from chalicelib.timefmt import now
from tests.conftest import ADMIN

LINE = re.compile(
    r"(?P<ip>\S+) - (?P<user>\S+) \[(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) \+0000\] "
    r'"GET (?P<path>\S+) HTTP/1\.1" 200 (?P<size>\d+) "-" "-"'
)


@pytest.fixture(scope="module")
def world(api):
    from tests.conftest import World

    return World(api)


@pytest.fixture(scope="module")
def scene(api, world):
    """A Premium organisation's public repository with one published file, downloaded four ways
    (queued subscribers run in the request here, so each download is recorded at once), and the
    job run once."""
    owner, reader = world.user(), world.user()
    org = world.org(owner, plan="premium")
    repo = world.repo(org)
    package = world.package(org, repo)
    response = api.put(f"/content/{org}/{repo}/{package}/1.0/dir/a.bin;publish=1", ADMIN, data=b"x" * 10)
    assert response.status_code == 201, response.text
    keys = {}
    for key_id, access in (("rw", "rw"), ("ro", "r")):
        response = api.post(f"/orgs/{org}/access_keys", owner.auth, json={"id": key_id})
        assert response.status_code == 201, response.text
        keys[key_id] = (response.json()["username"], response.json()["password"])
        body = {"access": access, "access_keys": [key_id]}
        response = api.post(f"/packages/{org}/{repo}/{package}/entitlements", owner.auth, json=body)
        assert response.status_code == 201, response.text
    response = api.post(f"/signed_url/{org}/{repo}/dir/a.bin", owner.auth, json={"callback_id": "cb7"})
    assert response.status_code == 200, response.text
    signed = response.json()["url"][len(api.base_url) :]
    sender, events.sender = events.sender, None
    try:
        for auth, ip, path in (
            (None, "81.2.69.160", f"/dl/{org}/{repo}/dir/a.bin"),
            (reader.auth, "2.2.2.2", f"/dl/{org}/{repo}/dir/a.bin"),
            (keys["rw"], "3.3.3.3", f"/dl/{org}/{repo}/dir/a.bin"),
            (None, "4.4.4.4", signed),
        ):
            response = api.get(path, auth, headers={"X-Forwarded-For": ip})
            assert response.status_code == 302, response.text
    finally:
        events.sender = sender
    report = services.run()
    assert now().date().isoformat() in report.days and report.files >= 1
    name = services.log_name(now().date())
    return {
        "owner": owner,
        "reader": reader,
        "org": org,
        "repo": repo,
        "package": package,
        "keys": keys,
    }, name


def read_log(api, scene, name: str, auth) -> bytes:
    s, _ = scene
    response = api.get(f"/packages/{s['org']}/{s['repo']}/{s['package']}/logs/{name}", auth)
    assert response.status_code == 302, response.text
    content = requests.get(response.headers["Location"], timeout=10)
    assert content.status_code == 200
    assert name in content.headers["Content-Disposition"]
    return content.content


def test_the_days_log_lists_every_download_once(api, scene):
    s, name = scene
    response = api.get(f"/packages/{s['org']}/{s['repo']}/{s['package']}/logs", s["owner"].auth)
    assert response.status_code == 200, response.text
    [entry] = response.json()
    assert set(entry) == {"name", "size", "update"}
    assert entry["name"] == name == f"downloads-{now():%d-%m-%Y}.log.gz"
    raw = read_log(api, scene, name, s["owner"].auth)
    assert entry["size"] == len(raw)
    lines = gzip.decompress(raw).decode().splitlines()
    parsed = [LINE.fullmatch(text) for text in lines]
    assert all(parsed), lines
    assert sorted((m["ip"], m["user"], m["path"], m["size"]) for m in parsed) == sorted(
        [
            ("81.2.69.160", "anonymous", f"/{s['org']}/{s['repo']}/dir/a.bin", "10"),
            ("2.2.2.2", s["reader"].name, f"/{s['org']}/{s['repo']}/dir/a.bin", "10"),
            ("3.3.3.3", s["keys"]["rw"][0], f"/{s['org']}/{s['repo']}/dir/a.bin", "10"),
            ("4.4.4.4", "anonymous:cb7", f"/{s['org']}/{s['repo']}/dir/a.bin", "10"),
        ]
    )
    assert [m["at"] for m in parsed] == sorted(m["at"] for m in parsed)
    assert all(m["at"].startswith(f"{now():%Y-%m-%d}") for m in parsed)
    # Running the job again rewrites the same file.
    services.run()
    assert read_log(api, scene, name, s["owner"].auth) == raw


def test_who_may_read_logs(api, world, scene):
    s, name = scene
    base = f"/packages/{s['org']}/{s['repo']}/{s['package']}/logs"
    # The publish right, or an access key with a read/write entitlement covering the package.
    assert api.get(base, ADMIN).status_code == 200
    assert api.get(base, s["keys"]["rw"]).status_code == 200
    assert read_log(api, scene, name, s["keys"]["rw"])
    for path in (base, f"{base}/{name}"):
        assert api.get(path).status_code == 401
        response = api.get(path, s["reader"].auth)
        assert response.status_code == 403
        assert response.json() == {
            "message": f"You do not have 'publish' permission on repository '{s['repo']}'"
        }
        assert api.get(path, s["keys"]["ro"]).status_code == 403
    # Missing package (before the plan), missing and malformed log names.
    missing = api.get(f"/packages/{s['org']}/{s['repo']}/nope/logs", s["owner"].auth)
    assert (missing.status_code, missing.json()) == (404, {"message": "Package 'nope' was not found"})
    for bad in ("downloads-01-01-2001.log.gz", "downloads-31-02-2026.log.gz", "passwd", "..%2F..%2Fx"):
        response = api.get(f"{base}/{bad}", s["owner"].auth)
        assert response.status_code == 404, bad
        assert set(response.json()) == {"message"}
    # A free plan: the package statistics' wording.
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    response = api.get(f"/packages/{owner.name}/{repo}/{package}/logs", owner.auth)
    assert (response.status_code, response.json()) == (
        403,
        {"message": "This resource is only available for premium packages."},
    )


def test_logs_past_retention_are_neither_listed_nor_kept(api, scene, monkeypatch):
    s, name = scene
    base = f"/packages/{s['org']}/{s['repo']}/{s['package']}/logs"
    later = now() + timedelta(days=90)
    monkeypatch.setattr(services, "now", lambda: later)
    assert api.get(base, s["owner"].auth).json() == []
    assert api.get(f"{base}/{name}", s["owner"].auth).status_code == 404
    # Writing a day deletes the package's expired logs.
    assert services.write_day(later.date() - timedelta(days=90)) == 1
    monkeypatch.undo()
    assert api.get(base, s["owner"].auth).json() == []


def test_a_run_rewrites_only_the_packages_downloaded_since_the_last(api, world, scene, monkeypatch):
    """Each run writes the files of the packages with downloads recorded after the last ingest bucket
    that was closed when the previous run began; the others keep their files."""
    from chalicelib.download_logs.models import LogJob
    from chalicelib.stats import recording

    s, name = scene
    other = world.package(s["org"], s["repo"])
    path = f"/content/{s['org']}/{s['repo']}/{other}/1.0/b.bin;publish=1"
    assert api.put(path, ADMIN, data=b"y" * 3).status_code == 201
    written: list[str] = []
    real_put = services._put
    monkeypatch.setattr(services, "_put", lambda key, lines: (written.append(key), real_put(key, lines)))
    start = now()
    sender, events.sender = events.sender, None
    try:

        def download(at) -> None:
            monkeypatch.setattr(recording, "now", lambda: at)
            assert (
                api.get(
                    f"/dl/{s['org']}/{s['repo']}/b.bin", headers={"X-Forwarded-For": "5.5.5.5"}
                ).status_code
                == 302
            )

        download(start)
        services.run(at=start + timedelta(seconds=30))  # every bucket until then is closed
        assert services.object_key(package_of(s, other), now().date()) in written
        written.clear()
        assert services.run(at=start + timedelta(seconds=30)).files == 0  # nothing new
        download(start + timedelta(seconds=60))
        report = services.run(at=start + timedelta(seconds=90))
        assert report.files == 1 and len(written) == 1  # the other package's file only
        assert written == [services.object_key(package_of(s, other), now().date())]
        body = api.get(f"/packages/{s['org']}/{s['repo']}/{other}/logs/{name}", s["owner"].auth)
        assert body.status_code == 302
        lines = (
            gzip.decompress(requests.get(body.headers["Location"], timeout=10).content).decode().splitlines()
        )
        assert len(lines) == 2 and all("5.5.5.5 - anonymous" in text for text in lines)
    finally:
        events.sender = sender
        # The watermark went ahead of the clock: forget it (the next run writes every package again).
        LogJob(services.JOB).update(actions=[LogJob.read_through.remove()])


def package_of(s: dict, name: str):
    from chalicelib.packages.models import Package
    from chalicelib.repositories.models import Repository

    return Package.get(Repository.get(s["org"], s["repo"]).id, name)


def test_only_owners_whose_plan_reads_logs_get_files(api, world, scene, monkeypatch):
    """The job writes a file only for a package whose owner's plan can read download logs (the
    routes' rule, Premium): a free subject's downloads leave no object in S3; a Premium one's do; an
    organisation that upgrades gets files from the upgrade on. Each owner's plan is read once a run."""
    from chalicelib.accounts.models import Subject
    from chalicelib.config import settings
    from chalicelib.storage import s3

    s, name = scene
    free_user = world.user()
    free_org = world.org(world.user())
    subjects = {free_user.name: world.repo(free_user.name), free_org: world.repo(free_org)}
    packages = {}
    for subject, repo in subjects.items():
        for n in range(2):
            package = world.package(subject, repo)
            path = f"/content/{subject}/{repo}/{package}/1.0/f{n}.bin;publish=1"
            assert api.put(path, ADMIN, data=b"z" * 4).status_code == 201
            packages[(subject, n)] = package
    premium = world.package(s["org"], s["repo"])
    path = f"/content/{s['org']}/{s['repo']}/{premium}/1.0/p.bin;publish=1"
    assert api.put(path, ADMIN, data=b"p" * 5).status_code == 201
    read: list[list[str]] = []
    real_batch_get = Subject.batch_get

    def counted(names, *args, **kwargs):
        read.append(list(names))
        return real_batch_get(names, *args, **kwargs)

    monkeypatch.setattr(Subject, "batch_get", counted)

    def keys(subject: str, repo: str, package: str) -> list[str]:
        prefix = f"{services.PREFIX}{package_of({'org': subject, 'repo': repo}, package).id}/"
        found = s3().list_objects_v2(Bucket=settings().bucket, Prefix=prefix)
        return [item["Key"] for item in found.get("Contents", [])]

    def download_all() -> None:
        sender, events.sender = events.sender, None
        try:
            paths = [f"/dl/{subject}/{subjects[subject]}/f{n}.bin" for subject, n in packages]
            for path in [*paths, f"/dl/{s['org']}/{s['repo']}/p.bin"]:
                assert api.get(path, headers={"X-Forwarded-For": "6.6.6.6"}).status_code == 302
        finally:
            events.sender = sender

    download_all()
    services.run()
    for (subject, _), package in packages.items():
        assert keys(subject, subjects[subject], package) == []
        response = api.get(f"/packages/{subject}/{subjects[subject]}/{package}/logs", ADMIN)
        assert response.status_code == 403
    assert keys(s["org"], s["repo"], premium) == [f"{services.PREFIX}{package_of(s, premium).id}/{name}"]
    owners = [owner for names in read for owner in names]
    assert {free_user.name, free_org, s["org"]} <= set(owners) and len(owners) == len(set(owners))

    # The organisation upgrades: its packages downloaded since get their files, with the day's lines.
    org = Subject.get(free_org)
    response = api.put(f"/orgs/{free_org}", ADMIN, json={"owner": org.owner, "plan": "premium"})
    assert response.status_code in (200, 201), response.text
    download_all()
    services.run()
    repo = subjects[free_org]
    for n in range(2):
        assert keys(free_org, repo, packages[(free_org, n)]) != []
        response = api.get(f"/packages/{free_org}/{repo}/{packages[(free_org, n)]}/logs/{name}", ADMIN)
        assert response.status_code == 302
        raw = requests.get(response.headers["Location"], timeout=10).content
        assert len(gzip.decompress(raw).decode().splitlines()) == 2
    for n in range(2):
        assert keys(free_user.name, subjects[free_user.name], packages[(free_user.name, n)]) == []
