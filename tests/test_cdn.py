"""Public downloads on the CDN (chalicelib/cdn): path-addressed copies of published files of public,
unrestricted repositories under ``dl/<subject>/<repo>/<path>``, removed (and invalidated in CloudFront,
moto's here) on delete or when the repository gets download restrictions; and the CDN's download
statistics from log files in CloudFront's standard format.

The queued subscribers run as the events queue would run them: the test collects what the requests
queue and delivers it (``events.deliver``). What only AWS proves: CloudFront serving the copies through
origin access control and failing over to the API (see tests/test_deploy_template.py).
"""

from __future__ import annotations

import dataclasses
import gzip
import uuid

import boto3
import pytest

from chalicelib import events, storage
from chalicelib.cdn import copies, logs
from chalicelib.config import settings
from chalicelib.events import DownloadPathChanged, DownloadsLogged
from tests.conftest import AWS_ENDPOINT

LOG_BUCKET = "shelf-test-cdn-logs"


@pytest.fixture(scope="module")
def cdn():
    """A CloudFront distribution (moto's), the log bucket, and the queued events of the requests:
    ``deliver()`` runs their queued subscribers."""
    cloudfront = boto3.client("cloudfront", region_name="us-east-1", endpoint_url=AWS_ENDPOINT)
    origin = {
        "Id": "content",
        "DomainName": f"{settings().bucket}.s3.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": uuid.uuid4().hex,
            "Comment": "test",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {"TargetOriginId": "content", "ViewerProtocolPolicy": "https-only"},
        }
    )["Distribution"]["Id"]
    storage.s3().create_bucket(Bucket=LOG_BUCKET)
    configured = dataclasses.replace(settings(), cdn_distribution_id=distribution, cdn_log_bucket=LOG_BUCKET)
    queued: list[events.Event] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(copies, "settings", lambda: configured)
        patch.setattr(logs, "settings", lambda: configured)
        patch.setattr(events, "sender", queued.append)

        class Cdn:
            id = distribution
            log_bucket = LOG_BUCKET
            events = queued

            @staticmethod
            def deliver() -> list[events.Event]:
                delivered = list(queued)
                queued.clear()
                for event in delivered:
                    events.deliver(event)
                return delivered

            @staticmethod
            def invalidated() -> list[str]:
                paths = []
                listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
                for summary in listed.get("Items", []):
                    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=summary["Id"])
                    paths += batch["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]
                return paths

        yield Cdn


@pytest.fixture(scope="module")
def published(api, cdn):
    """A premium user's public repository with two published files and one unpublished."""
    from tests.conftest import World

    world = World(api)
    user = world.user(plan="premium")
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    base = f"/content/{user.name}/{repo}/{package}/1.0"
    for path, body in (("a.txt", b"alpha"), ("docs/b v1.tar.gz", b"beta")):
        assert api.put(f"{base}/{path}", user.auth, data=body).status_code == 201
    assert api.post(f"{base}/publish", user.auth).json() == {"files": 2}
    assert (
        api.put(f"/content/{user.name}/{repo}/{package}/2.0/c.txt", user.auth, data=b"gamma").status_code
        == 201
    )
    cdn.deliver()
    return user, repo, package


def _copy(owner: str, repo: str, path: str) -> dict | None:
    try:
        return storage.s3().get_object(Bucket=settings().bucket, Key=copies.copy_key(owner, repo, path))
    except storage.s3().exceptions.NoSuchKey:
        return None


def test_published_files_of_public_repositories_are_copied_for_the_cdn(published):
    user, repo, _ = published
    copy = _copy(user.name, repo, "a.txt")
    assert copy["Body"].read() == b"alpha"
    assert copy["CacheControl"] == copies.FILE_CACHE_CONTROL
    assert copy["ContentDisposition"] == 'attachment; filename="a.txt"'
    assert _copy(user.name, repo, "docs/b v1.tar.gz")["Body"].read() == b"beta"
    assert _copy(user.name, repo, "c.txt") is None  # not published


def test_private_repositories_get_no_copies(api, world, cdn):
    user = world.user()
    repo = world.repo(user.name, private=True)
    package = world.package(user.name, repo)
    response = api.put(
        f"/content/{user.name}/{repo}/{package}/1.0/p.txt?publish=1", user.auth, data=b"secret"
    )
    assert response.status_code == 201
    cdn.deliver()
    assert _copy(user.name, repo, "p.txt") is None


def test_deleting_a_file_removes_its_copy_and_invalidates_it(api, world, cdn):
    user = world.user()
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    response = api.put(f"/content/{user.name}/{repo}/{package}/1.0/gone.txt?publish=1", user.auth, data=b"x")
    assert response.status_code == 201
    cdn.deliver()
    assert _copy(user.name, repo, "gone.txt") is not None
    assert api.delete(f"/content/{user.name}/{repo}/gone.txt", user.auth).status_code == 200
    cdn.deliver()
    assert _copy(user.name, repo, "gone.txt") is None
    assert f"/dl/{user.name}/{repo}/gone.txt" in cdn.invalidated()


def test_overriding_a_published_file_replaces_its_copy(api, world, cdn):
    user = world.user()
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    url = f"/content/{user.name}/{repo}/{package}/1.0/o.txt"
    assert api.put(f"{url}?publish=1", user.auth, data=b"old").status_code == 201
    cdn.deliver()
    assert api.put(f"{url}?publish=1&override=1", user.auth, data=b"new").status_code == 201
    cdn.deliver()
    assert _copy(user.name, repo, "o.txt")["Body"].read() == b"new"
    assert f"/dl/{user.name}/{repo}/o.txt" in cdn.invalidated()


def test_download_restrictions_take_a_repository_off_the_cdn_and_back(api, published, cdn):
    user, repo, _ = published
    restrictions = f"/repos/{user.name}/{repo}/ip_restrictions"
    body = {"white_cidrs": ["10.0.0.0/8"], "black_cidrs": []}
    assert api.put(restrictions, user.auth, json=body).status_code == 200, "premium sets IP restrictions"
    cdn.deliver()
    assert _copy(user.name, repo, "a.txt") is None and _copy(user.name, repo, "docs/b v1.tar.gz") is None
    assert f"/dl/{user.name}/{repo}/*" in cdn.invalidated()

    assert api.delete(restrictions, user.auth).status_code == 200
    cdn.deliver()
    assert _copy(user.name, repo, "a.txt")["Body"].read() == b"alpha"
    assert _copy(user.name, repo, "c.txt") is None


def test_index_files_follow_download_path_changes(published, cdn):
    user, repo, _ = published
    from chalicelib.repositories.models import Repository

    repo_id = Repository.get(user.name, repo).id
    storage.s3().put_object(Bucket=settings().bucket, Key="indexes/x/Packages", Body=b"Package: hello\n")
    events.publish(
        DownloadPathChanged(
            owner=user.name, repo=repo, repo_id=repo_id, path="dists/main/Packages", key="indexes/x/Packages"
        )
    )
    cdn.deliver()
    copy = _copy(user.name, repo, "dists/main/Packages")
    assert copy["Body"].read() == b"Package: hello\n" and copy["CacheControl"] == copies.INDEX_CACHE_CONTROL
    events.publish(
        DownloadPathChanged(owner=user.name, repo=repo, repo_id=repo_id, path="dists/main/Packages")
    )
    cdn.deliver()
    assert _copy(user.name, repo, "dists/main/Packages") is None


def test_the_index_calculator_announces_its_files_to_the_cdn(api, world, cdn, monkeypatch):
    """Index files (Debian, RPM, Maven metadata: here the test calculator's) get copies when a
    generation switches, lose them when gone, and follow access changes."""
    from chalicelib.indexes import registry
    from chalicelib.indexes import services as indexes
    from chalicelib.repositories.models import Repository

    monkeypatch.setitem(registry.CALCULATOR_MODULES, "opkg", "tests.fake_index")
    user = world.user(plan="premium")
    repo = world.repo(user.name, type="opkg")
    package = world.package(user.name, repo)
    repo_id = Repository.get(user.name, repo).id
    base = f"/content/{user.name}/{repo}/{package}/1.0"
    for name in ("a.ipk", "b.ipk"):
        assert api.put(f"{base}/{name}?publish=1", user.auth, data=name.encode()).status_code == 201
    cdn.deliver()
    assert indexes.run(repo_id)
    announced = [e for e in cdn.deliver() if isinstance(e, DownloadPathChanged)]
    assert sorted((e.path, e.key is not None) for e in announced) == [
        ("idx/count.txt", True),
        ("idx/list.txt", True),
    ]
    assert _copy(user.name, repo, "idx/list.txt")["Body"].read() == b"a.ipk\nb.ipk"
    copy = _copy(user.name, repo, "idx/count.txt")
    assert copy["Body"].read() == b"2" and copy["CacheControl"] == copies.INDEX_CACHE_CONTROL
    assert f"/dl/{user.name}/{repo}/idx/list.txt" in cdn.invalidated()

    # Deletes: the list changes, the count goes.
    for name in ("a.ipk", "b.ipk"):
        assert api.delete(f"/content/{user.name}/{repo}/{name}", user.auth).status_code == 200
    cdn.deliver()
    assert indexes.run(repo_id)
    announced = [e for e in cdn.deliver() if isinstance(e, DownloadPathChanged)]
    assert sorted((e.path, e.key is not None) for e in announced) == [
        ("idx/count.txt", False),
        ("idx/list.txt", True),
    ]
    assert _copy(user.name, repo, "idx/list.txt")["Body"].read() == b""
    assert _copy(user.name, repo, "idx/count.txt") is None
    assert f"/dl/{user.name}/{repo}/idx/count.txt" in cdn.invalidated()

    # Download restrictions, then none: the copies go, and come back from the calculator's announcement.
    restrictions = f"/repos/{user.name}/{repo}/ip_restrictions"
    body = {"white_cidrs": ["10.0.0.0/8"], "black_cidrs": []}
    assert api.put(restrictions, user.auth, json=body).status_code == 200
    cdn.deliver()
    cdn.deliver()  # the announcements the access change caused
    assert _copy(user.name, repo, "idx/list.txt") is None
    assert api.delete(restrictions, user.auth).status_code == 200
    cdn.deliver()
    cdn.deliver()
    assert _copy(user.name, repo, "idx/list.txt")["Body"].read() == b""
    assert _copy(user.name, repo, "idx/count.txt") is None


# --- statistics from CloudFront's standard logs ------------------------------------------------------

FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
    "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
    "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
)


