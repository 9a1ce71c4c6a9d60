"""DynamoDB use per route: every declared route (and method) is exercised, none may Scan, and each
stays within a small budget of operations."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chalicelib.web.routing import ROUTES
from infra.local.opcount import count_operations
from tests.conftest import ADMIN, unique

#: The most DynamoDB operations one request of a route may need (a cascade delete of a small
#: repository included). Listing routes grow with what they list, not with the table.
BUDGET = 20


#: A small file (binary, with a NUL) uploaded by the walkthrough.
CONTENT = b"walk\x00through"
#: Answers a step may give: created, ok, or the download redirect.
SUCCESS = (200, 201, 302)


def walkthrough(
    world,
) -> tuple[list[tuple[str, str, str, dict | bytes | None, dict | None]], tuple[str, str]]:
    """(handler, method, path, body (JSON, or bytes to upload), query) covering every route and method,
    in a workable order, and the credentials of a throwaway user whose key the API-key route may rotate."""
    owner = world.user(plan="premium")
    other = world.user()
    org = unique("o")
    repo = unique("r")
    name = unique("u")
    pkg = "pkg"
    doc = {"bintray": {"content": "readme or release notes"}}
    # Link Package needs a package of another owner to link into the walkthrough's repository.
    link_repo = world.repo(owner.name)
    world.package(owner.name, link_repo, name="lib")
    link = f"/repository/{org}/{repo}/links/{owner.name}/{link_repo}/lib"
    pattrs = f"/packages/{org}/{repo}/{pkg}/attributes"
    vattrs = f"/packages/{org}/{repo}/{pkg}/versions/1.0/attributes"
    steps = [
        ("put_user", "PUT", f"/api/security/users/{name}", {"email": "x@example.com"}, None),
        ("list_users", "GET", "/api/security/users", None, None),
        ("get_security_user", "GET", f"/api/security/users/{name}", None, None),
        ("regenerate_api_key", "POST", "/api/security/apiKey", None, None),
        ("put_org", "PUT", f"/orgs/{org}", {"owner": owner.name, "plan": "premium"}, None),
        ("get_org", "GET", f"/orgs/{org}", None, None),
        ("put_member", "PUT", f"/orgs/{org}/members/{other.name}", {"type": "member"}, None),
        ("delete_member", "DELETE", f"/orgs/{org}/members/{other.name}", None, None),
        ("get_user", "GET", f"/users/{owner.name}", None, None),
        ("follow", "POST", f"/users/{owner.name}/follow", None, None),
        ("get_followers", "GET", f"/users/{owner.name}/followers", None, None),
        ("unfollow", "DELETE", f"/users/{owner.name}/follow", None, None),
        ("search_users", "GET", "/search/users", None, {"name": owner.name[:4]}),
        ("create_repository", "POST", f"/repos/{org}/{repo}", {"desc": "demo"}, None),
        ("get_repositories", "GET", f"/repos/{org}", None, None),
        ("get_repository", "GET", f"/repos/{org}/{repo}", None, None),
        ("update_repository", "PATCH", f"/repos/{org}/{repo}", {"desc": "demo 2"}, None),
        ("search_repositories", "GET", "/search/repos", None, {"name": repo[:6]}),
        (
            "create_package",
            "POST",
            f"/packages/{org}/{repo}",
            {"name": pkg, "licenses": ["MIT"], "vcs_url": "https://x/y.git"},
            None,
        ),
        ("get_packages", "GET", f"/repos/{org}/{repo}/packages", None, None),
        ("get_package", "GET", f"/packages/{org}/{repo}/{pkg}", None, None),
        ("update_package", "PATCH", f"/packages/{org}/{repo}/{pkg}", {"desc": "d"}, None),
        ("search_packages", "GET", "/search/packages", None, {"name": "pkg", "repo": repo, "subject": org}),
        ("search_maven_packages", "GET", "/search/packages/maven", None, {"g": "com.example"}),
        ("create_version", "POST", f"/packages/{org}/{repo}/{pkg}/versions", {"name": "1.0"}, None),
        ("get_version", "GET", f"/packages/{org}/{repo}/{pkg}/versions/_latest", None, None),
        ("update_version", "PATCH", f"/packages/{org}/{repo}/{pkg}/versions/1.0", {"desc": "d"}, None),
        ("set_package_attributes", "POST", pattrs, [{"name": "a", "values": [1]}], None),
        ("update_package_attributes", "PATCH", pattrs, [{"name": "b", "values": ["x"]}], None),
        ("get_package_attributes", "GET", pattrs, None, {"names": "a"}),
        ("search_package_attributes", "POST", f"/search/attributes/{org}/{repo}", [{"a": "[0,2]"}], None),
        ("delete_package_attributes", "DELETE", pattrs, None, {"names": "b"}),
        ("set_version_attributes", "POST", vattrs, [{"name": "a", "values": [1]}], None),
        ("update_version_attributes", "PATCH", vattrs, [{"name": "b", "values": [True]}], None),
        ("get_version_attributes", "GET", vattrs, None, None),
        (
            "search_version_attributes",
            "POST",
            f"/search/attributes/{org}/{repo}/{pkg}/versions",
            [{"a": 1}],
            {"attribute_values": "1"},
        ),
        ("delete_version_attributes", "DELETE", vattrs, None, None),
        ("create_readme", "POST", f"/packages/{org}/{repo}/{pkg}/readme", doc, None),
        ("get_readme", "GET", f"/packages/{org}/{repo}/{pkg}/readme", None, None),
        ("delete_readme", "DELETE", f"/packages/{org}/{repo}/{pkg}/readme", None, None),
        ("create_readme", "POST", f"/packages/{org}/{repo}/{pkg}/readme", doc, None),
        (
            "create_package_release_notes",
            "POST",
            f"/packages/{org}/{repo}/{pkg}/release_notes",
            doc,
            None,
        ),
        ("get_package_release_notes", "GET", f"/packages/{org}/{repo}/{pkg}/release_notes", None, None),
        ("delete_package_release_notes", "DELETE", f"/packages/{org}/{repo}/{pkg}/release_notes", None, None),
        (
            "create_version_release_notes",
            "POST",
            f"/packages/{org}/{repo}/{pkg}/versions/1.0/release_notes",
            doc,
            None,
        ),
        (
            "get_version_release_notes",
            "GET",
            f"/packages/{org}/{repo}/{pkg}/versions/1.0/release_notes",
            None,
            None,
        ),
        ("upload_content", "PUT", f"/content/{org}/{repo}/{pkg}/1.0/f.bin", CONTENT, None),
        (
            "upload_maven",
            "PUT",
            f"/maven/{org}/{repo}/{pkg}/com/example/{pkg}/1.0/{pkg}-1.0.jar",
            b"jar",
            None,
        ),
        ("publish_content", "POST", f"/content/{org}/{repo}/{pkg}/1.0/publish", {}, None),
        ("download", "GET", f"/dl/{org}/{repo}/f.bin", None, None),
        ("download", "HEAD", f"/dl/{org}/{repo}/f.bin", None, None),
        ("download_content", "GET", f"/content/{org}/{repo}/f.bin", None, None),
        ("download_content", "HEAD", f"/content/{org}/{repo}/f.bin", None, None),
        ("get_package_files", "GET", f"/packages/{org}/{repo}/{pkg}/files", None, None),
        ("get_version_files", "GET", f"/packages/{org}/{repo}/{pkg}/versions/1.0/files", None, None),
        ("file_version", "GET", f"/file_version/{org}/{repo}/f.bin", None, None),
        ("file_package", "GET", f"/file_package/{org}/{repo}/f.bin", None, None),
        ("file_metadata", "PUT", f"/file_metadata/{org}/{repo}/f.bin", {"list_in_downloads": True}, None),
        (
            "set_or_search_file_attributes",
            "POST",
            f"/files/{org}/{repo}/f.bin/attributes",
            [{"name": "a", "values": [1]}],
            None,
        ),
        (
            "update_file_attributes",
            "PATCH",
            f"/files/{org}/{repo}/f.bin/attributes",
            [{"name": "b", "values": ["x"]}],
            None,
        ),
        ("get_file_attributes", "GET", f"/files/{org}/{repo}/f.bin/attributes", None, {"names": "a"}),
        ("set_or_search_file_attributes", "POST", f"/files/{org}/{repo}/search/attributes", [{"a": 1}], None),
        ("delete_file_attributes", "DELETE", f"/files/{org}/{repo}/f.bin/attributes", None, {"names": "b"}),
        ("search_files", "GET", "/search/file", None, {"name": "f.b?n", "subject": org, "repo": repo}),
        ("search_files", "GET", "/search/file", None, {"sha1": hashlib.sha1(CONTENT).hexdigest()}),
        ("create_signed_url", "POST", f"/signed_url/{org}/{repo}/f.bin", {"valid_for_secs": 60}, None),
        ("regenerate_keypair", "POST", f"/subjects/{org}/keypair", None, None),
        ("link_package", "PUT", link, {"path_prefix": "com/example"}, None),
        ("unlink_package", "DELETE", link, None, None),
        ("delete_content", "DELETE", f"/content/{org}/{repo}/f.bin", None, None),
        ("delete_version", "DELETE", f"/packages/{org}/{repo}/{pkg}/versions/1.0", None, None),
        ("delete_package", "DELETE", f"/packages/{org}/{repo}/{pkg}", None, None),
        ("delete_repository", "DELETE", f"/repos/{org}/{repo}", None, None),
        ("delete_org", "DELETE", f"/orgs/{org}", None, None),
        ("delete_user", "DELETE", f"/api/security/users/{name}", None, None),
        ("oss_licenses", "GET", "/licenses/oss_licenses", None, None),
    ]
    return steps, other.auth


@pytest.fixture(scope="module")
def measured(api):
    from tests.conftest import World

    results: dict[tuple[str, str], dict[str, int]] = {}
    steps, throwaway = walkthrough(World(api))
    for handler, method, path, body, query in steps:
        # Rotating the admin's key would lock out every other test: rotate a throwaway user's.
        auth = throwaway if handler == "regenerate_api_key" else ADMIN
        content = {"data": body} if isinstance(body, bytes) else {"json": body}
        with count_operations() as ops:
            response = api.request(method, path, auth, params=query, **content)
        assert response.status_code in SUCCESS, (handler, method, response.status_code, response.text)
        if response.status_code == 302:
            assert response.headers["Location"], handler
        if handler == "search_files":
            assert [f["path"] for f in response.json()] == ["f.bin"], (query, response.text)
        # A route measured twice (two kinds of search) keeps the larger count of each operation.
        previous = results.get((handler, method), {})
        results[(handler, method)] = {op: max(n, previous.get(op, 0)) for op, n in (previous | ops).items()}
    return results


def test_every_route_is_measured(measured):
    assert {(spec.handler, method) for spec in ROUTES for method in spec.methods} == set(measured)


def test_no_route_scans(measured):
    scanning = {handler: ops for handler, ops in measured.items() if "Scan" in ops}
    assert scanning == {}


def test_routes_stay_within_budget(measured):
    over = {handler: ops for handler, ops in measured.items() if sum(ops.values()) > BUDGET}
    assert over == {}


def test_counter_sees_a_scan():
    """The check above can fail: a Scan is counted when one happens."""
    from chalicelib.accounts.models import Subject

    with count_operations() as ops:
        next(iter(Subject.scan(limit=1)), None)
    assert ops["Scan"] == 1


@contextmanager
def count_s3_calls() -> Iterator[Counter[str]]:
    """Count the API calls the S3 client of ``chalicelib.storage`` sends (presigning sends none)."""
    from chalicelib import storage

    counter: Counter[str] = Counter()
    events = storage.s3().meta.events

    def seen(model, **_: object) -> None:
        counter[model.name] += 1

    events.register("before-call.s3", seen, unique_id="test-count-s3")
    try:
        yield counter
    finally:
        events.unregister("before-call.s3", unique_id="test-count-s3")


def test_s3_counter_sees_a_call():
    """The S3 check below can fail: a real S3 call is counted."""
    from chalicelib import storage
    from chalicelib.config import settings

    with count_s3_calls() as calls:
        storage.s3().head_bucket(Bucket=settings().bucket)
        storage.presign_get("0" * 64, "x.bin", 10)
    assert calls == {"HeadBucket": 1}


def test_anonymous_download_redirect_needs_two_reads_and_no_s3_call(api, world):
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    path = f"/content/{owner.name}/{repo}/{package}/1.0/dir/tool.bin?publish=1"
    assert api.put(path, owner.auth, data=b"tool").status_code == 201
    for url in (f"/dl/{owner.name}/{repo}/dir/tool.bin", f"/content/{owner.name}/{repo}/dir/tool.bin"):
        with count_operations() as ops, count_s3_calls() as calls:
            response = api.get(url)
        assert response.status_code == 302, response.text
        assert "tool.bin" in response.headers["Location"]
        reads = ops["GetItem"] + ops["Query"] + ops["BatchGetItem"]
        assert reads <= 2, (url, dict(ops))
        assert sum(ops.values()) == reads, (url, dict(ops))
        assert calls == {}, url
