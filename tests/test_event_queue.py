"""The queued path of lifecycle events: one SQS message per event on the ``events`` queue (with its
dead-letter queue), delivered by ``eventbus.lifecycle_events``; a queued subscriber that records the
event id with a conditional put sees each event once, however often SQS delivers it."""

from __future__ import annotations

import json
import sys
import types

import pytest
from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib import db, eventbus, events, queues
from chalicelib.events import RepositoryDeleted, Subscription
from infra.local.events import EventPump


class SeenEvent(Model):
    """The idempotency pattern of a queued subscriber: one row per (subscriber, event id)."""

    Meta = db.table_meta("test_seen_events")

    key = UnicodeAttribute(hash_key=True)


RECEIVED: list[events.Event] = []


def _once(event: events.Event) -> None:
    """A queued subscriber: does its work only when its conditional put of the event id succeeds."""
    try:
        SeenEvent(f"test-subscriber#{event.id}").save(condition=SeenEvent.key.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            return  # delivered before: done already
        raise
    RECEIVED.append(event)


@pytest.fixture
def queued(monkeypatch):
    """A domain declaring one queued subscriber of RepositoryDeleted, next to the real ones."""
    if not SeenEvent.exists():
        SeenEvent.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
    module = types.ModuleType("tests_queued_subscriptions")
    module.once = _once
    module.SUBSCRIPTIONS = [Subscription(RepositoryDeleted, "tests_queued_subscriptions:once", queued=True)]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(events, "SUBSCRIPTION_MODULES", [*events.SUBSCRIPTION_MODULES, module.__name__])
    monkeypatch.setattr(events, "_table", None)
    RECEIVED.clear()
    pump = EventPump({queues.EVENTS: eventbus.lifecycle_events})
    pump.drain()  # start from an empty queue
    return pump


def _messages() -> list[dict]:
    """What waits on the events queue (received, not deleted: visible again for the pump later)."""
    client = queues.sqs()
    return client.receive_message(
        QueueUrl=queues.queue_url(queues.EVENTS), MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])


def test_the_app_sends_queued_events_to_the_events_queue():
    assert events.sender is eventbus.send


def test_a_deleted_repository_reaches_a_queued_subscriber_once_after_the_request(api, world, queued):
    user = world.user()
    repo = world.repo(user.name)
    assert api.delete(f"/repos/{user.name}/{repo}", user.auth).status_code == 200
    assert RECEIVED == []  # queued: not run in the request
    # One message for the deletion (the caller's login leaves one too: the event stream subscribes).
    kinds = [json.loads(message["Body"])["kind"] for message in _messages()]
    assert kinds.count("RepositoryDeleted") == 1, kinds
    assert queued.drain() == len(kinds)
    assert [(e.owner, e.repo) for e in RECEIVED] == [(user.name, repo)]
    assert queued.drain() == 0


def test_a_message_delivered_twice_is_handled_once(queued):
    event = RepositoryDeleted(owner="acme", repo="tools", repo_id="r-twice")
    queues.send_text(queues.EVENTS, event.to_json())
    queues.send_text(queues.EVENTS, event.to_json())  # SQS delivers at least once
    assert queued.drain() == 2
    sqs_event = {"Records": [{"body": event.to_json(), "messageId": "m1"}]}
    eventbus.lifecycle_events(sqs_event, None)
    assert [event] == RECEIVED


def test_the_events_queue_moves_a_message_to_its_dead_letter_queue_after_five_receives():
    client = queues.sqs()
    attributes = client.get_queue_attributes(
        QueueUrl=queues.queue_url(queues.EVENTS), AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    dead = client.get_queue_attributes(
        QueueUrl=queues.queue_url(queues.EVENTS_DEAD_LETTERS), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert policy["deadLetterTargetArn"] == dead
    assert int(policy["maxReceiveCount"]) == 5
