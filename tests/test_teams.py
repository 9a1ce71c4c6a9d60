"""Teams (issue #5, item 2): team CRUD for organisations and users, repository team permissions,
the policy's use of them (a team with publish on a repository uploads there and nowhere else),
allow_repo_creation, plans, validation and cascades."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, assert_message, unique

SUCCESS = {"message": "success"}


@pytest.fixture
def org_scene(api, world):
    """A premium organisation (owner, a plain member, a stranger), two private repositories with a
    package each."""
    owner, member, stranger = world.user(), world.user(), world.user()
    org = world.org(owner, plan="premium")
    world.member(org, member)
    repos = [world.repo(org, private=True) for _ in range(2)]
    for repo in repos:
        world.package(org, repo, name="pkg")
    return {"org": org, "owner": owner, "member": member, "stranger": stranger, "repos": repos}


def create_team(api, subject_path: str, auth, **body):
    body.setdefault("name", unique("t"))
    response = api.post(f"{subject_path}/teams", auth, json=body)
    assert response.status_code == 201, response.text
    return body["name"]


def upload(api, org: str, repo: str, auth) -> int:
    return api.put(f"/content/{org}/{repo}/pkg/1.0/{unique('f')}.txt", auth, data=b"x").status_code


def set_permission(api, org: str, repo: str, team: str, permission: str, auth=ADMIN) -> None:
    response = api.put(
        f"/repos/{org}/{repo}/permissions", auth, json={"team": team, "permission": permission}
    )
    assert response.status_code == 200 and response.json() == SUCCESS, response.text


# --- CRUD -------------------------------------------------------------------------------------


def test_org_team_crud_shapes(api, world, org_scene):
    org, owner, member = org_scene["org"], org_scene["owner"], org_scene["member"]
    base = f"/orgs/{org}/teams"
    assert api.get(base, owner.auth).json() == {"teams": []}
    response = api.post(
        base,
        owner.auth,
        json={"name": "devs", "members": [member.name, owner.name], "allow_repo_creation": True},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "name": "devs",
        "owner": org,
        "members": sorted([member.name, owner.name]),
        "permitted_repos": {},
        "allow_repo_creation": True,
        "business_unit": None,
    }
    create_team(api, f"/orgs/{org}", owner.auth, name="alpha")
    assert api.get(base, owner.auth).json() == {"teams": ["alpha", "devs"]}
    got = api.get(f"{base}/devs", owner.auth)
    assert got.status_code == 200 and got.json()["members"] == sorted([member.name, owner.name])
    assert got.json()["permitted_repos"] == {}

    response = api.patch(
        f"{base}/devs", owner.auth, json={"members": [member.name], "allow_repo_creation": False}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "devs",
        "owner": org,
        "members": [member.name],
        "permitted_repos": {},
        "allow_repo_creation": False,
        "business_unit": None,
    }
    # Fields absent from the body stay as they are.
    response = api.patch(f"{base}/devs", owner.auth, json={"allow_repo_creation": True})
    assert response.json()["members"] == [member.name] and response.json()["allow_repo_creation"] is True

    # Get Organization lists the teams (to its admins).
    assert api.get(f"/orgs/{org}", owner.auth).json()["teams"] == ["alpha", "devs"]

    assert api.delete(f"{base}/devs", owner.auth).json() == SUCCESS
    assert api.get(f"{base}/devs", owner.auth).status_code == 404
    assert api.get(base, owner.auth).json() == {"teams": ["alpha"]}


def test_user_teams(api, world):
    user, friend = world.user(plan="premium"), world.user()
    base = f"/users/{user.name}/teams"
    name = create_team(api, f"/users/{user.name}", user.auth, members=[friend.name])
    assert api.get(base, user.auth).json() == {"teams": [name]}
    body = api.get(f"{base}/{name}", user.auth).json()
    assert body["owner"] == user.name and body["members"] == [friend.name]
    missing = unique("nobody")
    response = api.post(base, user.auth, json={"name": "x", "members": [friend.name, missing]})
    assert response.status_code == 400
    assert_message(response, "members", missing)
    assert api.delete(f"{base}/{name}", user.auth).json() == SUCCESS
    assert api.get(base, user.auth).json() == {"teams": []}


def test_only_admins_of_the_subject_manage_teams(api, world, org_scene):
    org, member, stranger = org_scene["org"], org_scene["member"], org_scene["stranger"]
    name = create_team(api, f"/orgs/{org}", ADMIN)
    for auth in (member.auth, stranger.auth):
        assert api.get(f"/orgs/{org}/teams", auth).status_code == 403
        assert api.post(f"/orgs/{org}/teams", auth, json={"name": "x"}).status_code == 403
        assert api.delete(f"/orgs/{org}/teams/{name}", auth).status_code == 403
    assert api.get(f"/orgs/{org}/teams").status_code == 401
    other = world.user(plan="premium")
    assert api.get(f"/users/{other.name}/teams", stranger.auth).status_code == 403
    assert api.get(f"/users/{other.name}/teams", other.auth).status_code == 200


def test_teams_need_premium(api, world):
    owner = world.user()
    org = world.org(owner)  # oss
    repo = world.repo(org)
    for subject, response in (
        (org, api.get(f"/orgs/{org}/teams", owner.auth)),
        (org, api.post(f"/orgs/{org}/teams", owner.auth, json={"name": "t"})),
        (owner.name, api.get(f"/users/{owner.name}/teams", owner.auth)),
        (org, api.get(f"/repos/{org}/{repo}/permissions", owner.auth)),
    ):
        # Observed: a 400 for teams of a subject on the free plan.
        assert response.status_code == 400, response.text
        want = f"This action is not allowed for none-premium subject {subject}"
        assert response.json() == {"message": want}
    # A named team that does not exist is a 404 first.
    response = api.get(f"/orgs/{org}/teams/t", owner.auth)
    assert response.status_code == 404 and response.json() == {"message": "Team 't' was not found"}


def test_business_unit_rules(api, world):
    owner = world.user()
    premium, enterprise = world.org(owner, plan="premium"), world.org(owner, plan="enterprise")
    response = api.post(
        f"/orgs/{premium}/teams",
        owner.auth,
        json={"name": "t", "allow_repo_creation": True, "business_unit": "bu"},
    )
    assert response.status_code == 403
    assert response.json() == {"message": "This resource is only available for Enterprise users"}
    response = api.post(f"/orgs/{enterprise}/teams", owner.auth, json={"name": "t", "business_unit": "bu"})
    assert response.status_code == 400
    assert_message(response, "allow_repo_creation")
    response = api.post(
        f"/orgs/{enterprise}/teams",
        owner.auth,
        json={"name": "t", "allow_repo_creation": True, "business_unit": "bu"},
    )
    assert response.status_code == 201 and response.json()["business_unit"] == "bu", response.text
    response = api.patch(f"/orgs/{enterprise}/teams/t", owner.auth, json={"allow_repo_creation": False})
    assert response.status_code == 400
    response = api.patch(
        f"/orgs/{enterprise}/teams/t", owner.auth, json={"allow_repo_creation": False, "business_unit": None}
    )
    assert response.status_code == 200 and response.json()["business_unit"] is None, response.text


def test_validation_not_found_and_conflict(api, world, org_scene):
    org, owner, stranger = org_scene["org"], org_scene["owner"], org_scene["stranger"]
    base = f"/orgs/{org}/teams"
    for body, words in (
        ({}, ("name",)),
        ({"name": "bad name"}, ("team name",)),
        ({"name": "../x"}, ("team name",)),
        ({"name": "t", "members": "alice"}, ("members",)),
        ({"name": "t", "members": [1]}, ("members",)),
        ({"name": "t", "allow_repo_creation": "yes"}, ("allow_repo_creation",)),
        ({"name": "t", "members": [stranger.name]}, (stranger.name, "not a member", org)),
        ({"name": "t", "members": [""]}, ("members", "user name")),
        ({"name": "t", "members": ["x" * 5000]}, ("members", "user name")),
        ({"name": "x" * 65}, ("name",)),
    ):
        response = api.post(base, owner.auth, json=body)
        assert response.status_code == 400, (body, response.text)
        assert_message(response, *words)
    assert api.post(base, owner.auth, data=b"{nope").status_code == 400
    name = create_team(api, f"/orgs/{org}", owner.auth)
    response = api.post(base, owner.auth, json={"name": name})
    assert response.status_code == 409
    assert_message(response, name)
    response = api.patch(f"{base}/{name}", owner.auth, json={"members": [stranger.name]})
    assert response.status_code == 400
    for method in ("GET", "PATCH", "DELETE"):
        response = api.request(method, f"{base}/nope", owner.auth, json={})
        assert response.status_code == 404, method
        assert_message(response, "nope")
        assert api.request(method, f"{base}/{'y' * 2000}", owner.auth, json={}).status_code == 404
    # Teams of an organisation live under /orgs, a user's under /users.
    assert api.get(f"/users/{org}/teams", ADMIN).status_code == 404
    assert api.get(f"/orgs/{owner.name}/teams", ADMIN).status_code == 404
    assert api.get(f"/orgs/{unique('o')}/teams", ADMIN).status_code == 404


# --- permissions ------------------------------------------------------------------------------


def test_permissions_set_get_list_delete(api, world, org_scene):
    org, owner = org_scene["org"], org_scene["owner"]
    repo, other = org_scene["repos"]
    a = create_team(api, f"/orgs/{org}", owner.auth, name="a-team")
    b = create_team(api, f"/orgs/{org}", owner.auth, name="b-team")
    base = f"/repos/{org}/{repo}/permissions"
    assert api.get(base, owner.auth).json() == []
    set_permission(api, org, repo, a, "read", owner.auth)
    set_permission(api, org, repo, b, "publish", owner.auth)
    set_permission(api, org, repo, a, "admin", owner.auth)  # replaces
    set_permission(api, org, other, a, "publish", owner.auth)
    assert api.get(base, owner.auth).json() == [
        {"team": a, "permission": "admin"},
        {"team": b, "permission": "publish"},
    ]
    assert api.get(f"{base}/{b}", owner.auth).json() == {"team": b, "permission": "publish"}
    assert api.get(f"/orgs/{org}/teams/{a}", owner.auth).json()["permitted_repos"] == {
        repo: "admin",
        other: "publish",
    }
    for body, status in (
        ({"team": a, "permission": "write"}, 400),
        ({"team": a}, 400),
        ({"permission": "read"}, 400),
        ({"team": "ghost", "permission": "read"}, 404),
        ({"team": "", "permission": "read"}, 404),
        ({"team": "z" * 65, "permission": "read"}, 400),
        ({"team": a, "permission": "publish", "extra": 1}, 200),
    ):
        response = api.put(base, owner.auth, json=body)
        assert response.status_code == status, (body, response.text)
    assert api.delete(f"{base}/{b}", owner.auth).json() == SUCCESS
    assert api.get(f"{base}/{b}", owner.auth).status_code == 404
    response = api.delete(f"{base}/{b}", owner.auth)
    assert response.status_code == 404
    assert_message(response, b)
    assert api.get(f"/orgs/{org}/teams/{b}", owner.auth).json()["permitted_repos"] == {}
    assert api.get(base, org_scene["member"].auth).status_code == 403
    assert api.get(f"/repos/{org}/{repo}/permissions", org_scene["stranger"].auth).status_code == 404


def test_team_publish_on_one_repository_only(api, world, org_scene):
    org, owner, member = org_scene["org"], org_scene["owner"], org_scene["member"]
    a, b = org_scene["repos"]
    # A plain member reads the organisation's (private) repositories but publishes nowhere.
    assert api.get(f"/repos/{org}/{a}", member.auth).status_code == 200
    assert upload(api, org, a, member.auth) == 403
    team = create_team(api, f"/orgs/{org}", owner.auth, members=[member.name])
    set_permission(api, org, a, team, "publish")
    assert upload(api, org, a, member.auth) == 201
    assert upload(api, org, b, member.auth) == 403
    # Publish is not admin.
    assert api.patch(f"/repos/{org}/{a}", member.auth, json={"desc": "x"}).status_code == 403
    # Removing the permission takes the right away.
    assert api.delete(f"/repos/{org}/{a}/permissions/{team}", owner.auth).status_code == 200
    assert upload(api, org, a, member.auth) == 403
    # So does leaving the team ...
    set_permission(api, org, a, team, "publish")
    assert upload(api, org, a, member.auth) == 201
    assert api.patch(f"/orgs/{org}/teams/{team}", owner.auth, json={"members": []}).status_code == 200
    assert upload(api, org, a, member.auth) == 403
    # ... and deleting the team; a re-created team of the same name has no permission.
    api.patch(f"/orgs/{org}/teams/{team}", owner.auth, json={"members": [member.name]})
    assert upload(api, org, a, member.auth) == 201
    assert api.delete(f"/orgs/{org}/teams/{team}", owner.auth).status_code == 200
    assert upload(api, org, a, member.auth) == 403
    assert api.get(f"/repos/{org}/{a}/permissions", owner.auth).json() == []
    create_team(api, f"/orgs/{org}", owner.auth, name=team, members=[member.name])
    assert upload(api, org, a, member.auth) == 403
    assert api.get(f"/orgs/{org}/teams/{team}", owner.auth).json()["permitted_repos"] == {}


def test_team_admin_permission(api, world, org_scene):
    org, owner, member = org_scene["org"], org_scene["owner"], org_scene["member"]
    a, b = org_scene["repos"]
    team = create_team(api, f"/orgs/{org}", owner.auth, members=[member.name])
    set_permission(api, org, a, team, "admin")
    assert api.patch(f"/repos/{org}/{a}", member.auth, json={"desc": "x"}).status_code == 200
    assert api.get(f"/repos/{org}/{a}/permissions", member.auth).status_code == 200
    assert api.patch(f"/repos/{org}/{b}", member.auth, json={"desc": "x"}).status_code == 403


def test_leaving_the_org_leaves_its_teams(api, world, org_scene):
    org, owner, member = org_scene["org"], org_scene["owner"], org_scene["member"]
    a = org_scene["repos"][0]
    team = create_team(api, f"/orgs/{org}", owner.auth, members=[member.name, owner.name])
    set_permission(api, org, a, team, "publish")
    assert api.delete(f"/orgs/{org}/members/{member.name}", ADMIN).status_code == 200
    assert api.get(f"/orgs/{org}/teams/{team}", owner.auth).json()["members"] == [owner.name]
    world.member(org, member)  # back as a plain member: no team, no publish
    assert upload(api, org, a, member.auth) == 403


def test_user_team_with_read_on_a_private_repository(api, world):
    user, friend = world.user(plan="premium"), world.user()
    repo = world.repo(user.name, private=True)
    world.package(user.name, repo, name="pkg")
    assert api.get(f"/repos/{user.name}/{repo}", friend.auth).status_code == 404
    assert api.get(f"/repos/{user.name}", friend.auth).json() == []
    team = create_team(api, f"/users/{user.name}", user.auth, members=[friend.name])
    set_permission(api, user.name, repo, team, "read", user.auth)
    assert api.get(f"/repos/{user.name}/{repo}", friend.auth).status_code == 200
    # Listings show it to the team's members too.
    assert api.get(f"/repos/{user.name}", friend.auth).json() == [{"name": repo, "owner": user.name}]
    assert api.get(f"/users/{user.name}", friend.auth).json()["repos"] == [repo]
    assert api.get(f"/repos/{user.name}", world.user().auth).json() == []
    assert upload(api, user.name, repo, friend.auth) == 403
    set_permission(api, user.name, repo, team, "publish", user.auth)
    assert upload(api, user.name, repo, friend.auth) == 201
    # Others still see nothing.
    assert api.get(f"/repos/{user.name}/{repo}", world.user().auth).status_code == 404


def test_allow_repo_creation(api, world):
    owner, member, other = world.user(), world.user(), world.user()
    org = world.org(owner, plan="enterprise")
    world.member(org, member)
    world.member(org, other)
    team = create_team(
        api, f"/orgs/{org}", owner.auth, members=[member.name], allow_repo_creation=True, business_unit="bu1"
    )
    name = unique("r")
    response = api.post(f"/repos/{org}/{name}", member.auth, json={"private": True})
    assert response.status_code == 201, response.text
    assert response.json()["business_unit"] == "bu1"  # the team's default
    response = api.post(f"/repos/{org}/{unique('r')}", member.auth, json={"business_unit": "mine"})
    assert response.json()["business_unit"] == "mine"
    assert api.patch(f"/repos/{org}/{name}", member.auth, json={"desc": "d"}).status_code == 200
    assert api.delete(f"/repos/{org}/{name}", member.auth).status_code == 403  # create and update only
    assert api.post(f"/repos/{org}/{unique('r')}", other.auth, json={}).status_code == 403
    api.patch(
        f"/orgs/{org}/teams/{team}", owner.auth, json={"allow_repo_creation": False, "business_unit": None}
    )
    assert api.post(f"/repos/{org}/{unique('r')}", member.auth, json={}).status_code == 403


# --- cascades ---------------------------------------------------------------------------------


def test_deleting_a_repository_removes_it_from_teams(api, world, org_scene):
    org, owner, member = org_scene["org"], org_scene["owner"], org_scene["member"]
    a, b = org_scene["repos"]
    t1 = create_team(api, f"/orgs/{org}", owner.auth, members=[member.name])
    t2 = create_team(api, f"/orgs/{org}", owner.auth)
    for team in (t1, t2):
        set_permission(api, org, a, team, "publish")
        set_permission(api, org, b, team, "read")
    assert api.delete(f"/repos/{org}/{a}", owner.auth).status_code == 200
    for team in (t1, t2):
        assert api.get(f"/orgs/{org}/teams/{team}", owner.auth).json()["permitted_repos"] == {b: "read"}
    # A re-created repository of the same name starts without team permissions.
    response = api.post(f"/repos/{org}/{a}", owner.auth, json={"private": True})
    assert response.status_code == 201
    assert api.get(f"/repos/{org}/{a}/permissions", owner.auth).json() == []
    world.package(org, a, name="pkg")
    assert upload(api, org, a, member.auth) == 403


def test_deleting_users_and_orgs_removes_their_teams(api, world):
    owner, member = world.user(), world.user()
    org = world.org(owner, plan="premium")
    world.member(org, member)
    team = create_team(api, f"/orgs/{org}", owner.auth, members=[member.name])
    host = world.user(plan="premium")
    user_team = create_team(api, f"/users/{host.name}", host.auth, members=[member.name])
    assert api.delete(f"/api/security/users/{member.name}", ADMIN).status_code == 200
    assert api.get(f"/orgs/{org}/teams/{team}", owner.auth).json()["members"] == []
    assert api.get(f"/users/{host.name}/teams/{user_team}", host.auth).json()["members"] == []
    assert api.delete(f"/orgs/{org}", ADMIN).status_code == 200
    # A new organisation of the same name starts without teams.
    response = api.put(f"/orgs/{org}", ADMIN, json={"owner": owner.name, "plan": "premium"})
    assert response.status_code == 201
    assert api.get(f"/orgs/{org}/teams", owner.auth).json() == {"teams": []}


def test_large_team_changes_span_several_transactions(api, world):
    """More members than one transaction holds: every member gets and loses the team's rights."""
    host = world.user(plan="premium")
    friends = [world.user() for _ in range(30)]
    repo = world.repo(host.name, private=True)
    team = create_team(api, f"/users/{host.name}", host.auth, members=[f.name for f in friends])
    set_permission(api, host.name, repo, team, "read", host.auth)
    body = api.get(f"/users/{host.name}/teams/{team}", host.auth).json()
    assert body["members"] == sorted(f.name for f in friends)
    for friend in (friends[0], friends[-1]):
        assert api.get(f"/repos/{host.name}/{repo}", friend.auth).status_code == 200
    keep = [f.name for f in friends[:3]]
    response = api.patch(f"/users/{host.name}/teams/{team}", host.auth, json={"members": keep})
    assert response.json()["members"] == sorted(keep)
    assert api.get(f"/repos/{host.name}/{repo}", friends[-1].auth).status_code == 404
    assert api.get(f"/repos/{host.name}/{repo}", friends[0].auth).status_code == 200
    api.patch(f"/users/{host.name}/teams/{team}", host.auth, json={"members": [f.name for f in friends]})
    assert api.delete(f"/users/{host.name}/teams/{team}", host.auth).status_code == 200
    for friend in (friends[0], friends[-1]):
        assert api.get(f"/repos/{host.name}/{repo}", friend.auth).status_code == 404
    assert api.get(f"/repos/{host.name}/{repo}/permissions", host.auth).json() == []


def test_team_writes_retry_transaction_conflicts(api, world, org_scene, conflicts):
    org, owner, member = org_scene["org"], org_scene["owner"], org_scene["member"]
    repo = org_scene["repos"][0]
    conflicts(2)
    team = create_team(api, f"/orgs/{org}", owner.auth, members=[member.name])
    conflicts(2)
    set_permission(api, org, repo, team, "publish")
    assert upload(api, org, repo, member.auth) == 201
    conflicts(2)
    assert api.delete(f"/orgs/{org}/teams/{team}", owner.auth).status_code == 200
    assert upload(api, org, repo, member.auth) == 403
