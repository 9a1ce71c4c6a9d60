"""Cross-subject access (BOLA): the owner of organisation A, with every right on A, names organisation
B's objects on every route of the route table (``ROUTES``), and B's access key is tried on A's content.

Two organisations are built alike (repositories, packages, versions, files, attributes, readmes,
products, EULAs, teams, access keys, entitlements, GPG keys, licenses, links, webhooks, usage
thresholds, download logs), with names that differ (``a-…``/``b-…``), so that mixing them in one path
names an object that exists only elsewhere. Each route is called over HTTP in these variants:

- ``theirs``: every path parameter names B's objects (B's private repository; for non-reads also its
  public one): refused as the permission matrix of a stranger demands (observed rules: 404 inside a
  private repository, 403 ``forbidden`` for another organisation's admin resources, 403 to publish);
- ``my_subject``: A's subject with B's repository and objects, and ``their_subject``: B's subject
  with A's repository: 404, the repository does not exist there;
- ``their_ids``: A's own path (A may do anything there) naming B's package, product, EULA, team,
  access key, entitlement, business unit, license or linked package: 404 (403 for a link of B's
  private package), never B's object;
- ``their_key``: B's access key on A's content: 404 inside A's private repository, 403 elsewhere.

No answer of any of these carries B's marker (a string only B's private and admin objects hold),
and every GET route of both organisations answers the same before and after (nothing was changed).
"""

from __future__ import annotations

import re
import uuid

import pytest

from chalicelib.auth.policy import Need
from chalicelib.config import settings
from chalicelib.web.routing import ROUTES, RouteSpec
from tests.conftest import ADMIN, World

#: Routes not walked here, with the reason (a route that names no object of another subject).
NOT_CROSS_SUBJECT = {
    "regenerate_api_key": "no path parameter: replaces the caller's own key",
    "follow": "following any user is allowed: it changes the caller's own list",
    "unfollow": "the caller's own list",
    "system_public_key": "no path parameter: the system's public key",
    "oss_licenses": "no path parameter: the public license list",
    "list_users": "no path parameter (system administrators only: tests/test_permissions.py)",
    "openapi_document": "no path parameter: the public API description",
}

#: Search routes naming the other subject in the query (the leak check covers their answers).
SEARCHES = {
    "search_users": {"name": "{user}"},
    "search_files": {"name": "f.txt", "subject": "{org}", "repo": "{repo}"},
    "search_packages": {"name": "{package}", "subject": "{org}", "repo": "{repo}"},
    "search_maven_packages": {"g": "*", "a": "*", "subject": "{org}", "repo": "{repo}"},
    "search_repositories": {"name": "{repo}"},
    "search_entitlements": {"tag": "{mark}", "scope": "{org}"},
}

#: Routes the policy opens to a caller without rights on the subject (public reads, searches,
#: profiles, any authenticated caller): what the handler answers for B's objects. Their bodies
#: still never carry B's marker nor its private repository's name.
HANDLER_DECIDES = {
    "get_org": (200,),  # an organisation's public profile
    "get_user": (200,),
    "get_followers": (200,),
    "org_public_key": (200,),  # public keys are public
    "user_public_key": (200,),
    "get_repositories": (200,),  # the public repositories only
    "get_products": (200,),  # only products with a package the caller may read: none of B's
    "get_product": (404,),  # B's product holds its private package only
    "get_eulas": (200,),  # observed rule 4: listed for any authenticated user
    "show_eula_acceptance": (404,),  # accepting is for callers entitled to a version: A is not
    "accept_eula": (404,),
    "npm_login": (400, 401),  # a login with no credentials: refused, for any repository
    "set_or_search_file_attributes": (403,),  # setting on B's public file needs 'publish'
    "search_package_attributes": (200,),  # B's public repository: its public packages
    "search_version_attributes": (200,),
    "search_entitlements": (403,),  # observed rule 3: 403 "Forbidden"
    "search_users": (200,),
    "search_files": (200,),
    "search_packages": (200,),
    "search_maven_packages": (200,),
    "search_repositories": (200,),
}