def _line(method: str, stem: str, status: int, request_id: str, ip: str = "198.51.100.7") -> str:
    values = {
        "date": "2026-12-01",
        "time": "23:59:58",
        "x-edge-location": "FRA56-P1",
        "sc-bytes": "5",
        "c-ip": ip,
        "cs-method": method,
        "cs(Host)": "d111111abcdef8.cloudfront.net",
        "cs-uri-stem": stem,
        "sc-status": str(status),
        "cs(Referer)": "-",
        "cs(User-Agent)": "curl/8.5.0",
        "cs-uri-query": "-",
        "cs(Cookie)": "-",
        "x-edge-result-type": "Miss",
        "x-edge-request-id": request_id,
        "x-host-header": "d111111abcdef8.cloudfront.net",
        "cs-protocol": "https",
        "cs-bytes": "120",
        "time-taken": "0.012",
        "x-forwarded-for": "-",
        "ssl-protocol": "TLSv1.3",
        "ssl-cipher": "TLS_AES_128_GCM_SHA256",
        "x-edge-response-result-type": "Miss",
        "cs-protocol-version": "HTTP/2.0",
        "fle-status": "-",
        "fle-encrypted-fields": "-",
        "c-port": "53122",
        "time-to-first-byte": "0.011",
        "x-edge-detailed-result-type": "Miss",
        "sc-content-type": "text/plain",
        "sc-content-len": "5",
        "sc-range-start": "-",
        "sc-range-end": "-",
    }
    return "\t".join(values[f] for f in FIELDS.split())


