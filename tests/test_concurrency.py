"""Uniqueness and cascades under concurrency: the invariants hold through conditional writes and
transactions in DynamoDB (the local AWS), not through read-then-write in the code.

The local gateway serialises requests like one Lambda container, so the races run the service
layer from several threads at once, as several containers would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from chalicelib.accounts.models import Subject
from chalicelib.accounts.services import OrgBody, UserBody, put_org, put_user
from chalicelib.errors import ShelfError
from chalicelib.packages.models import Package
from chalicelib.packages.services import CreatePackageBody, create_package
from chalicelib.repositories.models import Repository
from chalicelib.repositories.services import CreateRepoBody, create_repository, delete_repository
from tests.conftest import ADMIN, unique

ROUNDS = 5


def race(*actions: Callable[[], object]) -> list[int]:
    """Run ``actions`` at the same moment; returns the status each ended with (201 on success)."""
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], object]) -> int:
        barrier.wait()
        try:
            action()
        except ShelfError as error:
            return error.status
        return 201

    with ThreadPoolExecutor(len(actions)) as pool:
        return sorted(pool.map(run, actions))


def test_two_creators_of_one_repository_get_one_201(world):
    owner = Subject.get(world.user().name)
    for _ in range(ROUNDS):
        name = unique("r")
        body_a = CreateRepoBody(desc="from a")
        body_b = CreateRepoBody(desc="from b", private=True)
        outcomes = race(
            partial(create_repository, owner, name, body_a), partial(create_repository, owner, name, body_b)
        )
        assert outcomes == [201, 409]
        assert len([r for r in Repository.query(owner.name) if r.name == name]) == 1


def test_two_creators_of_one_package_get_one_201_and_one_count(api, world):
    user = world.user()
    owner = Subject.get(user.name)
    repo_name = world.repo(user.name)
    for _ in range(ROUNDS):
        repo = Repository.get(user.name, repo_name)
        body = CreatePackageBody(name=unique("p"), licenses=["MIT"], vcs_url="https://x/y.git")
        assert race(
            partial(create_package, owner, repo, body), partial(create_package, owner, repo, body)
        ) == [
            201,
            409,
        ]
    assert Repository.get(user.name, repo_name).package_count == ROUNDS
    assert len(api.get(f"/repos/{user.name}/{repo_name}/packages", ADMIN).json()) == ROUNDS


def test_two_creators_of_one_user_or_org_name_get_one_201(world):
    owner = world.user()
    for _ in range(ROUNDS):
        name = unique("s")
        outcomes = race(
            partial(put_user, name, UserBody(email="a@example.com")),
            partial(put_org, name, OrgBody(owner=owner.name)),
        )
        assert outcomes == [201, 409]


def test_package_created_while_its_repository_is_deleted_leaves_nothing_behind(world):
    user = world.user()
    owner = Subject.get(user.name)
    for _ in range(ROUNDS):
        repo_name = world.repo(user.name)
        repo = Repository.get(user.name, repo_name)
        body = CreatePackageBody(name="pkg", licenses=["MIT"], vcs_url="https://x/y.git")
        race(partial(create_package, owner, repo, body), partial(delete_repository, repo))
        # Whatever the interleaving, the deleted repository's id owns no package.
        assert list(Package.query(repo.id)) == []


def test_publish_while_the_latest_version_is_deleted_keeps_the_newer_version_latest(api, world, monkeypatch):
    """Deleting the latest version recomputes the package's pointers from its versions; a newer
    version published between that read and its write must stay the latest (an older one won)."""
    from chalicelib.packages import versions
    from chalicelib.packages.models import Version

    user = world.user()
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    base = f"/content/{user.name}/{repo}/{package}"
    for name, publish in (("1.0", 1), ("2.0", 1), ("3.0", 0)):
        world.version(user.name, repo, package, name)
        response = api.put(f"{base}/{name}/f-{name}.txt?publish={publish}", ADMIN, data=b"x")
        assert response.status_code == 201, response.text

    query = Version.ordinal_index.query
    calls = []

    def query_then_publish(*args, **kwargs):
        rows = list(query(*args, **kwargs))
        if not calls:  # the first read sees 3.0 unpublished; 3.0 is published right after it
            response = api.post(f"{base}/3.0/publish", ADMIN, json={})
            assert response.status_code == 200, response.text
        calls.append(len(rows))  # (other readers of the index may come through here too)
        return iter(rows)

    monkeypatch.setattr(Version.ordinal_index, "query", query_then_publish)
    stored = Package.get(Repository.get(user.name, repo).id, package)
    versions.delete_version(stored, Version.get(stored.id, "2.0"))

    body = api.get(f"/packages/{user.name}/{repo}/{package}").json()
    assert body["latest_version"] == "3.0"
    assert sorted(body["versions"]) == ["1.0", "3.0"]