#: ``their_ids`` cases refused before the foreign id is looked up, with the reason.
THEIR_IDS_FIRST = {
    "maven_central_sync": ((400,), "A's generic repository is no Maven one: refused before the package"),
}

#: Request bodies where ``{}`` would be refused before the route reaches the object.
BODIES = {
    "search_package_attributes": [{"att": "public"}],
    "search_version_attributes": [{"att": "public"}],
    "register_webhook": {"url": "http://127.0.0.1:9/never-called"},
}

#: The observed refusals of a stranger on another organisation's admin resources that resolve as
#: AUTHENTICATED and check 'admin' in the handler (tests/test_permissions.py ADMIN_IN_HANDLER).
ADMIN_IN_HANDLER = {"read_stream"} | {
    f"{verb}_business_unit_threshold" for verb in ("get", "create", "update", "delete")
}

ID_PARAMS = (
    "package",
    "product",
    "eula",
    "team",
    "access_key_id",
    "entitlement_id",
    "business_unit",
    "custom_license_name",
    "source_subject",
)

FILE_PATHS = {
    "publish_content": "{package}/1.0/publish",
    "get_file_attributes": "f.txt/attributes",
    "set_or_search_file_attributes": "f.txt/attributes",
    "update_file_attributes": "f.txt/attributes",
    "delete_file_attributes": "f.txt/attributes",
    "upload_maven": "com/acme/{package}/1.0/{package}-1.0.jar",
    "npm_read": "{package}",
    "npm_write": "{package}",
    "npm_delete": "{package}/-rev/1",
    "gpg_sign": "{package}/versions/1.0",
    "calc_metadata_path": "f.txt",
}


