"""API query limits (the spec's *Limits*): X-RateLimit headers and 429 for non-Premium callers on
resources of others; own and organisation resources, Premium callers, downloads and system
administrators are not counted."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from chalicelib import ratelimits
from chalicelib.config import settings
from chalicelib.errors import TooManyRequests
from infra.local.opcount import count_operations
from tests.conftest import ADMIN, unique

DAILY, MONTHLY = 3, 5


@pytest.fixture
def limits(monkeypatch):
    """Quotas of 3 a day and 5 a month for the duration of a test."""
    low = dataclasses.replace(settings(), rate_limit_daily=DAILY, rate_limit_monthly=MONTHLY)
    monkeypatch.setattr(ratelimits, "settings", lambda: low)
    ratelimits.forget_exhausted()
    yield
    ratelimits.forget_exhausted()


@pytest.fixture
def foreign(world):
    """A public repository with a published file, owned by somebody else."""
    someone = world.user()
    repo = world.repo(someone.name)
    world.package(someone.name, repo, name="pkg")
    world.version(someone.name, repo, "pkg", "1.0")
    return someone, repo


def rate(response) -> tuple[int, int] | None:
    if "X-RateLimit-Limit" not in response.headers:
        return None
    return int(response.headers["X-RateLimit-Limit"]), int(response.headers["X-RateLimit-Remaining"])


def test_queries_on_others_resources_count_down_then_429(api, world, limits, foreign):
    someone, repo = foreign
    caller = world.user()
    seen = [rate(api.get(f"/repos/{someone.name}/{repo}", caller.auth)) for _ in range(DAILY)]
    assert seen == [(3, 2), (3, 1), (3, 0)]
    refused = api.get(f"/repos/{someone.name}/{repo}/packages", caller.auth)
    assert refused.status_code == 429
    assert rate(refused) == (3, 0)
    assert set(refused.json()) == {"message"} and "limit" in refused.json()["message"]
    # Errors of counted queries carry the headers too, and other callers are not affected.
    other = world.user()
    missing = api.get(f"/packages/{someone.name}/{repo}/nope", other.auth)
    assert missing.status_code == 404 and rate(missing) == (3, 2)


def test_own_and_organisation_resources_are_not_counted(api, world, limits):
    owner, member = world.user(), world.user()
    org = world.org(owner)
    world.member(org, member)
    own = world.repo(owner.name)
    org_repo = world.repo(org)
    for _ in range(DAILY + 2):
        response = api.get(f"/repos/{owner.name}/{own}", owner.auth)
        assert response.status_code == 200 and rate(response) is None
        response = api.get(f"/repos/{org}/{org_repo}", member.auth)
        assert response.status_code == 200 and rate(response) is None


def test_premium_callers_and_system_administrators_are_not_limited(api, world, limits, foreign):
    someone, repo = foreign
    premium = world.user(plan="premium")
    for auth in (premium.auth, ADMIN):
        for _ in range(DAILY + 1):
            response = api.get(f"/repos/{someone.name}/{repo}", auth)
            assert response.status_code == 200 and rate(response) is None


def test_anonymous_callers_count_per_source_ip(api, world, limits, foreign):
    someone, repo = foreign
    ratelimits.RateCounter("ip:127.0.0.1", datetime.now(UTC).strftime("%Y-%m")).delete()
    assert rate(api.get(f"/repos/{someone.name}/{repo}")) == (3, 2)
    assert rate(api.get(f"/repos/{someone.name}/{repo}/packages")) == (3, 1)


def test_downloads_are_not_queries(api, world, limits, foreign):
    someone, repo = foreign
    put = api.put(f"/content/{someone.name}/{repo}/pkg/1.0/f.txt?publish=1", someone.auth, data=b"x")
    assert put.status_code == 201, put.text
    caller = world.user()
    for _ in range(DAILY + 2):
        response = api.get(f"/dl/{someone.name}/{repo}/f.txt", caller.auth)
        assert response.status_code == 302 and rate(response) is None


def test_daily_quota_renews_next_day_and_monthly_quota_next_month(limits):
    caller = f"user:{unique()}"
    day1 = datetime(2026, 3, 30, 12, tzinfo=UTC)
    assert [ratelimits.charge(caller, day1).remaining for _ in range(DAILY)] == [2, 1, 0]
    with pytest.raises(TooManyRequests):
        ratelimits.charge(caller, day1)
    ratelimits.forget_exhausted()  # another container: the counter refuses as well
    with pytest.raises(TooManyRequests):
        ratelimits.charge(caller, day1)
    day2 = datetime(2026, 3, 31, 9, tzinfo=UTC)
    # 3 + 2 = 5 queries this month: the monthly quota binds now.
    assert [ratelimits.charge(caller, day2) for _ in range(2)] == [
        ratelimits.RateStatus(MONTHLY, 1),
        ratelimits.RateStatus(MONTHLY, 0),
    ]
    with pytest.raises(TooManyRequests) as refused:
        ratelimits.charge(caller, day2)
    assert refused.value.headers == {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0"}
    next_month = datetime(2026, 4, 1, 0, 5, tzinfo=UTC)
    assert ratelimits.charge(caller, next_month) == ratelimits.RateStatus(DAILY, 2)


def test_counting_costs_one_write_and_refusals_none_once_known(limits):
    caller = f"user:{unique()}"
    now = datetime(2026, 5, 10, tzinfo=UTC)
    ratelimits.charge(caller, now)  # the first query of the day: two writes
    with count_operations() as ops:
        ratelimits.charge(caller, now)
    assert dict(ops) == {"UpdateItem": 1}
    ratelimits.charge(caller, now)
    with pytest.raises(TooManyRequests):
        ratelimits.charge(caller, now)
    with count_operations() as ops:
        for _ in range(20):
            with pytest.raises(TooManyRequests):
                ratelimits.charge(caller, now)
    assert sum(ops.values()) == 0


def test_no_limit_configured_counts_nothing(monkeypatch):
    off = dataclasses.replace(settings(), rate_limit_daily=0, rate_limit_monthly=0)
    monkeypatch.setattr(ratelimits, "settings", lambda: off)
    with count_operations() as ops:
        assert ratelimits.charge(f"user:{unique()}") is None
    assert sum(ops.values()) == 0
