"""Usage thresholds (spec "Usage Thresholds"): shapes, validation, plan refusals and the observed
wordings; and their evaluation by the scheduled job (one alert per threshold and period: an email
through SES and an event on the organisation's stream)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.thresholds import alerts
from chalicelib.thresholds.models import UsageThreshold
from chalicelib.timefmt import now
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
    for index, path in enumerate(paths(scene)):
        full = index == 0  # every answer on the organisation's; the essentials on the others
        if full:
            assert api.get(path, scene["admin"].auth).status_code == 404
        response = api.post(path, scene["admin"].auth, json=SAMPLE)
        assert response.status_code == 201, (path, response.text)
        assert response.json() == SAMPLE
        if full:
            assert api.get(path, scene["owner"].auth).json() == SAMPLE
            assert api.post(path, scene["admin"].auth, json=SAMPLE).status_code == 409
        # 0 disables one threshold; fields not sent stay as they were.
        response = api.patch(
            path, scene["admin"].auth, json={"daily_download_bytes": 0, "alert_to_admins": "false"}
        )
        assert response.status_code == 200, response.text
        want = {**SAMPLE, "daily_download_bytes": 0, "alert_to_admins": False}
        assert response.json() == want
        assert api.get(path, scene["admin"].auth).json() == want
        assert api.delete(path, scene["admin"].auth).status_code == 200
        assert api.get(path, scene["admin"].auth).status_code == 404
        if full:
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


# --- evaluation: one alert per threshold and period ------------------------------------------


@pytest.fixture
def in_request_events(monkeypatch):
    """Queued subscribers (download recording, storage counters, the stream) run in the request."""
    from chalicelib import events

    monkeypatch.setattr(events, "sender", None)


def sent_emails(marker: str) -> list:
    """The messages moto's SES accepted whose subject names ``marker``."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if marker in m.subject]


def threshold_lines(api, org: str, auth, reconnect: str) -> tuple[list[dict], str]:
    response = api.get(f"/stream/{org}", auth, headers={"X-Bintray-Stream-Reconnect-Id": reconnect})
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.split("\r\n") if line]
    return [line for line in lines if line["type"] == "usage_threshold"], response.headers[
        "X-Bintray-Stream-Reconnect-Id"
    ]


def roll_up() -> None:
    """The statistics rollup of everything recorded so far (the usage thresholds compare with); once
    per test: a later download in the same chunk would wait for the next chunk."""
    from chalicelib.stats import rollup

    rollup.run(until=now() + timedelta(seconds=rollup.chunk_seconds() + 1))