def build_org(api, world: World, tag: str) -> dict:
    """An Enterprise organisation owned by a new user, with one object of every kind, all named
    ``<tag>-…``; B's private and admin objects carry ``mark``."""
    mark = f"mark{uuid.uuid4().hex[:12]}"
    owner = world.user(plan="enterprise")
    org = world.org(owner, plan="enterprise")
    member = world.user()
    world.member(org, member, "member")
    repos = {False: world.repo(org), True: world.repo(org, private=True)}
    package = f"{tag}-pkg"
    for private, repo in repos.items():
        desc = {"desc": f"hidden {mark}"} if private else {}
        world.package(org, repo, name=package, **desc)
        world.version(org, repo, package, "1.0", **desc)
        files = ["f.txt"] + ([f"hidden-{mark}.txt"] if private else [])
        for path in files:
            response = api.put(f"/content/{org}/{repo}/{package}/1.0/{path}", ADMIN, data=b"x")
            assert response.status_code == 201, response.text
        response = api.post(f"/content/{org}/{repo}/{package}/1.0/publish", ADMIN, json={})
        assert response.status_code == 200, response.text
        text = mark if private else "public"
        for path in ("readme", "release_notes", "versions/1.0/release_notes"):
            body = {"bintray": {"content": text}}
            response = api.post(f"/packages/{org}/{repo}/{package}/{path}", ADMIN, json=body)
            assert response.status_code == 200, response.text
        for path in (f"/packages/{org}/{repo}/{package}", f"/packages/{org}/{repo}/{package}/versions/1.0"):
            response = api.post(f"{path}/attributes", ADMIN, json=[{"name": "att", "values": [text]}])
            assert response.status_code == 200, response.text
        response = api.post(
            f"/files/{org}/{repo}/f.txt/attributes", ADMIN, json=[{"name": "att", "values": [text]}]
        )
        assert response.status_code == 200, response.text
    product, eula = f"{tag}-prod", f"{tag}-eula"
    members = [f"{repos[True]}/{package}"]  # nothing of it is readable by strangers
    response = api.post(f"/products/{org}", ADMIN, json={"name": product, "packages": members})
    assert response.status_code == 201, response.text
    response = api.post(f"/products/{org}/{product}/eulas", ADMIN, json={"name": eula, "default": True})
    assert response.status_code == 201, response.text
    team = f"{tag}-team"
    for path, names in ((f"/orgs/{org}", [member.name]), (f"/users/{owner.name}", [])):
        response = api.post(f"{path}/teams", ADMIN, json={"name": team, "members": names})
        assert response.status_code == 201, response.text
    response = api.put(
        f"/repos/{org}/{repos[True]}/permissions", ADMIN, json={"team": team, "permission": "publish"}
    )
    assert response.status_code == 200, response.text
    key = f"{tag}-key"
    response = api.post(f"/orgs/{org}/access_keys", ADMIN, json={"id": key})
    assert response.status_code == 201, response.text
    key_auth = (response.json()["username"], response.json()["password"])
    response = api.post(f"/users/{owner.name}/access_keys", ADMIN, json={"id": key})
    assert response.status_code == 201, response.text
    for private in (False, True, None):
        for kind, scope in (
            ("repo", f"/repos/{org}/{repos[bool(private)]}"),
            ("package", f"/packages/{org}/{repos[bool(private)]}/{package}"),
            ("version", f"/packages/{org}/{repos[bool(private)]}/{package}/versions/1.0"),
            ("product", f"/products/{org}/{product}"),
        ):
            if (kind == "product") != (private is None):
                continue
            body = {"id": f"{tag}-ent-{kind}-{private}", "access": "r", "tags": [mark]}
            if kind == "package" and private:
                body["access_keys"] = [key]
            response = api.post(f"{scope}/entitlements", ADMIN, json=body)
            assert response.status_code == 201, response.text
    response = api.post(f"/products/{org}/{product}/versions/1.0/accept_eula", key_auth, json={})
    assert response.status_code in (200, 201), response.text
    for path in (f"/orgs/{org}", f"/users/{owner.name}"):
        response = api.post(f"{path}/keys/gpg", ADMIN, json={})
        assert response.status_code == 201, response.text
    license_name = f"{tag}-lic"
    for path in (f"/orgs/{org}", f"/users/{owner.name}"):
        body = {"name": license_name, "description": mark, "url": "https://example.com/license"}
        response = api.post(f"{path}/licenses", ADMIN, json=body)
        assert response.status_code == 201, response.text
    business_unit = f"{tag}-bu"
    body = {"name": f"{tag}-bu-team", "allow_repo_creation": True, "business_unit": business_unit}
    response = api.post(f"/orgs/{org}/teams", ADMIN, json=body)
    assert response.status_code == 201, response.text
    for path in (
        f"organization/{org}",
        f"business_unit/{org}/{business_unit}",
        *(f"repo/{org}/{r}" for r in repos.values()),
    ):
        response = api.post(f"/usage_threshold/{path}", ADMIN, json={"daily_download_bytes": 1})
        assert response.status_code == 201, response.text
    hook = {"url": f"http://127.0.0.1:9/{mark}"}  # loopback: allowed in this module, never called
    response = api.post(f"/webhooks/{org}/{repos[True]}/{package}", ADMIN, json=hook)
    assert response.status_code == 201, response.text
    return {
        "tag": tag,
        "mark": mark,
        "owner": owner,
        "org": org,
        "user": owner.name,
        "repos": repos,
        "package": package,
        "product": product,
        "eula": eula,
        "team": team,
        "key": key,
        "key_auth": key_auth,
        "license": license_name,
        "business_unit": business_unit,
    }


