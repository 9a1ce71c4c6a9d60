"""Readmes and release notes (spec: Readme, Release Notes): shapes, defaults, errors, rights, cascades."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN


@pytest.fixture
def pkg(world):
    """A public repository with a package (with a GitHub repository) and version 1.0 (with a vcs_tag)."""
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo, github_repo="gh-user/gh-repo")
    world.version(owner.name, repo, package, "1.0", vcs_tag="v1.0")
    base = f"/packages/{owner.name}/{repo}/{package}"
    return {"owner": owner, "repo": repo, "package": package, "base": base}


def head(pkg: dict) -> dict:
    return {"package": pkg["package"], "repo": pkg["repo"], "owner": pkg["owner"].name}


def assert_message(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message"}
    for word in words:
        assert word in body["message"], body


# --- readme -----------------------------------------------------------------------------------------


def test_readme_bintray_create_get_and_default_syntax(api, pkg):
    auth = pkg["owner"].auth
    assert_message(api.get(f"{pkg['base']}/readme", auth), 404, "readme")
    response = api.post(f"{pkg['base']}/readme", auth, json={"bintray": {"content": "the quick brown fox"}})
    expected = head(pkg) | {"bintray": {"syntax": "MARKDOWN", "content": "the quick brown fox"}}
    assert response.status_code == 200, response.text
    assert response.json() == expected
    assert api.get(f"{pkg['base']}/readme").json() == expected
    # A second POST replaces the readme; the syntax is answered in upper case whatever case was sent.
    body = {"bintray": {"syntax": "asciidoc", "content": "= Title"}}
    assert api.post(f"{pkg['base']}/readme", auth, json=body).status_code == 200
    expected = head(pkg) | {"bintray": {"syntax": "ASCIIDOC", "content": "= Title"}}
    assert api.get(f"{pkg['base']}/readme").json() == expected


def test_readme_github_is_stored_as_given(api, pkg):
    body = {"github": {"github_repo": "someone/else"}}
    response = api.post(f"{pkg['base']}/readme", pkg["owner"].auth, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == head(pkg) | body
    got = api.get(f"{pkg['base']}/readme")
    assert got.status_code == 200 and got.json() == head(pkg) | body


def test_readme_delete(api, pkg):
    auth = pkg["owner"].auth
    assert_message(api.delete(f"{pkg['base']}/readme", auth), 404, "readme")
    api.post(f"{pkg['base']}/readme", auth, json={"bintray": {"syntax": "plain_text", "content": "x"}})
    response = api.delete(f"{pkg['base']}/readme", auth)
    assert response.status_code == 200 and response.json() == {"message": "success"}
    assert_message(api.get(f"{pkg['base']}/readme"), 404, "readme")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["bintray", "github"]),
        ({"bintray": {"content": "a"}, "github": {"github_repo": "a/b"}}, ["bintray", "github"]),
        ({"bintray": {"syntax": "markdown"}}, ["bintray.content"]),
        ({"bintray": {"syntax": "html", "content": "a"}}, ["bintray.syntax"]),
        ({"bintray": {"content": 5}}, ["bintray.content"]),
        ({"bintray": "text"}, ["bintray"]),
        ({"github": {}}, ["github.github_repo"]),
        ({"github": {"github_repo": "no-slash"}}, ["github.github_repo"]),
    ],
)
def test_readme_invalid_bodies(api, pkg, body, words):
    assert_message(api.post(f"{pkg['base']}/readme", pkg["owner"].auth, json=body), 400, *words)
    assert api.get(f"{pkg['base']}/readme").status_code == 404


def test_readme_not_json_and_unknown_package(api, pkg):
    auth = pkg["owner"].auth
    response = api.post(f"{pkg['base']}/readme", auth, data=b"{nope")
    assert_message(response, 400, "JSON")
    body = {"bintray": {"content": "x"}}
    assert_message(api.post(f"{pkg['base']}-missing/readme", auth, json=body), 404, "Package")
    assert_message(api.get(f"{pkg['base']}-missing/readme"), 404, "Package")


# --- package release notes ------------------------------------------------------------------------


def test_package_release_notes_bintray(api, pkg):
    auth = pkg["owner"].auth
    assert_message(api.get(f"{pkg['base']}/release_notes"), 404, "release notes")
    response = api.post(f"{pkg['base']}/release_notes", auth, json={"bintray": {"content": "fixed"}})
    expected = head(pkg) | {"bintray": {"syntax": "MARKDOWN", "content": "fixed"}}
    assert response.status_code == 200 and response.json() == expected, response.text
    assert api.get(f"{pkg['base']}/release_notes").json() == expected
    deleted = api.delete(f"{pkg['base']}/release_notes", auth)
    assert deleted.status_code == 200 and deleted.json() == {"message": "success"}
    assert api.get(f"{pkg['base']}/release_notes").status_code == 404
    assert_message(api.delete(f"{pkg['base']}/release_notes", auth), 404, "release notes")


def test_package_release_notes_github(api, pkg, world):
    body = {"github": {"github_repo": "gh_user/repo", "github_release_notes_file": "1.2/release_notes.md"}}
    response = api.post(f"{pkg['base']}/release_notes", pkg["owner"].auth, json=body)
    assert response.status_code == 200 and response.json() == head(pkg) | body, response.text
    assert api.get(f"{pkg['base']}/release_notes").json() == head(pkg) | body
    # Without github_repo in the body, the package's GitHub repository is used.
    only_file = {"github": {"github_release_notes_file": "NOTES.md"}}
    response = api.post(f"{pkg['base']}/release_notes", pkg["owner"].auth, json=only_file)
    assert response.json()["github"] == {
        "github_repo": "gh-user/gh-repo",
        "github_release_notes_file": "NOTES.md",
    }
    # A package without a GitHub repository: 400 naming the field.
    bare = world.package(pkg["owner"].name, pkg["repo"])
    response = api.post(
        f"/packages/{pkg['owner'].name}/{pkg['repo']}/{bare}/release_notes", ADMIN, json=only_file
    )
    assert_message(response, 400, "github_repo")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"github": {"github_repo": "a/b"}}, ["github.github_release_notes_file"]),
        (
            {"github": {"github_repo": "a/b", "github_release_notes_file": 3}},
            ["github.github_release_notes_file"],
        ),
        ({"bintray": {"content": "a", "syntax": 1}}, ["bintray.syntax"]),
        ({"bintray": None, "github": None}, ["bintray", "github"]),
    ],
)
def test_package_release_notes_invalid_bodies(api, pkg, body, words):
    assert_message(api.post(f"{pkg['base']}/release_notes", pkg["owner"].auth, json=body), 400, *words)


# --- version release notes ------------------------------------------------------------------------


def test_version_release_notes_bintray_and_fallback_to_package(api, pkg):
    auth = pkg["owner"].auth
    url = f"{pkg['base']}/versions/1.0/release_notes"
    assert_message(api.get(url), 404, "release notes")
    api.post(f"{pkg['base']}/release_notes", auth, json={"bintray": {"content": "for all"}})
    fallback = api.get(url)
    assert fallback.status_code == 200, fallback.text
    assert fallback.json() == {"version": "1.0"} | head(pkg) | {
        "bintray": {"syntax": "MARKDOWN", "content": "for all"}
    }
    body = {"bintray": {"syntax": "Plain_Text", "content": "only 1.0"}}
    response = api.post(url, auth, json=body)
    expected = {"version": "1.0"} | head(pkg) | {"bintray": {"syntax": "PLAIN_TEXT", "content": "only 1.0"}}
    assert response.status_code == 200 and response.json() == expected, response.text
    assert api.get(url).json() == expected
    assert api.get(f"{pkg['base']}/versions/_latest/release_notes").json() == expected


def test_version_release_notes_github_file_and_use_release(api, pkg):
    url = f"{pkg['base']}/versions/1.0/release_notes"
    auth = pkg["owner"].auth
    body = {"github": {"github_release_notes_file": "1.0/release_notes.md"}}
    response = api.post(url, auth, json=body)
    assert response.status_code == 200 and response.json() == {"version": "1.0"} | head(pkg) | body
    assert api.get(url).json()["github"] == {"github_release_notes_file": "1.0/release_notes.md"}
    for flag in ("true", True):
        response = api.post(url, auth, json={"github": {"use_release": flag}})
        assert response.status_code == 200, response.text
        assert response.json()["github"] == {"use_release": "true"}
        assert api.get(url).json()["github"] == {"use_release": "true"}


def test_version_release_notes_preconditions(api, pkg, world):
    owner = pkg["owner"].name
    auth = pkg["owner"].auth
    world.version(owner, pkg["repo"], pkg["package"], "2.0")  # no vcs_tag
    response = api.post(
        f"{pkg['base']}/versions/2.0/release_notes", auth, json={"github": {"use_release": "true"}}
    )
    assert_message(response, 400, "vcs_tag")
    bare = world.package(owner, pkg["repo"])  # no github_repo
    world.version(owner, pkg["repo"], bare, "1.0", vcs_tag="v1")
    url = f"/packages/{owner}/{pkg['repo']}/{bare}/versions/1.0/release_notes"
    assert_message(
        api.post(url, auth, json={"github": {"github_release_notes_file": "N.md"}}), 400, "github_repo"
    )
    for body, words in [
        ({"github": {}}, ["github_release_notes_file", "use_release"]),
        ({"github": {"use_release": "false"}}, ["github_release_notes_file", "use_release"]),
        ({"github": {"use_release": "yes"}}, ["github.use_release"]),
        ({"github": {"github_release_notes_file": "a", "use_release": True}}, ["use_release"]),
    ]:
        assert_message(api.post(f"{pkg['base']}/versions/1.0/release_notes", auth, json=body), 400, *words)
    assert_message(api.get(f"{pkg['base']}/versions/9.9/release_notes"), 404, "Version")
    assert_message(api.post(f"{pkg['base']}/versions/9.9/release_notes", auth, json={}), 404, "Version")


# --- permissions ----------------------------------------------------------------------------------


def test_permissions(api, world):
    owner, stranger = world.user(), world.user()
    bodies = {"readme": {"bintray": {"content": "r"}}, "release_notes": {"bintray": {"content": "n"}}}
    for private in (False, True):
        repo = world.repo(owner.name, private=private)
        package = world.package(owner.name, repo)
        world.version(owner.name, repo, package, "1.0")
        base = f"/packages/{owner.name}/{repo}/{package}"
        urls = {
            f"{base}/readme": bodies["readme"],
            f"{base}/release_notes": bodies["release_notes"],
            f"{base}/versions/1.0/release_notes": bodies["release_notes"],
        }
        for url, body in urls.items():
            assert api.post(url, owner.auth, json=body).status_code == 200
            # Reads follow the repository's visibility.
            for auth in (None, stranger.auth):
                response = api.get(url, auth)
                if private:
                    assert_message(response, 404, "Repo")
                else:
                    assert response.status_code == 200 and response.json()["bintray"] == {
                        "syntax": "MARKDOWN",
                        "content": body["bintray"]["content"],
                    }
            # Writes: anonymous 401; a stranger 403 on public, 404 on private.
            assert_message(api.post(url, None, json=body), 401)
            assert_message(api.post(url, stranger.auth, json=body), 404 if private else 403)
            if not url.endswith("/versions/1.0/release_notes"):
                assert_message(api.delete(url, None), 401)
                assert_message(api.delete(url, stranger.auth), 404 if private else 403)
            assert api.get(url, owner.auth).status_code == 200  # untouched


def test_org_member_may_publish(api, world):
    owner, member = world.user(), world.user()
    org = world.org(owner, plan="premium")
    world.member(org, member, "member")
    repo = world.repo(org, private=True)
    world.team(org, [member], {repo: "publish"})  # members publish through teams
    package = world.package(org, repo)
    url = f"/packages/{org}/{repo}/{package}/readme"
    assert api.post(url, member.auth, json={"github": {"github_repo": "a/b"}}).status_code == 200
    assert api.get(url, member.auth).json()["github"] == {"github_repo": "a/b"}
    assert api.delete(url, member.auth).status_code == 200


# --- cascades -------------------------------------------------------------------------------------


def fill_all(api, pkg: dict, version: str = "1.0") -> None:
    auth = pkg["owner"].auth
    for url in (
        f"{pkg['base']}/readme",
        f"{pkg['base']}/release_notes",
        f"{pkg['base']}/versions/{version}/release_notes",
    ):
        assert api.post(url, auth, json={"bintray": {"content": "old"}}).status_code == 200


def test_version_deletion_removes_its_release_notes(api, pkg, world):
    fill_all(api, pkg)
    assert api.delete(f"{pkg['base']}/versions/1.0", pkg["owner"].auth).status_code == 200
    world.version(pkg["owner"].name, pkg["repo"], pkg["package"], "1.0")
    api.delete(f"{pkg['base']}/release_notes", pkg["owner"].auth)
    assert_message(api.get(f"{pkg['base']}/versions/1.0/release_notes"), 404, "release notes")
    assert api.get(f"{pkg['base']}/readme").status_code == 200  # the package's readme stays


def test_package_deletion_removes_everything(api, pkg, world):
    from chalicelib.docs_meta.models import DocsMeta
    from chalicelib.packages.models import Package
    from chalicelib.repositories.models import Repository

    owner = pkg["owner"].name
    repo_id = Repository.get(owner, pkg["repo"]).id
    package_id = Package.get(repo_id, pkg["package"]).id
    fill_all(api, pkg)
    assert DocsMeta.count(package_id) == 3
    assert api.delete(pkg["base"], pkg["owner"].auth).status_code == 200
    assert DocsMeta.count(package_id) == 0
    world.package(owner, pkg["repo"], name=pkg["package"])
    world.version(owner, pkg["repo"], pkg["package"], "1.0")
    for path in ("readme", "release_notes", "versions/1.0/release_notes"):
        assert api.get(f"{pkg['base']}/{path}").status_code == 404, path


def test_repository_deletion_removes_everything(api, pkg):
    from chalicelib.docs_meta.models import DocsMeta
    from chalicelib.packages.models import Package
    from chalicelib.repositories.models import Repository

    repo_id = Repository.get(pkg["owner"].name, pkg["repo"]).id
    package_id = Package.get(repo_id, pkg["package"]).id
    fill_all(api, pkg)
    assert api.delete(f"/repos/{pkg['owner'].name}/{pkg['repo']}", pkg["owner"].auth).status_code == 200
    assert DocsMeta.count(package_id) == 0
