# ruff: noqa: E402  (gc.disable() comes before the imports, see below)
"""Shelf: the Chalice application. A table of contents: the code lives in ``chalicelib/``."""

import gc

# Cold start: the imports below create ~88,000 tracked objects that all survive; collecting while they are
# made is wasted work. Collection resumes at the end of this module (docs/performance.md, "Cold import").
gc.disable()

# botocore (and urllib3 under it) first, at the shallowest stack: imported deep in chalicelib's import
# chain, urllib3's regex compilation ran at a depth where CPython 3.11 allocated and freed a frame-stack
# chunk (a 16 KB mmap) on almost every call, ~4,700 times: +30 ms CPU (docs/performance.md, "Cold import").
import botocore.session  # noqa: F401
from chalice import Blueprint

from chalicelib import eventbus, telemetry
from chalicelib.accounts.views import api as accounts
from chalicelib.attributes.file_views import api as file_attributes
from chalicelib.attributes.views import api as attributes
from chalicelib.cdn.functions import functions as cdn_functions
from chalicelib.content.functions import collect_blobs, upload_events  # noqa: F401  (local pump, tests)
from chalicelib.content.functions import functions as content_functions
from chalicelib.content.signing_views import api as signing
from chalicelib.content.views import api as content
from chalicelib.docs_meta.views import api as docs_meta
from chalicelib.download_logs.functions import functions as download_log_functions
from chalicelib.download_logs.views import api as download_logs
from chalicelib.entitlements.views import api as entitlements
from chalicelib.gpg.views import api as gpg
from chalicelib.indexes.functions import functions as index_functions
from chalicelib.indexes.functions import index_calculations  # noqa: F401  (local pump, tests)
from chalicelib.indexes.views import api as indexes
from chalicelib.licenses.views import api as licenses
from chalicelib.links.views import api as links
from chalicelib.maven.views import api as maven
from chalicelib.npm.views import api as npm
from chalicelib.packages.views import api as packages
from chalicelib.products.views import api as products
from chalicelib.repositories.views import api as repositories
from chalicelib.restrictions.views import api as restrictions
from chalicelib.stats.functions import functions as stats_functions
from chalicelib.stats.functions import rollup_downloads  # noqa: F401  (local scheduler, tests)
from chalicelib.stats.views import api as stats
from chalicelib.stream.views import api as stream
from chalicelib.teams.views import api as teams
from chalicelib.thresholds.functions import functions as threshold_functions
from chalicelib.thresholds.views import api as thresholds
from chalicelib.web.httpapi import HttpApiChalice
from chalicelib.web.middleware import install_fallbacks, normalise_errors
from chalicelib.web.openapi import api as openapi
from chalicelib.web.telemetry import observe
from chalicelib.webhooks.views import api as webhooks

telemetry.install()  # JSON logs (SHELF_LOG_FORMAT) and X-Ray (SHELF_TRACING), if configured

# configure_logs=False: Chalice would give the "shelf" logger its own text handler at level ERROR and
# stop it propagating, swallowing warnings and bypassing the JSON formatter (chalicelib/telemetry/logs.py).
# HttpApiChalice: the deployed API Gateway HTTP API's events are routed as REST ones (web/httpapi.py).
app = HttpApiChalice(app_name="shelf", configure_logs=False)
app.register_middleware(observe, "all")  # traces, request ids on log lines, EMF metrics
app.register_middleware(normalise_errors, "http")

app.register_blueprint(accounts.blueprint)
app.register_blueprint(repositories.blueprint)
app.register_blueprint(packages.blueprint)
app.register_blueprint(content.blueprint)
app.register_blueprint(signing.blueprint)
app.register_blueprint(attributes.blueprint)
app.register_blueprint(file_attributes.blueprint)
app.register_blueprint(links.blueprint)
app.register_blueprint(docs_meta.blueprint)
app.register_blueprint(entitlements.blueprint)
app.register_blueprint(licenses.blueprint)
app.register_blueprint(restrictions.blueprint)
app.register_blueprint(products.blueprint)
app.register_blueprint(teams.blueprint)
app.register_blueprint(webhooks.blueprint)
app.register_blueprint(stream.blueprint)
app.register_blueprint(npm.blueprint)
app.register_blueprint(maven.blueprint)
app.register_blueprint(indexes.blueprint)
app.register_blueprint(gpg.blueprint)
app.register_blueprint(stats.blueprint)
app.register_blueprint(thresholds.blueprint)
app.register_blueprint(download_logs.blueprint)
app.register_blueprint(openapi.blueprint)


def register_functions(*blueprints: Blueprint) -> None:
    """Register background functions (SQS consumers, schedules) so that each deploys as ``app.<name>``.

    Chalice names a blueprint function's Lambda handler after the blueprint's module
    (``chalicelib.content.functions.upload_events``), and Lambda then imports that module only: nothing of
    this file would run in the function (telemetry, the event bus, the middleware). Naming this module
    instead makes every deployed function start as the API does; the handlers are bound here at the end."""
    for blueprint in blueprints:
        blueprint._import_name = __name__  # Chalice's handler string is "<_import_name>.<function name>"
        app.register_blueprint(blueprint)


# Background functions, each declared in its domain.
register_functions(
    content_functions,
    stats_functions,
    index_functions,
    threshold_functions,
    download_log_functions,
    eventbus.bus,
    cdn_functions,
)
eventbus.install()  # queued lifecycle-event subscribers run from the events queue

install_fallbacks(app)


@app.lambda_function(name="bootstrap_admin")
def bootstrap_admin(event: dict, context: object) -> dict:
    """Create or update the system administrator from SHELF_ADMIN_USER / SHELF_ADMIN_API_KEY.

    Invoke once after deploying; a generated key is returned in the answer only, never logged.
    """
    from chalicelib.accounts.bootstrap import bootstrap_from_env

    name, generated = bootstrap_from_env()
    return {"name": name, "api_key": generated}


# Every deployed function's handler (the template's "Handler": app.<name>) is an attribute of this module.
for _function in (*app.pure_lambda_functions, *app.event_sources):
    _handler = app.handler_map[_function.name]
    if globals().setdefault(_function.handler_string.removeprefix("app."), _handler) is not _handler:
        raise RuntimeError(f"two deployed functions are named {_function.handler_string}")
del _function, _handler

gc.enable()
gc.freeze()  # what start-up created lives as long as the container: later collections skip it
