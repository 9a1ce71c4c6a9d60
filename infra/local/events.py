"""Lambda's SQS event source mapping, locally: pull messages from the local AWS and hand them to the
app's ``@app.on_sqs_message`` handlers as the SQS events Lambda would send.

``make serve`` runs a pump in the background; tests call ``drain()`` to process what is queued now.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib import queues


class EventPump:
    """Deliver queued messages to handlers: ``{short queue name: handler(event, context)}``."""

    def __init__(self, handlers: dict[str, Callable[[dict, Any], Any]]):
        self.handlers = handlers
        self._stop = threading.Event()
        #: ``time.monotonic()`` at the start of the last round of ``run_forever`` that found every queue
        #: empty: whatever was queued before it has been handled.
        self.quiet_since = float("-inf")

    def drain(self, max_rounds: int = 20) -> int:
        """Deliver until the queues are empty (or ``max_rounds`` batches); returns messages delivered."""
        delivered = 0
        for _ in range(max_rounds):
            batch = 0
            for short, handler in self.handlers.items():
                batch += self._deliver(short, handler)
            delivered += batch
            if batch == 0:
                break
        return delivered

    def _deliver(self, short: str, handler: Callable[[dict, Any], Any]) -> int:
        client = queues.sqs()
        url = queues.queue_url(short)
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return 0
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:us-east-1:000000000000:{queues.queue_name(short)}",
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }
        handler(event, _Context())
        # As Lambda does: a batch whose handler returned is deleted; one that raised is retried.
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        return len(messages)

    def run_forever(self, interval: float = 0.2) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if self.drain() == 0:
                    self.quiet_since = started
                    time.sleep(interval)
            except Exception as error:  # keep pumping, as Lambda retries a failed batch
                print(f"event handler failed: {error!r}", flush=True)
                time.sleep(interval)

    def wait_quiet(self, timeout: float = 60) -> bool:
        """Wait (up to ``timeout`` s) until ``run_forever`` has handled everything queued before this
        call: a round that began after it found every queue empty."""
        asked = time.monotonic()
        while self.quiet_since <= asked and time.monotonic() < asked + timeout:
            time.sleep(0.05)
        return self.quiet_since > asked

    def start(self) -> EventPump:
        threading.Thread(target=self.run_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()


class _Context:
    function_name = "shelf-local-events"
    aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 900_000