def _log_file(*lines: str) -> bytes:
    return gzip.compress(("#Version: 1.0\n#Fields: " + FIELDS + "\n" + "\n".join(lines) + "\n").encode())


def test_cloudfront_logs_become_one_event_per_part_of_a_log_file(published, cdn):
    user, repo, package = published
    base = f"/dl/{user.name}/{repo}"
    data = _log_file(
        _line("GET", f"{base}/a.txt", 200, "req-1=="),
        _line("GET", f"{base}/docs/b%20v1.tar.gz", 200, "req-2=="),
        _line("HEAD", f"{base}/a.txt", 200, "req-3=="),  # not a download
        _line("GET", f"{base}/a.txt", 302, "req-4=="),  # the API answered: it publishes its own event
        _line("GET", f"{base}/dists/main/Packages", 200, "req-5=="),  # an index, no file
        _line("GET", f"/dl/{user.name}/nope/a.txt", 200, "req-6=="),
        _line("GET", f"/repos/{user.name}/{repo}", 200, "req-7=="),
        _line("GET", f"{base}/a.txt", 200, "req-8==", ip="-"),
    )
    key = "cloudfront/E2EXAMPLE.2026-12-01-23.abcd1234.gz"
    client = storage.s3()
    client.put_object(Bucket=cdn.log_bucket, Key=key, Body=data)
    client.put_object(Bucket=cdn.log_bucket, Key="cloudfront/E2EXAMPLE.2026-12-01-23.broken.gz", Body=b"nope")
    cdn.events.clear()

    assert logs.process_logs() == 3
    [logged] = cdn.events  # no event per download: one per part of the file
    assert isinstance(logged, DownloadsLogged) and logged.source == key
    repo_id = logged.files[0]["repo_id"]
    assert logged.files == (
        {"owner": user.name, "repo": repo, "repo_id": repo_id, "business_unit": None, "package": package,
         "version": "1.0", "path": "a.txt", "size": 5},
        {"owner": user.name, "repo": repo, "repo_id": repo_id, "business_unit": None, "package": package,
         "version": "1.0", "path": "docs/b v1.tar.gz", "size": 4},
    )  # fmt: skip
    at = "2026-12-01T23:59:58Z"
    assert logged.downloads == (
        [0, at, "cdn-req-1==", "198.51.100.7"],
        [1, at, "cdn-req-2==", "198.51.100.7"],
        [0, at, "cdn-req-8==", None],
    )
    assert events.Event.from_json(logged.to_json()) == logged  # one SQS message
    assert client.list_objects_v2(Bucket=cdn.log_bucket).get("KeyCount") == 0  # read logs are deleted

    # The same log read again (a run that failed before deleting it): the same event id.
    client.put_object(Bucket=cdn.log_bucket, Key=key, Body=data)
    cdn.events.clear()
    assert logs.process_logs() == 3
    assert [e.id for e in cdn.events] == [logged.id]
    cdn.events.clear()


def test_without_a_log_bucket_or_distribution_nothing_is_done(monkeypatch):
    monkeypatch.setattr(logs, "settings", lambda: dataclasses.replace(settings(), cdn_log_bucket=None))
    monkeypatch.setattr(copies, "settings", lambda: dataclasses.replace(settings(), cdn_distribution_id=None))
    assert logs.process_logs() == 0
    assert copies.invalidate(["/dl/a/b/c"]) is None


def test_invalidation_paths_are_percent_encoded(cdn):
    assert copies.cdn_path("alice", "tools", "docs/b v1*.tar.gz") == "/dl/alice/tools/docs/b%20v1%2A.tar.gz"
    assert copies.cdn_path("alice", "tools", "*") == "/dl/alice/tools/*"