@pytest.fixture(scope="module")
def allow_loopback():
    """Webhook targets on loopback are accepted (the documented local-testing setting); none is
    called: nothing is published, and every trigger names another subject's package."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHELF_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")
        settings.cache_clear()
        yield
    settings.cache_clear()


@pytest.fixture(scope="module")
def orgs(api, allow_loopback) -> dict:
    world = World(api)
    a, b = build_org(api, world, "a"), build_org(api, world, "b")
    # B links A's public package into its public repository (unlinking it is B's business only).
    link = f"/repository/{b['org']}/{b['repos'][False]}/links/{a['org']}/{a['repos'][False]}/{a['package']}"
    response = api.put(link, ADMIN, json={})
    assert response.status_code == 201, response.text
    # Download logs: a download of each organisation's files, then the job that writes the logs.
    from chalicelib import events
    from chalicelib.download_logs import services as download_logs

    sender, events.sender = events.sender, None
    try:
        for org in (a, b):
            for repo in org["repos"].values():
                assert api.get(f"/dl/{org['org']}/{repo}/f.txt", ADMIN).status_code == 302
    finally:
        events.sender = sender
    download_logs.run()
    log_name = download_logs.log_name(download_logs.now().date())
    for org in (a, b):
        org["log_name"] = log_name
    return {"a": a, "b": b}


def _scope_kind(path: str) -> str:
    if path.startswith("/products/"):
        return "product"
    if "/versions/" in path:
        return "version"
    return "package" if path.startswith("/packages/") else "repo"


def values_of(org: dict, spec: RouteSpec, private: bool) -> dict[str, str]:
    """Every path parameter of ``spec`` naming ``org``'s objects (its private or public repository)."""
    subject = org["user"] if spec.path.startswith("/users/") else org["org"]
    kind = _scope_kind(spec.path)
    values = {
        "subject": subject,
        "org": org["org"],
        "user": org["user"],
        "name": org["user"],
        "repo": org["repos"][private],
        "package": org["package"],
        "version": "1.0",
        "team": org["team"],
        "custom_license_name": org["license"],
        "product": org["product"],
        "eula": org["eula"],
        "access_key_id": org["key"],
        "entitlement_id": f"{org['tag']}-ent-{kind}-{None if kind == 'product' else private}",
        "business_unit": org["business_unit"],
        "log_name": org["log_name"],
        "source_subject": org["org"],
        "source_repo": org["repos"][private],
        "source_package": org["package"],
    }
    values["file_path"] = FILE_PATHS.get(spec.handler, "f.txt").format(package=org["package"])
    return values


def fill(spec: RouteSpec, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)\+?}", lambda m: values[m.group(1)], spec.path)


def params_of(spec: RouteSpec) -> list[str]:
    return re.findall(r"{(\w+)\+?}", spec.path)


def has_repo(spec: RouteSpec) -> bool:
    return "repo" in params_of(spec) and not spec.creates_repo


def is_read(spec: RouteSpec, method: str) -> bool:
    return method in ("GET", "HEAD")


def stranger_refusal(spec: RouteSpec, private: bool) -> int | None:
    """The status the policy table demands of a caller without any right on the subject, or None
    where the route is open to such a caller (public reads, searches, profiles)."""
    need = Need.ADMIN if spec.handler in ADMIN_IN_HANDLER else spec.need
    if need is Need.SYSADMIN:
        return 403
    if has_repo(spec) and private:
        return 404  # a private repository and all inside it do not exist for a stranger
    if need in (Need.ADMIN, Need.PUBLISH, Need.MANAGE_REPOS):
        return 403
    return None


def cases() -> list[tuple[str, RouteSpec, str, str]]:
    out = []
    for spec in ROUTES:
        if spec.handler in NOT_CROSS_SUBJECT or (not params_of(spec) and spec.handler not in SEARCHES):
            continue
        for method in spec.methods:
            out.append(("theirs_private", spec, method))
            if has_repo(spec) and not (is_read(spec, method) and spec.need in (Need.ANYONE, Need.DOWNLOAD)):
                out.append(("theirs_public", spec, method))
            if has_repo(spec):  # one of the two mixes per route, alternating along the table
                out.append(("my_subject" if ROUTES.index(spec) % 2 else "their_subject", spec, method))
            if any(p in params_of(spec) for p in ID_PARAMS):
                out.append(("their_ids", spec, method))
            if has_repo(spec) and (
                spec.need in (Need.ANYONE, Need.DOWNLOAD, Need.KEY_HOLDER) or spec.key_files
            ):
                out.append(("their_key", spec, method))
    return [(variant, spec, method, f"{variant}-{method}-{spec.handler}") for variant, spec, method in out]


CASES = cases()


