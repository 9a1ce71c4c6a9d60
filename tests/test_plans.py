"""Plans: every plan-gated route answers as the real Bintray did below its plan (rule 1 of
/work/shared/bintray-observed.md: status and message word for word), succeeds at it, and checks a
named item's existence before the plan (rule 2). The table covers every plan-gated route of
``chalicelib.web.routing.ROUTES``; the refusals are worded in chalicelib/plans.py only."""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from chalicelib.web.routing import ROUTES
from tests.conftest import ADMIN, unique

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLANS = ("oss", "premium", "enterprise")

NONE_PREMIUM = "This action is not allowed for none-premium subject {subject}"
ENTITLEMENTS = "This resource is only available for subjects with entitlement management enabled"
ENTERPRISE = "This resource is only available for Enterprise users"
GEO = (
    "Account Plan is not suitable for repo geo restriction. "
    "Geo restrictions are only available for Enterprise accounts"
)
IP = "Your repo commercial type does not support IP restrictions."
SIGNING = "Repository '/{subject}/{repo}' must be premium"
PRODUCT_PACKAGE = "Package {repo}/pkg should be under premium repository to be part of a product"
USAGE_THRESHOLDS = "Usage thresholds are only available for organizations on an Enterprise plan."
STATISTICS = "This resource is only available for premium packages."
#: The scene's download log (of today: the scene downloads a file and runs the job).
LOG_NAME = f"downloads-{datetime.now(UTC):%d-%m-%Y}.log.gz"


@dataclass
class Row:
    """One request of a plan-gated route: ``route`` is its declared path, ``path`` the request's
    (``{name}`` is the named item); ``refusals`` maps the plans that refuse it to (status, message)."""

    method: str
    route: str
    path: str
    refusals: dict[str, tuple[int, str]]
    body: dict | None = None
    name: str | None = None
    missing: str | None = None  # the 404 message of a named item that does not exist ({} is its name)
    user: bool = False  # the subject is the scene's user (else its organisation)
    ok: tuple[int, ...] = (200, 201)
    extra: dict = field(default_factory=dict)


def premium(status: int, message: str) -> dict[str, tuple[int, str]]:
    return {"oss": (status, message)}


def enterprise(on_oss: tuple[int, str] = (403, ENTERPRISE)) -> dict[str, tuple[int, str]]:
    return {"oss": on_oss, "premium": (403, ENTERPRISE)}


SUBJECT_FEATURE = premium(400, NONE_PREMIUM)


