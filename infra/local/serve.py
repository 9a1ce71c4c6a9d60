"""``make serve``: start the embedded local AWS and serve the API on http://127.0.0.1:$PORT.

Environment: ``PORT`` (8000), ``AWS_PORT`` (4566, the local AWS endpoint),
``SHELF_ADMIN_USER`` / ``SHELF_ADMIN_API_KEY`` (the system administrator; a random key is
generated and printed once when unset), ``SHELF_LOCAL_SCHEDULE_SECONDS`` (10: the longest period
of a scheduled function locally, see infra/local/scheduler.py), and every ``SHELF_*`` setting of
``chalicelib/config.py``, e.g.
``SHELF_OUTBOUND_ALLOW_CIDRS=127.0.0.0/8`` to let webhooks and callbacks reach local listeners.
``SHELF_LOCAL_AWS_ENDPOINT``: serve the API only, on the local AWS of another ``make serve`` (its
"Local AWS (moto) on …" line), as a second Lambda container would (``make load`` does).
"""

from __future__ import annotations

import logging
import os

from werkzeug.serving import run_simple

from infra.local.aws import create_resources, point_at, start_moto


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    aws_port = int(os.environ.get("AWS_PORT", "4566"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per API request instead
    # One process, one local DynamoDB: the download rollup needs no propagation
    # delay (10 s deployed) and rolls up every 10 s of downloads (60 s deployed).
    os.environ.setdefault("SHELF_STATS_LAG_SECONDS", "1")
    os.environ.setdefault("SHELF_STATS_ROLLUP_SECONDS", "10")
    endpoint = os.environ.get("SHELF_LOCAL_AWS_ENDPOINT", "")
    second = bool(endpoint)  # another container of the API: no local AWS, events or schedules of its own
    if not second:
        _, endpoint = start_moto(aws_port)
    point_at(endpoint)
    if not second:
        create_resources()

    import app as app_module
    from app import app
    from chalicelib import eventbus, queues
    from chalicelib.accounts.bootstrap import bootstrap_from_env
    from chalicelib.config import settings
    from infra.local.events import EventPump
    from infra.local.scheduler import Scheduler

    if second:
        print(f"Local AWS (moto) of another make serve: {endpoint}")
        print(f"Shelf API on http://127.0.0.1:{port}")
        serve(app, port)
        return
    admin, generated_key = bootstrap_from_env()
    # Lambda's SQS event sources: S3 reports large uploads, which the app finishes in the background;
    # queued lifecycle events (downloads included) reach their subscribers.
    EventPump(
        {
            queues.UPLOAD_EVENTS: app_module.upload_events,
            queues.EVENTS: eventbus.lifecycle_events,
            queues.INDEXES: app_module.index_calculations,
        }
    ).start()
    # EventBridge's schedules: every @app.schedule function, every SHELF_LOCAL_SCHEDULE_SECONDS (10) at most.
    scheduler = Scheduler(app).start()
    print(f"Local AWS (moto) on {endpoint}")
    print("Scheduled functions: " + ", ".join(f"{j.name} every {j.period:g} s" for j in scheduler.jobs))
    print(f"Shelf API on http://127.0.0.1:{port}")
    allowed = settings().outbound_allow_cidrs
    if allowed:
        print("Outbound calls (webhooks, callbacks) may reach: " + ", ".join(map(str, allowed)))
    if generated_key:
        print(f"System administrator: {admin} / API key: {generated_key}  (shown once)")
    else:
        print(f"System administrator: {admin} (API key from SHELF_ADMIN_API_KEY)")
    serve(app, port)


def serve(app, port: int) -> None:
    from chalicelib.web.routing import API_BINARY_MEDIA_TYPES
    from infra.local.gateway import LocalGateway

    gateway = LocalGateway(app, access_log=True, binary_media_types=API_BINARY_MEDIA_TYPES)
    run_simple("127.0.0.1", port, gateway, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
