"""DynamoDB use per route: every declared route is exercised once, none may Scan, and each stays
within a small budget of operations."""

from __future__ import annotations

import pytest

from chalicelib.web.routing import ROUTES
from infra.local.opcount import count_operations
from tests.conftest import ADMIN, unique

#: The most DynamoDB operations one request of a route may need (a cascade delete of a small
#: repository included). Listing routes grow with what they list, not with the table.
BUDGET = 20


def walkthrough(world) -> tuple[list[tuple[str, str, str, dict | None, dict | None]], tuple[str, str]]:
    """(handler, method, path, json body, query) covering every route, in a workable order, and
    the credentials of a throwaway user whose key the API-key route may rotate."""
    owner = world.user(plan="premium")
    other = world.user()
    org = unique("o")
    repo = unique("r")
    name = unique("u")
    pkg = "pkg"
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

    results = {}
    steps, throwaway = walkthrough(World(api))
    for handler, method, path, body, query in steps:
        # Rotating the admin's key would lock out every other test: rotate a throwaway user's.
        auth = throwaway if handler == "regenerate_api_key" else ADMIN
        with count_operations() as ops:
            response = api.request(method, path, auth, json=body, params=query)
        assert response.status_code in (200, 201), (handler, response.status_code, response.text)
        results[handler] = dict(ops)
    return results


def test_every_route_is_measured(measured):
    assert {spec.handler for spec in ROUTES} == set(measured)


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