def request_of(orgs: dict, variant: str, spec: RouteSpec) -> tuple[str, dict[str, str], tuple[str, str]]:
    """(path, query, auth) of a case."""
    a, b = orgs["a"], orgs["b"]
    auth = a["owner"].auth
    if variant in ("theirs_private", "theirs_public"):
        values = values_of(b, spec, variant == "theirs_private")
        # A link of A's public package into B's repository; unlinking B's link of it.
        values.update(source_subject=a["org"], source_repo=a["repos"][False], source_package=a["package"])
    elif variant == "my_subject":
        values = values_of(b, spec, True)
        values.update(subject=a["org"], org=a["org"])
    elif variant == "their_subject":
        values = values_of(a, spec, True)
        values.update(subject=b["org"], org=b["org"])
    elif variant == "their_ids":
        values = values_of(a, spec, True)
        theirs = values_of(b, spec, True)
        for name in ID_PARAMS:
            values[name] = theirs[name]
        values.update(source_repo=theirs["source_repo"], source_package=theirs["source_package"])
        values["file_path"] = FILE_PATHS.get(spec.handler, "f.txt").format(package=b["package"])
    else:  # their_key: B's access key on A's private repository
        values = values_of(a, spec, True)
        auth = b["key_auth"]
    query = {k: v.format(**values, mark=b["mark"]) for k, v in SEARCHES.get(spec.handler, {}).items()}
    return fill(spec, values), query, auth


def expected(variant: str, spec: RouteSpec) -> tuple[int, ...]:
    if variant == "their_key":
        # An access key of another organisation: A's private repository does not exist for it.
        return (404,) if spec.need in (Need.ANYONE, Need.DOWNLOAD, Need.KEY_HOLDER) else (403, 404)
    if variant in ("my_subject", "their_subject"):
        return (404,)
    if variant == "their_ids":
        if spec.handler in THEIR_IDS_FIRST:
            return THEIR_IDS_FIRST[spec.handler][0]
        if spec.handler == "link_package":
            return (403, 404)  # observed rule 12: "unable to create link" (or the source is not found)
        return (404,)
    refusal = stranger_refusal(spec, variant == "theirs_private")
    if refusal is None:
        return HANDLER_DECIDES[spec.handler]
    return (refusal,)


def read_back(api, orgs: dict) -> dict[str, tuple[int, object]]:
    """One object of each kind of both organisations, as their owner reads it (downloads: the status,
    their signed locations differ each time)."""
    out = {}
    for o in orgs.values():
        org, priv, pub, pkg = o["org"], o["repos"][True], o["repos"][False], o["package"]
        paths = [
            f"/repos/{org}/{priv}",
            f"/packages/{org}/{priv}/{pkg}",
            f"/packages/{org}/{pub}/{pkg}",
            f"/packages/{org}/{priv}/{pkg}/versions/1.0",
            f"/packages/{org}/{priv}/{pkg}/versions/1.0/files",
            f"/packages/{org}/{priv}/{pkg}/attributes",
            f"/packages/{org}/{priv}/{pkg}/readme",
            f"/files/{org}/{priv}/f.txt/attributes",
            f"/dl/{org}/{priv}/f.txt",
            f"/dl/{org}/{priv}/hidden-{o['mark']}.txt",
            f"/orgs/{org}/teams/{o['team']}",
            f"/repos/{org}/{priv}/permissions",
            f"/orgs/{org}/access_keys/{o['key']}",
            f"/repos/{org}/{priv}/entitlements/{o['tag']}-ent-repo-True",
            f"/products/{org}/{o['product']}",
            f"/products/{org}/{o['product']}/eulas/{o['eula']}",
            f"/products/{org}/{o['product']}/signed_eulas",
            f"/orgs/{org}/licenses",
            f"/orgs/{org}/keys/gpg/public.key",
            f"/webhooks/{org}",
            f"/usage_threshold/organization/{org}",
            f"/usage_threshold/business_unit/{org}/{o['business_unit']}",
            f"/packages/{org}/{priv}/{pkg}/logs",
            f"/users/{o['user']}/teams/{o['team']}",
        ]
        for path in paths:
            response = api.get(path, o["owner"].auth)
            try:
                body = response.json()
            except ValueError:
                body = response.content
            out[path] = (response.status_code, None if response.status_code == 302 else body)
    return out


