"""Plans: every "only available for Premium / Enterprise" rule of the spec answers 403 naming the plan,
from one module (chalicelib/plans.py), and the administrator's organisation API changes the plan."""

from __future__ import annotations

import pathlib

import pytest

from chalicelib import plans
from tests.conftest import ADMIN, unique

ROOT = pathlib.Path(__file__).resolve().parents[1]


def requests_for(org: str, repo: str) -> list[tuple[str, str, str, dict, str]]:
    """(feature, method, path, body, plan) — one request per plan rule, on subject ``org``."""
    pkg = {"name": unique("p"), "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
    license_name = unique("lic")
    return [
        ("teams", "POST", f"/orgs/{org}/teams", {"name": unique("t")}, "Premium"),
        ("access_keys", "POST", f"/orgs/{org}/access_keys", {"id": unique("k")}, "Premium"),
        ("entitlements", "POST", f"/repos/{org}/{repo}/entitlements", {"access": "r"}, "Premium"),
        (
            "proprietary_licenses",
            "POST",
            f"/orgs/{org}/licenses",
            {"name": license_name, "description": "d", "url": "https://example.com/l"},
            "Premium",
        ),
        ("url_signing", "POST", f"/signed_url/{org}/{repo}/f.txt", {}, "Premium"),
        (
            "version_update_max_days",
            "PATCH",
            f"/repos/{org}/{repo}",
            {"version_update_max_days": 5},
            "Enterprise",
        ),
        (
            "products",
            "POST",
            f"/products/{org}",
            {"name": unique("prod"), "packages": [f"{repo}/pkg"]},
            "Enterprise",
        ),
        (
            "geo_restrictions",
            "PUT",
            f"/repos/{org}/{repo}/geo_restrictions",
            {"white_list": ["US"], "black_list": []},
            "Enterprise",
        ),
        (
            "business_unit",
            "POST",
            f"/orgs/{org}/teams",
            {"name": unique("t"), "allow_repo_creation": True, "business_unit": "bu1"},
            "Enterprise",
        ),
        (
            "custom_licenses",
            "POST",
            f"/packages/{org}/{repo}",
            {**pkg, "custom_licenses": [license_name]},
            "Premium",
        ),
    ]


@pytest.fixture
def subject(api, world):
    owner = world.user()
    org = world.org(owner, plan="oss")
    repo = world.repo(org)
    world.package(org, repo, name="pkg")
    world.version(org, repo, "pkg", "1.0")
    put = api.put(f"/content/{org}/{repo}/pkg/1.0/f.txt?publish=1", owner.auth, data=b"x")
    assert put.status_code == 201, put.text
    return owner, org, repo


def set_plan(api, org: str, owner: str, plan: str) -> None:
    response = api.put(f"/orgs/{org}", ADMIN, json={"owner": owner, "plan": plan})
    assert response.status_code == 200, response.text


def test_each_plan_rule_is_refused_below_its_plan_and_granted_at_it(api, subject):
    owner, org, repo = subject
    for plan, allowed in (
        ("oss", set()),
        ("premium", {"Premium"}),
        ("enterprise", {"Premium", "Enterprise"}),
    ):
        set_plan(api, org, owner.name, plan)
        for feature, method, path, body, needs in requests_for(org, repo):
            response = api.request(method, path, owner.auth, json=body)
            if needs in allowed:
                assert response.status_code in (200, 201), (
                    plan,
                    feature,
                    response.status_code,
                    response.text,
                )
            else:
                assert response.status_code == 403, (plan, feature, response.status_code, response.text)
                message = response.json()["message"]
                # On oss, a feature of a Premium resource (a business unit) meets the Premium rule first.
                named = {needs, "Premium"} if plan == "oss" else {needs}
                assert any(f"Bintray {p} accounts" in message for p in named), (plan, feature, message)


def test_every_feature_names_a_plan():
    for feature, (minimum, title) in plans.FEATURES.items():
        assert minimum in plans.PLAN_TITLE, feature
        assert title, feature


def test_plan_rules_live_in_one_module():
    """No module but chalicelib/plans.py words a plan refusal of its own."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "chalicelib").rglob("*.py")
        if path.name != "plans.py" and "only available for" in path.read_text()
    ]
    assert offenders == []
