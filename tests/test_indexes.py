"""The index machinery (chalicelib/indexes) with a test calculator (tests/fake_index.py): debounced
calculations after publish and delete, calc_metadata, the atomic switch, crash recovery, serving."""

from __future__ import annotations

import dataclasses
import time

import pytest
import requests

import app as app_module
from chalicelib import eventbus, queues
from chalicelib.indexes import registry, services
from chalicelib.indexes.models import IndexState
from infra.local.events import EventPump
from tests import fake_index
from tests.conftest import ADMIN, assert_message


@pytest.fixture(scope="module")
def pump():
    pump = EventPump(
        {queues.EVENTS: eventbus.lifecycle_events, queues.INDEXES: app_module.index_calculations}
    )
    pump.drain()
    return pump


@pytest.fixture(autouse=True)
def fake_calculator(monkeypatch):
    monkeypatch.setitem(registry.CALCULATOR_MODULES, "opkg", "tests.fake_index")
    real = services.settings()
    monkeypatch.setattr(services, "settings", lambda: dataclasses.replace(real, index_debounce_seconds=0))
    fake_index.RUNS.clear()
    fake_index.FAIL.clear()


def settle(pump: EventPump, repo_id: str, timeout: float = 10) -> IndexState:
    """Deliver events and calculations until the repository's index has nothing pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump.drain()
        state = services.state_of(repo_id)
        if state is not None and not state.schedule and not state.lease_until and not state.changed:
            return state
        time.sleep(0.1)
    raise AssertionError(f"index of {repo_id} did not settle")


def index_text(api, owner, repo, path="idx/list.txt", auth=None):
    response = api.get(f"/dl/{owner}/{repo}/{path}", auth)
    if response.status_code != 302:
        return response.status_code
    return requests.get(response.headers["Location"], timeout=10).text


@pytest.fixture(scope="module")
def scene(api, world_module):
    owner = world_module.user()
    repo = world_module.repo(owner.name, type="opkg")
    package = world_module.package(owner.name, repo)
    from chalicelib.repositories.models import Repository

    return owner, repo, package, Repository.get(owner.name, repo).id


@pytest.fixture(scope="module")
def world_module(api):
    from tests.conftest import World

    return World(api)


def upload(api, owner, repo, package, version, name, publish=True):
    response = api.put(
        f"/content/{owner.name}/{repo}/{package}/{version}/{name}", owner.auth, data=name.encode(),
        params={"publish": "1"} if publish else None,
    )
    assert response.status_code == 201, response.text


def test_an_empty_repository_is_indexed_at_first_read(api, scene):
    owner, repo, _, repo_id = scene
    assert index_text(api, owner.name, repo) == ""
    assert index_text(api, owner.name, repo, "idx/count.txt") == 404  # removed: nothing to count
    assert index_text(api, owner.name, repo, "idx/nothing") == 404
    assert services.state_of(repo_id).generation == 1


def test_a_burst_of_publishes_is_one_calculation_that_follows_and_deletes_follow(
    api, scene, pump, monkeypatch
):
    owner, repo, package, repo_id = scene
    real = services.settings()
    monkeypatch.setattr(services, "settings", lambda: dataclasses.replace(real, index_debounce_seconds=1))
    before = int(services.state_of(repo_id).generation)
    for i in range(3):
        upload(api, owner, repo, package, "1.0", f"f{i}.txt")
    upload(api, owner, repo, package, "1.0", "unpublished.txt", publish=False)
    state = settle(pump, repo_id)
    assert fake_index.RUNS == [False]  # one incremental run for the burst
    assert int(state.generation) == before + 1
    assert index_text(api, owner.name, repo) == "f0.txt\nf1.txt\nf2.txt"
    assert index_text(api, owner.name, repo, "idx/count.txt") == "3"
    response = api.delete(f"/content/{owner.name}/{repo}/f1.txt", owner.auth)
    assert response.status_code == 200, response.text
    settle(pump, repo_id)
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt"


def test_calc_metadata_schedules_a_calculation_from_scratch(api, scene, pump, world):
    owner, repo, _, repo_id = scene
    response = api.post(f"/calc_metadata/{owner.name}/{repo}", owner.auth)
    assert response.status_code == 202
    message = f"Calculation was successfully scheduled for '/{owner.name}/{repo}'"
    assert response.json() == {"message": message}
    response = api.post(f"/calc_metadata/{owner.name}/{repo}/some/path", owner.auth)
    assert response.status_code == 202
    settle(pump, repo_id)
    assert fake_index.RUNS == [True]  # both requests: one run
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt"
    generic = world.repo(owner.name)
    response = api.post(f"/calc_metadata/{owner.name}/{generic}", owner.auth)
    assert response.status_code == 400
    assert_message(response, "It is not possible to calculate index for Generic repositories.")
    assert api.post(f"/calc_metadata/{owner.name}/{repo}").status_code == 401
    stranger = world.user()
    assert api.post(f"/calc_metadata/{owner.name}/{repo}", stranger.auth).status_code == 403


def test_readers_see_the_old_index_until_the_switch_and_a_crash_is_undone(api, scene, pump, monkeypatch):
    owner, repo, package, repo_id = scene
    generation = int(services.state_of(repo_id).generation)
    flips: list = []
    real_release = services._release

    def crash_before_flip(claim, flipped, file_count=None):
        if flipped and not flips:
            flips.append(claim.attempt)
            raise RuntimeError("crashed before the switch")
        return real_release(claim, flipped, file_count)

    monkeypatch.setattr(services, "_release", crash_before_flip)
    upload(api, owner, repo, package, "1.1", "g.txt")
    with pytest.raises(RuntimeError):
        pump.drain()
    # The new generation's files are written, the pointer is not moved: readers see the old index.
    assert int(services.state_of(repo_id).generation) == generation
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt"
    # The lease expires; the message comes again; the next attempt starts from scratch.
    IndexState(repo_id).update(actions=[IndexState.lease_until.set(1)])
    services.run(repo_id)
    assert fake_index.RUNS[-1] is True
    assert index_text(api, owner.name, repo) == "f0.txt\nf2.txt\ng.txt"
    assert int(services.state_of(repo_id).generation) > generation


def test_a_failing_calculation_frees_the_lease_and_is_retried(api, scene, pump):
    owner, repo, package, repo_id = scene
    fake_index.FAIL.append(ValueError("bad package"))
    upload(api, owner, repo, package, "1.2", "h.txt")
    with pytest.raises(ValueError):
        pump.drain()
    assert services.state_of(repo_id).lease_until is None
    services.request(repo_id, owner.name, repo, ["h.txt"])
    settle(pump, repo_id)
    assert "h.txt" in index_text(api, owner.name, repo)


def test_a_private_repository_index_needs_credentials(api, world, pump):
    owner = world.user()
    repo = world.repo(owner.name, private=True, type="opkg")
    response = api.get(f"/dl/{owner.name}/{repo}/idx/list.txt")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert index_text(api, owner.name, repo, auth=owner.auth) == ""
    assert index_text(api, owner.name, repo, auth=world.user().auth) == 404


def test_a_deleted_repository_loses_its_index(api, world, pump):
    owner = world.user()
    repo = world.repo(owner.name, type="opkg")
    assert index_text(api, owner.name, repo) == ""
    from chalicelib.repositories.models import Repository

    repo_id = Repository.get(owner.name, repo).id
    assert api.delete(f"/repos/{owner.name}/{repo}", ADMIN).status_code == 200
    pump.drain()
    assert services.state_of(repo_id) is None
