"""Usage thresholds (spec "Usage Thresholds"): shapes, validation, plan refusals and the observed
wordings; and their evaluation by the scheduled job (one alert per threshold and period: an email
through SES and an event on the organisation's stream)."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, assert_message

PLAN_REFUSAL = {"message": "Usage thresholds are only available for organizations on an Enterprise plan."}
SAMPLE = {
    "monthly_storage_bytes": 10_000_000,
    "monthly_download_bytes": 0,
    "daily_download_bytes": 10_000,
    "alert_to_emails": ["recipient1@email.com", "recipient2@email.com"],
    "alert_to_admins": True,
}


@pytest.fixture(scope="module")
def world(api):
    from tests.conftest import World

    return World(api)


@pytest.fixture(scope="module")
def scene(api, world):
    """An Enterprise organisation with an admin, a member, a repository and a business unit "bu"
    (named by a team); a Premium one; a user."""
    owner, admin, member = world.user(), world.user(), world.user()
    org = world.org(owner, plan="enterprise")
    world.member(org, admin, "admin")
    world.member(org, member, "member")
    repo = world.repo(org)
    world.team(org, [], allow_repo_creation=True, business_unit="bu")
    premium = world.org(owner, plan="premium")
    premium_repo = world.repo(premium)
    return {
        "org": org,
        "repo": repo,
        "owner": owner,
        "admin": admin,
        "member": member,
        "premium": premium,
        "premium_repo": premium_repo,
        "user": world.user(plan="enterprise"),
    }


def paths(scene: dict, org: str | None = None, repo: str | None = None) -> list[str]:
    org = org or scene["org"]
    return [
        f"/usage_threshold/organization/{org}",
        f"/usage_threshold/repo/{org}/{repo or scene['repo']}",
        f"/usage_threshold/business_unit/{org}/bu",
    ]


def test_create_get_update_delete_each_scope(api, scene):
    for path in paths(scene):
        assert api.get(path, scene["admin"].auth).status_code == 404
        response = api.post(path, scene["admin"].auth, json=SAMPLE)
        assert response.status_code == 201, (path, response.text)
        assert response.json() == SAMPLE
        assert api.get(path, scene["owner"].auth).json() == SAMPLE
        response = api.post(path, scene["admin"].auth, json=SAMPLE)
        assert response.status_code == 409
        # 0 disables one threshold; fields not sent stay as they were.
        response = api.patch(
            path, scene["admin"].auth, json={"daily_download_bytes": 0, "alert_to_admins": "false"}
        )
        assert response.status_code == 200, response.text
        want = {**SAMPLE, "daily_download_bytes": 0, "alert_to_admins": False}
        assert response.json() == want
        assert api.get(path, scene["admin"].auth).json() == want
        response = api.delete(path, scene["admin"].auth)
        assert response.status_code == 200
        assert api.get(path, scene["admin"].auth).status_code == 404
        assert api.delete(path, scene["admin"].auth).status_code == 404
        assert api.patch(path, scene["admin"].auth, json={"daily_download_bytes": 1}).status_code == 404


def test_defaults_and_validation(api, scene):
    path = paths(scene)[0]
    response = api.post(path, scene["admin"].auth, json={"alert_to_emails": ["a@example.com"]})
    assert response.status_code == 400
    assert_message(response, "At least one threshold type must be specified")
    response = api.post(path, scene["admin"].auth, json={"daily_download_bytes": 0})
    assert response.status_code == 400
    for bad in (
        {"daily_download_bytes": -1},
        {"daily_download_bytes": "10"},
        {"daily_download_bytes": True},
        {"daily_download_bytes": 10**19},
        {"daily_download_bytes": 1, "alert_to_emails": ["not an email"]},
        {"daily_download_bytes": 1, "alert_to_emails": "a@example.com"},
        {"daily_download_bytes": 1, "alert_to_admins": "maybe"},
    ):
        response = api.post(path, scene["admin"].auth, json=bad)
        assert response.status_code == 400, bad
        assert set(response.json()) == {"message"}
    response = api.post(path, scene["admin"].auth, json={"monthly_download_bytes": 5})
    assert response.status_code == 201
    assert response.json() == {
        "monthly_storage_bytes": 0,
        "monthly_download_bytes": 5,
        "daily_download_bytes": 0,
        "alert_to_emails": [],
        "alert_to_admins": True,
    }
    assert api.delete(path, scene["admin"].auth).status_code == 200


def test_refusals(api, scene):
    org, repo = scene["org"], scene["repo"]
    # Not an admin of the organisation: 403 forbidden (observed), anonymous 401.
    for path in paths(scene):
        for method in ("GET", "POST", "PATCH", "DELETE"):
            response = api.request(method, path, scene["member"].auth, json=SAMPLE)
            assert (response.status_code, response.json()) == (403, {"message": "forbidden"}), (method, path)
            assert api.request(method, path, None, json=SAMPLE).status_code == 401
    # Below Enterprise: the observed wording, for every verb and scope (after the admin check).
    premium = [
        f"/usage_threshold/organization/{scene['premium']}",
        f"/usage_threshold/repo/{scene['premium']}/{scene['premium_repo']}",
    ]
    for path in premium:
        for method in ("GET", "POST", "PATCH", "DELETE"):
            response = api.request(method, path, scene["owner"].auth, json=SAMPLE)
            assert (response.status_code, response.json()) == (403, PLAN_REFUSAL), (method, path)
    # A business unit that does not exist: 404 first, even for callers without rights (observed).
    for who in (scene["member"], scene["admin"], scene["owner"]):
        response = api.get(f"/usage_threshold/business_unit/{org}/nope", who.auth)
        assert (response.status_code, response.json()) == (
            404,
            {"message": "BusinessUnit 'nope' was not found"},
        )
    response = api.post(
        f"/usage_threshold/business_unit/{scene['premium']}/xray", scene["owner"].auth, json=SAMPLE
    )
    assert (response.status_code, response.json()) == (404, {"message": "BusinessUnit 'xray' was not found"})
    # A repository that does not exist; a user is not an organisation.
    response = api.get(f"/usage_threshold/repo/{org}/missing", scene["admin"].auth)
    assert (response.status_code, response.json()) == (404, {"message": "Repo 'missing' was not found"})
    user = scene["user"]
    response = api.get(f"/usage_threshold/organization/{user.name}", user.auth)
    assert (response.status_code, response.json()) == (
        404,
        {"message": f"Organization '{user.name}' was not found"},
    )
    response = api.get(f"/usage_threshold/organization/{user.name}", scene["owner"].auth)
    assert response.status_code == 403
    # The system administrator may.
    assert api.get(f"/usage_threshold/repo/{org}/{repo}", ADMIN).status_code == 404
