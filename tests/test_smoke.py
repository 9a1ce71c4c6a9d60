from tests.conftest import unique


def test_walkthrough(api, world, admin):
    alice = world.user()
    repo = world.repo(alice.name)
    r = api.get(f"/repos/{alice.name}/{repo}")
    assert r.status_code == 200, r.text
    pkg = world.package(alice.name, repo)
    v = world.version(alice.name, repo, pkg, "1.0")
    r = api.get(f"/packages/{alice.name}/{repo}/{pkg}")
    assert r.status_code == 200, r.text
    assert r.json()["versions"] == [v]
    r = api.get(f"/packages/{alice.name}/{repo}/{pkg}/versions/_latest", auth=alice.auth)
    assert r.json()["name"] == "1.0", r.text
    assert unique()