def test_a_crossed_threshold_alerts_once_per_period(api, world, in_request_events, monkeypatch):
    owner, admin = world.user(), world.user()
    org = world.org(owner, plan="enterprise")
    world.member(org, admin, "admin")
    repo = world.repo(org, business_unit="bu")
    package = world.package(org, repo)
    body = {"daily_download_bytes": 1500, "alert_to_admins": False}
    assert api.post(f"/usage_threshold/business_unit/{org}/bu", owner.auth, json=body).status_code == 201
    body = {
        "daily_download_bytes": 1500,
        "monthly_storage_bytes": 500,
        "alert_to_emails": ["ops@example.com"],
    }
    assert api.post(f"/usage_threshold/organization/{org}", owner.auth, json=body).status_code == 201
    body = {"monthly_download_bytes": 1500, "alert_to_admins": False, "alert_to_emails": ["repo@example.com"]}
    assert api.post(f"/usage_threshold/repo/{org}/{repo}", owner.auth, json=body).status_code == 201
    response = api.get(f"/stream/{org}", owner.auth)  # a reader: the stream keeps events from now
    reconnect = response.headers["X-Bintray-Stream-Reconnect-Id"]
    assert alerts.run().alerts == 0  # nothing used yet
    # 1,000 bytes stored cross the storage threshold (500): one alert for this month. The first run
    # crashes before the email (SES down): the alert stays claimed, and is taken over once the claim
    # expires.
    response = api.put(f"/content/{org}/{repo}/{package}/1.0/a.bin;publish=1", owner.auth, data=b"x" * 1000)
    assert response.status_code == 201, response.text

    def down(*args, **kwargs):
        raise RuntimeError("SES is down")

    with monkeypatch.context() as patched:
        patched.setattr(alerts.mail, "send", down)
        with pytest.raises(RuntimeError):
            alerts.run()
    assert alerts.run().alerts == 0  # the crashed run still holds the alert
    assert sent_emails(org) == []
    with monkeypatch.context() as patched:
        lease_over = alerts.now_ms() + alerts.LEASE_SECONDS * 1000 + 1
        patched.setattr(alerts, "now_ms", lambda: lease_over)
        assert alerts.run().alerts == 1
        assert alerts.run().alerts == 0  # the same period: nothing more
    assert alerts.run().alerts == 0
    [email] = sent_emails(org)
    assert sorted(email.destinations["ToAddresses"]) == sorted(
        ["ops@example.com", f"{owner.name}@example.com", f"{admin.name}@example.com"]
    )
    assert "monthly storage" in email.subject and "1000 bytes" in email.body and "500 bytes" in email.body
    # Two downloads (2,000 bytes) cross the organisation's and the business unit's daily thresholds
    # and the repository's monthly one (1,500 each): one alert each, however often the job runs; the
    # repository's email goes to its own address only (alert_to_admins false), the business unit's
    # to nobody (a stream event only).
    assert api.get(f"/dl/{org}/{repo}/a.bin").status_code == 302
    assert api.get(f"/dl/{org}/{repo}/a.bin", admin.auth).status_code == 302
    roll_up()
    assert [alerts.run().alerts for _ in range(3)] == [3, 0, 0]
    emails = sent_emails(org)
    assert len(emails) == 3
    [repo_email] = [e for e in emails if f"repo {repo}" in e.subject]
    assert repo_email.destinations["ToAddresses"] == ["repo@example.com"]
    lines, reconnect = threshold_lines(api, org, owner.auth, reconnect)
    month, day = now().strftime("%Y-%m"), now().strftime("%Y-%m-%d")
    common = {"type": "usage_threshold", "subject": org}
    assert sorted(
        ({k: v for k, v in line.items() if k != "time"} for line in lines),
        key=lambda line: (line["threshold"], line["scope"]),
    ) == [
        {**common, "scope": "business_unit", "name": "bu", "threshold": "daily_download_bytes"}
        | {"limit": 1500, "usage": 2000, "period": day},
        {**common, "scope": "organization", "name": None, "threshold": "daily_download_bytes"}
        | {"limit": 1500, "usage": 2000, "period": day},
        {**common, "scope": "repo", "name": repo, "threshold": "monthly_download_bytes"}
        | {"limit": 1500, "usage": 2000, "period": month},
        {**common, "scope": "organization", "name": None, "threshold": "monthly_storage_bytes"}
        | {"limit": 500, "usage": 1000, "period": month},
    ]
    # The next month is a new period: the storage threshold alerts again (once).
    later = now() + timedelta(days=32)
    assert alerts.run(at=later).alerts == 1
    assert alerts.run(at=later).alerts == 0
    lines, _ = threshold_lines(api, org, owner.auth, reconnect)
    assert [(line["threshold"], line["period"]) for line in lines] == [
        ("monthly_storage_bytes", later.strftime("%Y-%m"))
    ]
    assert len(sent_emails(org)) == 4
    # Deleting the repository deletes its threshold; deleting the organisation, all of them.
    assert api.delete(f"/repos/{org}/{repo}", owner.auth).status_code == 200
    assert sorted(t.scope for t in UsageThreshold.query(org)) == ["business_unit#bu", "organization"]
    assert api.delete(f"/orgs/{org}", ADMIN).status_code == 200
    assert list(UsageThreshold.query(org)) == []


def test_an_alert_emailed_whose_sent_mark_failed_is_not_emailed_again(api, world, monkeypatch):
    """The email went out, then marking the alert ``sent`` failed (DynamoDB unavailable): a run after
    the lease must not take the alert over and email it again (it did: the claim was still
    ``sending``). An email that failed is still taken over after the lease."""
    from chalicelib.stats.models import Stat, storage_key
    from chalicelib.thresholds.models import ThresholdAlert

    monkeypatch.setattr(alerts.events, "sender", lambda event: None)
    owner = world.user()
    org = world.org(owner, plan="enterprise")
    body = {"monthly_storage_bytes": 500, "alert_to_admins": False, "alert_to_emails": ["ops@example.com"]}
    assert api.post(f"/usage_threshold/organization/{org}", owner.auth, json=body).status_code == 201
    Stat(storage_key(org), "total", bytes=1000, files=1).save()
    real_update = ThresholdAlert.update

    def unavailable(self, actions, *args, **kwargs):
        if any(str(action) == "state = {'S': 'sent'}" for action in actions):
            raise RuntimeError("DynamoDB is unavailable")
        return real_update(self, actions, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(ThresholdAlert, "update", unavailable)
        with pytest.raises(RuntimeError):
            alerts.run()
    assert len(sent_emails(org)) == 1
    lease_over = alerts.now_ms() + alerts.LEASE_SECONDS * 1000 + 1
    monkeypatch.setattr(alerts, "now_ms", lambda: lease_over)
    assert alerts.run().alerts == 0
    assert len(sent_emails(org)) == 1  # once, not twice

    # The next month: SES fails; the alert is taken over after the lease and emailed once.
    later = now() + timedelta(days=32)

    def down(*args, **kwargs):
        raise RuntimeError("SES is down")

    with monkeypatch.context() as patched:
        patched.setattr(alerts.mail, "send", down)
        with pytest.raises(RuntimeError):
            alerts.run(at=later)
    assert alerts.run(at=later).alerts == 0  # the failed run's lease holds it
    taken_over = lease_over + alerts.LEASE_SECONDS * 1000 + 1
    monkeypatch.setattr(alerts, "now_ms", lambda: taken_over)
    assert alerts.run(at=later).alerts == 1
    assert len(sent_emails(org)) == 2
