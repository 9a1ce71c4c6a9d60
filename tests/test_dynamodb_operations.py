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
#: Routes allowed more: an npm publish creates the package, version and file through their services
#: and adds the registry's manifest and item (22 on a first publish); a repository's deletion
#: cascades per package and version (the walkthrough's has two packages: 21); an organisation's deletion
#: runs its in-request subscribers (memberships, teams, access keys, products, usage thresholds: 22).
#: The outbox (chalicelib/outbox.py, docs/reliability.md "Fault injection") adds one DeleteItem per
#: announcing write (the entry written in its transaction is removed once the events are out) and a
#: publish's intent (UpdateItem, DeleteItem): npm_write 22 -> 25, delete_repository 21 -> 25.
BUDGETS = {"npm_write": 26, "delete_repository": 27, "delete_org": 24}


#: A small file (binary, with a NUL) uploaded by the walkthrough.
CONTENT = b"walk\x00through"
#: Answers a step may give: created, ok, or the download redirect.
SUCCESS = (200, 201, 202, 302)
#: Routes whose every answer is a refusal (Maven Central sync: no sync target; the walkthrough's
#: repository is not even a Maven one), and those refusals.
REFUSING = {"maven_central_sync": (400, 403)}


def npm_steps(org: str, repo: str) -> list[tuple[str, str, str, dict | None, dict | None]]:
    """The npm registry of the walkthrough's repository: login, publish, read, dist-tags."""
    import base64

    registry = f"/npm/{org}/{repo}"
    tarball = b"not really a tarball"
    manifest = {"name": "npkg", "version": "1.0.0", "license": "MIT", "repository": "https://x/y.git"}
    attachment = {"data": base64.b64encode(tarball).decode(), "length": len(tarball)}
    attachments = {"npkg-1.0.0.tgz": attachment}
    publish = {"name": "npkg", "versions": {"1.0.0": manifest}, "_attachments": attachments}
    login = {"name": ADMIN[0], "password": ADMIN[1]}
    return [
        ("npm_login", "PUT", f"{registry}/-/user/org.couchdb.user:{ADMIN[0]}", login, None),
        ("npm_write", "PUT", f"{registry}/npkg", publish, None),
        ("npm_read", "GET", f"{registry}/npkg", None, None),
        ("npm_read", "HEAD", f"{registry}/npkg/-/npkg-1.0.0.tgz", None, None),
        ("npm_write", "PUT", f"{registry}/-/package/npkg/dist-tags/beta", "1.0.0", None),  # type: ignore[list-item]
        ("npm_delete", "DELETE", f"{registry}/-/package/npkg/dist-tags/beta", None, None),
    ]