def dump() -> dict[str, dict[str, str]]:
    """Every item of every table (Scan: tests only), by table and key, and the bucket's keys."""
    import json

    from chalicelib.db import all_models
    from chalicelib.storage import s3

    out: dict[str, dict[str, str]] = {}
    for model in all_models():
        rows = {}
        for item in model.scan():
            data = item.serialize()
            key = json.dumps(
                [data.get(a) for a in (model._hash_keyname, model._range_keyname) if a], sort_keys=True
            )
            rows[key] = json.dumps(data, sort_keys=True, default=str)
        out[model.Meta.table_name] = rows
    pages = s3().get_paginator("list_objects_v2").paginate(Bucket=settings().bucket)
    out["s3"] = {obj["Key"]: obj["ETag"] for page in pages for obj in page.get("Contents", [])}
    return out


@pytest.fixture(scope="module")
def before(api, orgs) -> dict:
    return {"http": read_back(api, orgs), "db": dump()}


@pytest.fixture(scope="module")
def answers() -> list[tuple[str, str, str]]:
    """(case id, what was asked, answer) of every case, for the leak check."""
    return []


@pytest.mark.parametrize(("variant", "spec", "method", "case"), CASES, ids=[c[3] for c in CASES])
def test_cross_subject_refused(api, orgs, before, answers, variant, spec, method, case):
    path, query, auth = request_of(orgs, variant, spec)
    response = api.request(method, path, auth, params=query, json=BODIES.get(spec.handler, {}))
    want = expected(variant, spec)
    assert response.status_code in want, (method, path, response.status_code, response.text)
    asked = path + " " + " ".join(query.values())
    answers.append((case, asked, response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())))
    if response.status_code >= 400 and method != "HEAD":
        assert set(response.json()) == {"message"}, response.text
    if variant == "theirs_private" and response.status_code == 404 and method != "HEAD":
        message = response.json()["message"]
        if has_repo(spec):
            assert message == f"Repo '{orgs['b']['repos'][True]}' was not found", message
    if response.status_code == 403 and variant.startswith("theirs") and stranger_refusal(spec, False) == 403:
        if spec.need is Need.PUBLISH and has_repo(spec):
            repo = orgs["b"]["repos"][variant == "theirs_private"]
            assert response.json() == {
                "message": f"You do not have 'publish' permission on repository '{repo}'"
            }
        elif spec.need is Need.ADMIN and not has_repo(spec) and spec.handler != "read_stream":
            assert response.json() == {"message": "forbidden"}, (path, response.text)


def test_answers_never_carry_their_objects(orgs, answers):
    """Nothing of B's private or admin objects (its marker) is in any answer to A, nor anything of
    A's in an answer to B's access key."""
    assert len(answers) == len(CASES)
    leaked = []
    for case, asked, text in answers:
        other = orgs["a" if case.startswith("their_key") else "b"]
        private_repo = other["repos"][True]
        if other["mark"] in text or (private_repo in text and private_repo not in asked):
            leaked.append((case, text[:200]))
    assert leaked == []


def test_nothing_changed(api, orgs, before):
    """After every case, both organisations' objects read back exactly as before."""
    after = read_back(api, orgs)
    assert {path: status for path, (status, _) in after.items() if status not in (200, 302)} == {}
    changed = {
        path: (before["http"][path], answer)
        for path, answer in after.items()
        if before["http"][path] != answer
    }
    assert changed == {}
    # Every item of every table and every object of the bucket is as it was.
    db = dump()
    changes = {}
    for table, rows in db.items():
        old = before["db"][table]
        diff = {k: (old.get(k), rows.get(k)) for k in old.keys() | rows.keys() if old.get(k) != rows.get(k)}
        if diff:
            changes[table] = diff
    assert changes == {}
    assert all(db[table] for table in ("shelf-test-teams", "shelf-test-entitlements", "shelf-test-webhooks"))


def test_every_route_is_walked_or_excused():
    """Every route of the table is walked here or named in NOT_CROSS_SUBJECT with a reason."""
    walked = {spec.handler for _, spec, _, _ in CASES}
    missing = {spec.handler for spec in ROUTES} - walked - NOT_CROSS_SUBJECT.keys()
    assert missing == set()
    assert NOT_CROSS_SUBJECT.keys() <= {spec.handler for spec in ROUTES}