def rows() -> list[Row]:
    """Every plan-gated request, in an order where each succeeds at its plan (creates before reads,
    deletes last); names ``keep``/``gone`` are created by the scene."""
    out: list[Row] = []
    for kind, param, user in (("orgs", "org", False), ("users", "user", True)):
        base, route = f"/{kind}/{{subject}}", f"/{kind}/{{{param}}}"
        out += [
            Row("GET", f"{route}/teams", f"{base}/teams", SUBJECT_FEATURE, user=user),
            Row("POST", f"{route}/teams", f"{base}/teams", SUBJECT_FEATURE, {"name": "new"}, user=user),
            Row(
                "GET",
                f"{route}/teams/{{team}}",
                f"{base}/teams/{{name}}",
                SUBJECT_FEATURE,
                name="keep",
                missing="Team '{}' was not found",
                user=user,
            ),
            Row(
                "PATCH",
                f"{route}/teams/{{team}}",
                f"{base}/teams/{{name}}",
                SUBJECT_FEATURE,
                {"allow_repo_creation": True},
                name="keep",
                missing="Team '{}' was not found",
                user=user,
            ),
            Row(
                "DELETE",
                f"{route}/teams/{{team}}",
                f"{base}/teams/{{name}}",
                SUBJECT_FEATURE,
                name="gone",
                missing="Team '{}' was not found",
                user=user,
            ),
            Row("GET", f"{route}/access_keys", f"{base}/access_keys", premium(403, ENTITLEMENTS), user=user),
            Row(
                "POST",
                f"{route}/access_keys",
                f"{base}/access_keys",
                premium(403, ENTITLEMENTS),
                {"id": "new"},
                user=user,
            ),
            Row(
                "GET",
                f"{route}/access_keys/{{access_key_id}}",
                f"{base}/access_keys/{{name}}",
                premium(403, ENTITLEMENTS),
                name="keep",
                missing="Access key '{}' was not found",
                user=user,
            ),
            Row(
                "PATCH",
                f"{route}/access_keys/{{access_key_id}}",
                f"{base}/access_keys/{{name}}",
                premium(403, ENTITLEMENTS),
                {"api_only": True},
                name="keep",
                missing="Access key '{}' was not found",
                user=user,
            ),
            Row(
                "DELETE",
                f"{route}/access_keys/{{access_key_id}}",
                f"{base}/access_keys/{{name}}",
                premium(403, ENTITLEMENTS),
                name="gone",
                missing="Access key '{}' was not found",
                user=user,
            ),
            Row("GET", f"{route}/licenses", f"{base}/licenses", SUBJECT_FEATURE, user=user),
            Row("POST", f"{route}/licenses", f"{base}/licenses", SUBJECT_FEATURE, {"name": "new"}, user=user),
            Row(
                "PATCH",
                f"{route}/licenses/{{custom_license_name}}",
                f"{base}/licenses/{{name}}",
                SUBJECT_FEATURE,
                {"description": "d"},
                name="keep",
                missing="License '{}' was not found",
                user=user,
            ),
            Row(
                "DELETE",
                f"{route}/licenses/{{custom_license_name}}",
                f"{base}/licenses/{{name}}",
                SUBJECT_FEATURE,
                name="gone",
                missing="License '{}' was not found",
                user=user,
            ),
        ]
    perms = "/repos/{subject}/{repo}/permissions"
    out += [
        Row("GET", perms, perms, SUBJECT_FEATURE),
        Row(
            "PUT",
            perms,
            perms,
            SUBJECT_FEATURE,
            {"team": "{name}", "permission": "publish"},
            name="keep",
            missing="Team '{}' was not found",
        ),
        Row(
            "GET",
            perms + "/{team}",
            perms + "/{name}",
            SUBJECT_FEATURE,
            name="keep",
            missing="Team '{}' has no permission on repository '{repo}'",
        ),
        Row(
            "DELETE",
            perms + "/{team}",
            perms + "/{name}",
            SUBJECT_FEATURE,
            name="perm",
            missing="Team '{}' has no permission on repository '{repo}'",
        ),
    ]
    scopes = {
        "repo": "/repos/{subject}/{repo}/entitlements",
        "package": "/packages/{subject}/{repo}/{package}/entitlements",
        "version": "/packages/{subject}/{repo}/{package}/versions/{version}/entitlements",
        "product": "/products/{subject}/{product}/entitlements",
    }
    for kind, route in scopes.items():
        path = route.replace("{package}", "pkg").replace("{version}", "1.0").replace("{product}", "prod")
        refusals = enterprise((403, ENTITLEMENTS)) if kind == "product" else premium(403, ENTITLEMENTS)
        one, missing = route + "/{entitlement_id}", "Entitlement '{}' was not found"
        out += [
            Row("GET", route, path, refusals),
            Row("POST", route, path, refusals, {"access": "r"}),
            Row("GET", one, path + "/{name}", refusals, name=f"keep-{kind}", missing=missing),
            Row(
                "PATCH",
                one,
                path + "/{name}",
                refusals,
                {"tags": ["x"]},
                name=f"keep-{kind}",
                missing=missing,
            ),
            Row("DELETE", one, path + "/{name}", refusals, name=f"gone-{kind}", missing=missing),
        ]
    out.append(
        Row(
            "GET",
            "/search/entitlements",
            "/search/entitlements?tag=t&scope={subject}",
            premium(403, ENTITLEMENTS),
        )
    )
    geo, ip = "/repos/{subject}/{repo}/geo_restrictions", "/repos/{subject}/{repo}/ip_restrictions"
    out += [
        Row("PUT", geo, geo, {"oss": (403, GEO), "premium": (403, GEO)}, {"white_list": ["US"]}),
        Row("GET", geo, geo, {"oss": (403, GEO), "premium": (403, GEO)}),
        Row("DELETE", geo, geo, {"oss": (403, GEO), "premium": (403, GEO)}),
        Row("PUT", ip, ip, premium(403, IP), {"white_cidrs": ["10.0.0.0/8"]}),
        Row("PATCH", ip, ip, premium(403, IP), {"add": {"black_cidrs": ["10.1.0.0/16"]}}),
        Row("DELETE", ip, ip, premium(403, IP)),
        Row(
            "POST",
            "/signed_url/{subject}/{repo}/{file_path+}",
            "/signed_url/{subject}/{repo}/f.txt",
            premium(403, SIGNING),
            {},
        ),
        Row("POST", "/subjects/{subject}/keypair", "/subjects/{subject}/keypair", SUBJECT_FEATURE),
        # Dynamic download (the published file 1.0/app.txt of pkg 1.0).
        Row(
            "GET",
            "/content/{subject}/{repo}/{file_path+}",
            "/content/{subject}/{repo}/$latest/app.txt?bt_package=pkg",
            premium(403, SIGNING),
            ok=(302,),
        ),
    ]
    products, product = "/products/{subject}", "/products/{subject}/{product}"
    eulas, readme = product + "/eulas", product + "/readme"
    missing_product = "Product '{}' was not found"
    out += [
        Row("GET", products, products, enterprise()),
        Row("POST", products, products, enterprise(), {"name": "new"}),
        Row(
            "POST",
            products,
            products,
            enterprise((400, PRODUCT_PACKAGE)),
            {"name": "new2", "packages": ["{repo}/pkg"]},
        ),
        Row("GET", product, "/products/{subject}/{name}", enterprise(), name="prod", missing=missing_product),
        Row(
            "PATCH",
            product,
            "/products/{subject}/{name}",
            enterprise(),
            {"desc": "d"},
            name="prod",
            missing=missing_product,
        ),
        Row(
            "PATCH",
            product,
            "/products/{subject}/{name}",
            enterprise((400, PRODUCT_PACKAGE)),
            {"packages": ["{repo}/pkg"]},
            name="prod",
            missing=missing_product,
        ),
        Row(
            "POST",
            readme,
            "/products/{subject}/{name}/readme",
            enterprise(),
            {"bintray": {"content": "x"}},
            name="prod",
            missing=missing_product,
        ),
        Row(
            "DELETE",
            readme,
            "/products/{subject}/{name}/readme",
            enterprise(),
            name="prod",
            missing=missing_product,
        ),
        Row(
            "GET",
            eulas,
            "/products/{subject}/{name}/eulas",
            enterprise(),
            name="prod",
            missing=missing_product,
        ),
        Row(
            "POST",
            eulas,
            "/products/{subject}/{name}/eulas",
            enterprise(),
            {"name": "new"},
            name="prod",
            missing=missing_product,
        ),
        Row(
            "GET",
            eulas + "/{eula}",
            "/products/{subject}/prod/eulas/{name}",
            enterprise(),
            name="keep",
            missing="EULA '{}' was not found",
        ),
        Row(
            "PATCH",
            eulas + "/{eula}",
            "/products/{subject}/prod/eulas/{name}",
            enterprise(),
            {"content": "c"},
            name="keep",
            missing="EULA '{}' was not found",
        ),
        Row(
            "DELETE",
            eulas + "/{eula}",
            "/products/{subject}/prod/eulas/{name}",
            enterprise(),
            name="gone",
            missing="EULA '{}' was not found",
        ),
        Row(
            "GET",
            "/file_eula/{subject}/{repo}/{file_path+}",
            "/file_eula/{subject}/{repo}/f.txt",
            enterprise(),
        ),
        Row(
            "GET",
            product + "/versions/{version}/accept_eula",
            "/products/{subject}/prod/versions/{name}/accept_eula",
            enterprise(),
            name="1.0",
            missing="Version '{}' of product 'prod' was not found",
        ),
        Row(
            "POST",
            product + "/versions/{version}/accept_eula",
            "/products/{subject}/prod/versions/{name}/accept_eula",
            enterprise(),
            name="1.0",
            missing="Version '{}' of product 'prod' was not found",
        ),
        Row(
            "GET",
            product + "/signed_eulas",
            "/products/{subject}/{name}/signed_eulas",
            enterprise(),
            name="prod",
            missing=missing_product,
        ),
        Row("GET", product + "/signed_eulas", "/products/{subject}/_all/signed_eulas", enterprise()),
        Row(
            "DELETE",
            product,
            "/products/{subject}/{name}",
            enterprise(),
            name="gone",
            missing=missing_product,
        ),
    ]
    # Fields of otherwise ungated routes.
    package = {"licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
    out += [
        Row(
            "POST",
            "/packages/{subject}/{repo}",
            "/packages/{subject}/{repo}",
            SUBJECT_FEATURE,
            {"name": "new", **package, "custom_licenses": ["keep"]},
        ),
        Row(
            "PATCH",
            "/packages/{subject}/{repo}/{package}",
            "/packages/{subject}/{repo}/pkg",
            SUBJECT_FEATURE,
            {"public_stats": True},
        ),
        Row(
            "PATCH",
            "/repos/{subject}/{repo}",
            "/repos/{subject}/{repo}",
            enterprise(),
            {"version_update_max_days": 5},
        ),
        Row(
            "POST",
            "/orgs/{org}/teams",
            "/orgs/{subject}/teams",
            enterprise((400, NONE_PREMIUM)),
            {"name": "bu", "allow_repo_creation": True, "business_unit": "bu1"},
        ),
    ]
    # Usage thresholds of the organisation, its repository and the scene's business unit "bu1";
    # download logs of "pkg" (the scene's download, written by the job).
    thresholds = {"oss": (403, USAGE_THRESHOLDS), "premium": (403, USAGE_THRESHOLDS)}
    for scope, route, path, name, missing in (
        ("organization", "{org}", "{subject}", None, None),
        ("repo", "{org}/{repo}", "{subject}/{repo}", None, None),
        (
            "business_unit",
            "{org}/{business_unit}",
            "{subject}/{name}",
            "bu1",
            "BusinessUnit '{}' was not found",
        ),
    ):
        base, path = f"/usage_threshold/{scope}/{route}", f"/usage_threshold/{scope}/{path}"
        for method, body in (
            ("POST", {"daily_download_bytes": 1}),
            ("GET", None),
            ("PATCH", {}),
            ("DELETE", None),
        ):
            out.append(Row(method, base, path, thresholds, body, name=name, missing=missing))
    logs = "/packages/{subject}/{repo}/{package}/logs"
    out += [
        Row("GET", logs, "/packages/{subject}/{repo}/pkg/logs", premium(403, STATISTICS)),
        Row(
            "GET",
            f"{logs}/{{log_name}}",
            "/packages/{subject}/{repo}/pkg/logs/{name}",
            premium(403, STATISTICS),
            name=LOG_NAME,
            missing="Log file '{}' was not found",
            ok=(302,),
        ),
    ]
    return out


#: Path fragments of the plan-gated routes (IP restrictions: all but GET).
GATED = (
    "/teams",
    "/permissions",
    "/access_keys",
    "/entitlements",
    "/licenses/",
    "/products/",
    "/file_eula/",
    "/signed_url/",
    "/keypair",
    "/geo_restrictions",
    "/ip_restrictions",
    "/usage_threshold/",
    "/logs",
)


def gated_routes() -> set[tuple[str, str]]:
    out = set()
    for spec in ROUTES:
        if not any(part in spec.path + "/" for part in GATED) or spec.path == "/licenses/oss_licenses":
            continue
        out |= {
            (m, spec.path)
            for m in spec.methods
            if (m, spec.path) != ("GET", "/repos/{subject}/{repo}/ip_restrictions")
        }
    return out


def test_the_table_covers_every_plan_gated_route():
    declared = {(m, spec.path) for spec in ROUTES for m in spec.methods}
    table = {(row.method, row.route) for row in rows()}
    assert table <= declared, table - declared
    assert gated_routes() <= table, gated_routes() - table


class Scene:
    """An organisation (owner ``owner``) and a user ``user``, each with everything the table names,
    built on Enterprise; ``plan`` moves a subject's plan."""

    def __init__(self, api, world):
        self.api = api
        self.owner, self.user = world.user(), world.user()
        self.org = world.org(self.owner, plan="enterprise")
        self.plans = {self.org: "enterprise", self.user.name: "oss"}
        self.plan(self.user.name, "enterprise")
        self.repo = world.repo(self.org)
        world.package(self.org, self.repo, name="pkg")
        world.version(self.org, self.repo, "pkg", "1.0")
        for path in ("f.txt", "1.0/app.txt"):
            self.ok("PUT", f"/content/{self.org}/{self.repo}/pkg/1.0/{path}?publish=1", data=b"x")
        self.ok("POST", f"/products/{self.org}", json={"name": "prod", "packages": [f"{self.repo}/pkg"]})
        self.ok("POST", f"/products/{self.org}", json={"name": "gone"})
        for name, default in (("keep", True), ("gone", False)):
            self.ok("POST", f"/products/{self.org}/prod/eulas", json={"name": name, "default": default})
        for base in (f"/orgs/{self.org}", f"/users/{self.user.name}"):
            for name in ("keep", "gone", "perm"):
                self.ok("POST", f"{base}/teams", json={"name": name})
            for name in ("keep", "gone"):
                self.ok("POST", f"{base}/access_keys", json={"id": name})
                self.ok("POST", f"{base}/licenses", json={"name": name})
        # The business unit "bu1" (usage thresholds of a business unit), named by a team.
        body = {"name": "unit", "allow_repo_creation": True, "business_unit": "bu1"}
        self.ok("POST", f"/orgs/{self.org}/teams", json=body)
        # A download of "pkg" (recorded in the request) and the job writing its log (download logs).
        from chalicelib import events
        from chalicelib.download_logs import services as download_logs

        sender, events.sender = events.sender, None
        try:
            assert self.api.get(f"/dl/{self.org}/{self.repo}/f.txt", ADMIN).status_code == 302
        finally:
            events.sender = sender
        assert download_logs.run().files == 1
        for team in ("keep", "perm"):
            self.ok(
                "PUT", f"/repos/{self.org}/{self.repo}/permissions", json={"team": team, "permission": "read"}
            )
        for kind, scope in (
            ("repo", f"/repos/{self.org}/{self.repo}"),
            ("package", f"/packages/{self.org}/{self.repo}/pkg"),
            ("version", f"/packages/{self.org}/{self.repo}/pkg/versions/1.0"),
            ("product", f"/products/{self.org}/prod"),
        ):
            for name in ("keep", "gone"):
                self.ok(
                    "POST",
                    f"{scope}/entitlements",
                    json={"id": f"{name}-{kind}", "access": "r", "tags": ["t"]},
                )

    def ok(self, method: str, path: str, **kwargs) -> None:
        response = self.api.request(method, path, ADMIN, **kwargs)
        assert response.status_code in (200, 201), (method, path, response.text)

    def plan(self, subject: str, plan: str) -> None:
        if self.plans[subject] == plan:
            return
        if subject == self.org:
            self.ok("PUT", f"/orgs/{subject}", json={"owner": self.owner.name, "plan": plan})
        else:
            self.ok("PUT", f"/api/security/users/{subject}", json={"email": "u@example.com", "plan": plan})
        self.plans[subject] = plan

    def request(self, row: Row, name: str | None = None):
        """``row``'s request (``name``: the named item), by the subject's own admin; also the subject."""
        subject = self.user.name if row.user else self.org
        values = {"subject": subject, "repo": self.repo, "name": name or row.name or ""}
        fill = lambda text: re.sub(r"{(\w+)}", lambda m: values[m.group(1)], text)  # noqa: E731
        body = {k: fill(v) if isinstance(v, str) else v for k, v in (row.body or {}).items()}
        if "packages" in body:
            body["packages"] = [fill(p) for p in body["packages"]]
        for key in ("name", "id"):  # what a POST creates gets a new name each time
            if row.method == "POST" and key in body:
                body[key] = unique(body[key])
        auth = self.user.auth if row.user else self.owner.auth
        json = body if row.body is not None or row.method in ("POST", "PUT", "PATCH") else None
        return subject, self.api.request(row.method, fill(row.path), auth, json=json)


@pytest.fixture(scope="module")
def scene(api):
    from tests.conftest import World

    return Scene(api, World(api))


@pytest.mark.parametrize("row", rows(), ids=lambda r: f"{r.method} {r.path}")
def test_refused_below_its_plan_as_observed_then_allowed_at_it(scene, row):
    subject = scene.user.name if row.user else scene.org
    for plan in PLANS:
        scene.plan(subject, plan)
        owner, response = scene.request(row)
        if plan in row.refusals:
            status, message = row.refusals[plan]
            assert response.status_code == status, (plan, response.text)
            assert response.json() == {"message": message.format(subject=owner, repo=scene.repo)}, plan
            continue
        assert response.status_code in row.ok, (plan, response.text)
        return


@pytest.mark.parametrize("row", [r for r in rows() if r.missing], ids=lambda r: f"{r.method} {r.path}")
def test_a_missing_named_item_is_404_before_the_plan(scene, row):
    subject = scene.user.name if row.user else scene.org
    scene.plan(subject, "oss")
    _, response = scene.request(row, name="nope")
    assert response.status_code == 404, response.text
    assert response.json() == {"message": row.missing.replace("{}", "nope").replace("{repo}", scene.repo)}


def test_ip_restrictions_are_read_on_every_plan(scene):
    scene.plan(scene.org, "oss")
    response = scene.api.get(f"/repos/{scene.org}/{scene.repo}/ip_restrictions", scene.owner.auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"white_cidrs": [], "black_cidrs": []}


def test_plan_rules_live_in_one_module():
    """No module but chalicelib/plans.py words a plan refusal of its own."""
    words = ("only available for", "none-premium", "must be premium", "commercial type", "Account Plan")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "chalicelib").rglob("*.py")
        if path.name != "plans.py" and any(word in path.read_text() for word in words)
    ]
    assert offenders == []