def entitlement_steps(org: str, repo: str, pkg: str) -> list[tuple[str, str, str, dict | None, dict | None]]:
    """Access keys and entitlements (the organisation is Premium; the repository has ``pkg`` 1.0)."""
    keys = f"/orgs/{org}/access_keys"
    on_repo = f"/repos/{org}/{repo}/entitlements"
    on_version = f"/packages/{org}/{repo}/{pkg}/versions/1.0/entitlements"
    search = "/search/entitlements"
    body = {"id": "e1", "access": "rw", "access_keys": ["k1"], "path": "com", "tags": ["t"]}
    return [
        ("create_access_key", "POST", keys, {"id": "k1", "white_cidrs": ["127.0.0.0/8"]}, None),
        ("get_access_keys", "GET", keys, None, None),
        ("get_access_key", "GET", f"{keys}/k1", None, None),
        ("update_access_key", "PATCH", f"{keys}/k1", {"password": ""}, None),
        ("create_entitlement", "POST", on_repo, body, None),
        ("create_entitlement", "POST", on_version, {"id": "e2", "access": "r", "access_keys": ["k1"]}, None),
        ("get_entitlements", "GET", on_repo, None, None),
        ("get_entitlement", "GET", f"{on_repo}/e1", None, None),
        ("update_entitlement", "PATCH", f"{on_repo}/e1", {"tags_add": ["u"], "access": "r"}, None),
        ("search_entitlements", "GET", search, None, {"access_key": "k1", "scope": org, "deep": "1"}),
        ("search_entitlements", "GET", search, None, {"tag": "t", "scope": f"{org}/{repo}"}),
        ("delete_entitlement", "DELETE", f"{on_repo}/e1", None, None),
        ("delete_access_key", "DELETE", f"{keys}/k1", None, None),
    ]


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
    # Geo restrictions need an Enterprise owner; IP restrictions go on the Link Package source repository.
    enterprise = world.user(plan="enterprise")
    geo = f"/repos/{enterprise.name}/{world.repo(enterprise.name)}/geo_restrictions"
    ip = f"/repos/{owner.name}/{link_repo}/ip_restrictions"
    user_licenses = f"/users/{owner.name}/licenses"
    org_licenses = f"/orgs/{org}/licenses"
    vattrs = f"/packages/{org}/{repo}/{pkg}/versions/1.0/attributes"
    # Products and EULAs (Enterprise): a package with a published file in version 1.0.
    prod_repo = world.repo(enterprise.name)
    world.package(enterprise.name, prod_repo, name="app")
    app_file = f"/content/{enterprise.name}/{prod_repo}/app/1.0/app.bin?publish=1"
    uploaded = world.api.put(app_file, ADMIN, data=b"a")
    assert uploaded.status_code == 201, uploaded.text
    # Statistics and usage reports (the org is Premium; business units need Enterprise).
    world.repo(enterprise.name, business_unit="bu")
    stats = f"/packages/{org}/{repo}/{pkg}"
    units = f"/usage/business_unit_usage/{enterprise.name}"
    stats_steps = [
        *(
            (f"{scope}_{report}", "POST", f"{path}/stats/{report}", {}, None)
            for report in ("time_range_downloads", "total_downloads", "country_downloads")
            for scope, path in (("package", stats), ("version", f"{stats}/versions/1.0"))
        ),
        ("subject_usage", "POST", f"/usage/{org}", {"from": "2026-01-15T00:00:00Z"}, None),
        ("repo_usage", "POST", f"/usage/{org}/{repo}", {"from": "2026-01-15T00:00:00Z"}, None),
        ("repo_package_usage", "POST", f"/usage/package_usage/{org}/{repo}", None, None),
        ("package_usage", "POST", f"/usage/package_usage/{org}/{repo}/{pkg}", None, None),
        ("business_unit_usage", "POST", units, {"from": "2026-01-15T00:00:00Z"}, None),
        ("one_business_unit_usage", "POST", f"{units}/bu", {}, None),
    ]
    products = f"/products/{enterprise.name}"
    product = f"{products}/suite"
    product_steps = [
        ("create_product", "POST", products, {"name": "suite", "packages": [f"{prod_repo}/app"]}, None),
        ("get_products", "GET", products, None, None),
        ("get_product", "GET", product, None, None),
        ("update_product", "PATCH", product, {"desc": "d"}, None),
        ("create_product_readme", "POST", f"{product}/readme", doc, None),
        ("delete_product_readme", "DELETE", f"{product}/readme", None, None),
        ("create_eula", "POST", f"{product}/eulas", {"name": "terms", "content": "c", "default": True}, None),
        ("get_eulas", "GET", f"{product}/eulas", None, None),
        ("get_eula", "GET", f"{product}/eulas/terms", None, None),
        ("update_eula", "PATCH", f"{product}/eulas/terms", {"versions": ["1.0"]}, None),
        ("get_file_eula", "GET", f"/file_eula/{enterprise.name}/{prod_repo}/app.bin", None, None),
        ("show_eula_acceptance", "GET", f"{product}/versions/1.0/accept_eula", None, None),
        ("accept_eula", "POST", f"{product}/versions/1.0/accept_eula", None, None),
        ("get_signed_eulas", "GET", f"{product}/signed_eulas", None, {"username": "admin"}),
        ("get_signed_eulas", "GET", f"{products}/_all/signed_eulas", None, {"from": "2020-01-01T00:00:00Z"}),
        ("download", "GET", f"/dl/{enterprise.name}/{prod_repo}/app.bin", None, None),
        ("delete_eula", "DELETE", f"{product}/eulas/terms", None, None),
        ("delete_product", "DELETE", product, None, None),
    ]
    # Usage thresholds (Enterprise organisation; a team names the business unit "bu").
    threshold_org = world.org(enterprise, plan="enterprise")
    threshold_repo = world.repo(threshold_org)
    world.team(threshold_org, [], allow_repo_creation=True, business_unit="bu")
    threshold_steps = []
    for scope, path in (
        ("org", f"/usage_threshold/organization/{threshold_org}"),
        ("repo", f"/usage_threshold/repo/{threshold_org}/{threshold_repo}"),
        ("business_unit", f"/usage_threshold/business_unit/{threshold_org}/bu"),
    ):
        threshold_steps += [
            (
                f"create_{scope}_threshold",
                "POST",
                path,
                {"daily_download_bytes": 10, "alert_to_emails": []},
                None,
            ),
            (f"get_{scope}_threshold", "GET", path, None, None),
            (f"update_{scope}_threshold", "PATCH", path, {"monthly_storage_bytes": 5}, None),
            (f"delete_{scope}_threshold", "DELETE", path, None, None),
        ]
    # Download logs of the product's package: one download recorded in the request, the job run once.
    from chalicelib import events
    from chalicelib.download_logs import services as download_logs

    sender, events.sender = events.sender, None
    try:
        assert world.api.get(f"/dl/{enterprise.name}/{prod_repo}/app.bin").status_code == 302
    finally:
        events.sender = sender
    assert download_logs.run().files == 1
    logs = f"/packages/{enterprise.name}/{prod_repo}/app/logs"
    log_steps = [
        ("list_package_logs", "GET", logs, None, None),
        (
            "download_package_log",
            "GET",
            f"{logs}/{download_logs.log_name(download_logs.now().date())}",
            None,
            None,
        ),
    ]
    # Teams: the org's team keeps a permission on the repository until it is deleted (the cascade).
    teams, user_teams = f"/orgs/{org}/teams", f"/users/{owner.name}/teams"
    perms = f"/repos/{org}/{repo}/permissions"
    team_steps = [
        ("create_org_team", "POST", teams, {"name": "devs", "members": [owner.name]}, None),
        ("get_org_teams", "GET", teams, None, None),
        ("update_org_team", "PATCH", f"{teams}/devs", {"allow_repo_creation": True}, None),
        ("set_team_permission", "PUT", perms, {"team": "devs", "permission": "publish"}, None),
        ("get_team_permissions", "GET", perms, None, None),
        ("get_team_permission", "GET", f"{perms}/devs", None, None),
        ("get_org_team", "GET", f"{teams}/devs", None, None),
        ("delete_team_permission", "DELETE", f"{perms}/devs", None, None),
        ("set_team_permission", "PUT", perms, {"team": "devs", "permission": "read"}, None),
        ("create_user_team", "POST", user_teams, {"name": "friends", "members": [other.name]}, None),
        ("get_user_teams", "GET", user_teams, None, None),
        ("get_user_team", "GET", f"{user_teams}/friends", None, None),
        ("update_user_team", "PATCH", f"{user_teams}/friends", {"members": []}, None),
        ("delete_user_team", "DELETE", f"{user_teams}/friends", None, None),
    ]
    steps = [
        ("put_user", "PUT", f"/api/security/users/{name}", {"email": "x@example.com"}, None),
        ("list_users", "GET", "/api/security/users", None, None),
        ("get_security_user", "GET", f"/api/security/users/{name}", None, None),
        ("regenerate_api_key", "POST", "/api/security/apiKey", None, None),
        ("put_org", "PUT", f"/orgs/{org}", {"owner": owner.name, "plan": "premium"}, None),
        ("get_org", "GET", f"/orgs/{org}", None, None),
        # A long poll of the event stream (1 s in tests): its lease, then the head once a poll interval.
        ("read_stream", "GET", f"/stream/{org}", None, None),
        ("create_org_license", "POST", org_licenses, [{"name": "eula", "url": "https://x/l"}], None),
        ("get_org_licenses", "GET", org_licenses, None, None),
        ("update_org_license", "PATCH", f"{org_licenses}/eula", {"description": "d"}, None),
        ("delete_org_license", "DELETE", f"{org_licenses}/eula", None, None),
        ("create_user_license", "POST", user_licenses, {"name": "eula", "description": "d"}, None),
        ("get_user_licenses", "GET", user_licenses, None, None),
        ("update_user_license", "PATCH", f"{user_licenses}/eula", [{"url": "https://x/l"}], None),
        ("update_geo_restrictions", "PUT", geo, {"white_list": ["us", "CA"], "black_list": []}, None),
        ("get_geo_restrictions", "GET", geo, None, None),
        ("delete_geo_restrictions", "DELETE", geo, None, None),
        ("set_ip_restrictions", "PUT", ip, {"white_cidrs": [["10.0.0.1/32"]], "black_cidrs": []}, None),
        ("update_ip_restrictions", "PATCH", ip, {"add": {"black_cidrs": ["10.1.0.0/16"]}}, None),
        ("get_ip_restrictions", "GET", ip, None, None),
        ("delete_ip_restrictions", "DELETE", ip, None, None),
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
        *team_steps,
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
        *npm_steps(org, repo),
        (
            "maven_central_sync",
            "POST",
            f"/maven_central_sync/{org}/{repo}/{pkg}/versions/1.0",
            {"username": "u", "password": "p"},
            None,
        ),
        # GPG keys and signing (chalicelib/gpg), metadata calculation (chalicelib/indexes).
        ("system_public_key", "GET", "/keys/gpg/public.key", None, None),
        ("set_org_key", "POST", f"/orgs/{org}/keys/gpg", {}, None),
        ("org_public_key", "GET", f"/orgs/{org}/keys/gpg/public.key", None, None),
        ("set_user_key", "POST", f"/users/{owner.name}/keys/gpg", {}, None),
        ("user_public_key", "GET", f"/users/{owner.name}/keys/gpg/public.key", None, None),
        ("gpg_sign", "POST", f"/gpg/{org}/{repo}/f.bin", {}, None),
        ("gpg_sign", "POST", f"/gpg/{org}/{repo}/{pkg}/versions/1.0", {}, None),
        ("delete_user_key", "DELETE", f"/users/{owner.name}/keys/gpg", None, None),
        ("delete_org_key", "DELETE", f"/orgs/{org}/keys/gpg", None, None),
        ("create_repository", "POST", f"/repos/{org}/{repo}-deb", {"type": "debian"}, None),
        ("calc_metadata", "POST", f"/calc_metadata/{org}/{repo}-deb", None, None),
        ("calc_metadata_path", "POST", f"/calc_metadata/{org}/{repo}-deb/dists", None, None),
        # Webhooks (after the publish: the target, a public address, is called by the test only).
        (
            "register_webhook",
            "POST",
            f"/webhooks/{org}/{repo}/{pkg}",
            {"url": "http://93.184.216.34:9/%p"},
            None,
        ),
        ("get_webhooks", "GET", f"/webhooks/{org}", None, None),
        ("get_repo_webhooks", "GET", f"/webhooks/{org}/{repo}", None, None),
        ("trigger_webhook", "POST", f"/webhooks/{org}/{repo}/{pkg}/1.0", None, None),
        ("delete_webhook", "DELETE", f"/webhooks/{org}/{repo}/{pkg}", None, None),
        ("download", "GET", f"/dl/{org}/{repo}/f.bin", None, None),
        ("download", "HEAD", f"/dl/{org}/{repo}/f.bin", None, None),
        ("download_content", "GET", f"/content/{org}/{repo}/f.bin", None, None),
        ("download_content", "HEAD", f"/content/{org}/{repo}/f.bin", None, None),
        ("get_package_files", "GET", f"/packages/{org}/{repo}/{pkg}/files", None, None),
        ("get_version_files", "GET", f"/packages/{org}/{repo}/{pkg}/versions/1.0/files", None, None),
        ("get_version_uploads", "GET", f"/packages/{org}/{repo}/{pkg}/versions/1.0/uploads", None, None),
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
        *entitlement_steps(org, repo, pkg),
        *stats_steps,
        ("delete_content", "DELETE", f"/content/{org}/{repo}/f.bin", None, None),
        ("delete_version", "DELETE", f"/packages/{org}/{repo}/{pkg}/versions/1.0", None, None),
        ("delete_package", "DELETE", f"/packages/{org}/{repo}/{pkg}", None, None),
        ("delete_repository", "DELETE", f"/repos/{org}/{repo}", None, None),
        ("delete_org_team", "DELETE", f"{teams}/devs", None, None),
        ("delete_org", "DELETE", f"/orgs/{org}", None, None),
        ("delete_user", "DELETE", f"/api/security/users/{name}", None, None),
        ("oss_licenses", "GET", "/licenses/oss_licenses", None, None),
        ("openapi_document", "GET", "/openapi.json", None, None),
        ("delete_user_license", "DELETE", f"{user_licenses}/eula", None, None),
    ]
    steps += product_steps + threshold_steps + log_steps
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
        expected = REFUSING.get(handler, SUCCESS)
        assert response.status_code in expected, (handler, method, response.status_code, response.text)
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
    over = {key: ops for key, ops in measured.items() if sum(ops.values()) > BUDGETS.get(key[0], BUDGET)}
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


def test_anonymous_download_redirect_needs_two_reads_and_no_s3_call(api, world, queued_events):
    from chalicelib import events

    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    path = f"/content/{owner.name}/{repo}/{package}/1.0/dir/tool.bin?publish=1"
    assert api.put(path, owner.auth, data=b"tool").status_code == 201
    for url in (f"/dl/{owner.name}/{repo}/dir/tool.bin", f"/content/{owner.name}/{repo}/dir/tool.bin"):
        queued_events.clear()
        with count_operations() as ops, count_s3_calls() as calls:
            response = api.get(url)
        assert [type(event) for event in queued_events] == [events.Downloaded], url
        assert response.status_code == 302, response.text
        assert "tool.bin" in response.headers["Location"]
        reads = ops["GetItem"] + ops["Query"] + ops["BatchGetItem"]
        assert reads <= 2, (url, dict(ops))
        assert sum(ops.values()) == reads, (url, dict(ops))
        assert calls == {}, url
