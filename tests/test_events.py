"""The lifecycle event layer (chalicelib/events.py): in-request and queued subscribers, messages."""

from __future__ import annotations

import sys
import types

import pytest

from chalicelib import events
from chalicelib.events import RepositoryDeleted, Subscription, VersionPublished

CALLS: list[tuple[str, events.Event]] = []


@pytest.fixture
def declared(monkeypatch):
    """A domain module declaring one in-request and one queued subscriber."""
    module = types.ModuleType("tests_fake_subscriptions")
    module.now = lambda event: CALLS.append(("now", event))
    module.later = lambda event: CALLS.append(("later", event))
    module.SUBSCRIPTIONS = [
        Subscription(RepositoryDeleted, "tests_fake_subscriptions:now"),
        Subscription(RepositoryDeleted, "tests_fake_subscriptions:later", queued=True),
    ]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(events, "SUBSCRIPTION_MODULES", [module.__name__])
    monkeypatch.setattr(events, "_table", None)
    CALLS.clear()
    sent: list[events.Event] = []
    monkeypatch.setattr(events, "sender", sent.append)
    return sent


def test_in_request_subscribers_run_now_queued_ones_from_the_message(declared):
    event = RepositoryDeleted(owner="acme", repo="tools", repo_id="r1")
    events.publish(event)
    assert [("now", event)] == CALLS
    assert declared == [event]  # queued once, however many queued subscribers
    message = {"Records": [{"body": declared[0].to_json()}]}
    assert events.consume(message) == 1
    assert [("now", event), ("later", event)] == CALLS


def test_events_without_subscribers_are_not_queued(declared):
    events.publish(VersionPublished(owner="acme", repo="tools", repo_id="r1", package="p", version="1"))
    assert CALLS == [] and declared == []


def test_messages_round_trip_with_id_and_time():
    event = RepositoryDeleted(owner="acme", repo="tools", repo_id="r1")
    again = events.Event.from_json(event.to_json())
    assert again == event and again.id == event.id and event.at.endswith("Z")
    assert RepositoryDeleted(owner="a", repo="b", repo_id="c").id != event.id
