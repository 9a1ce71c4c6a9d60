"""Shelf: the Chalice application. A table of contents: the code lives in ``chalicelib/``."""

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import queues
from chalicelib.accounts.views import api as accounts
from chalicelib.attributes.file_views import api as file_attributes
from chalicelib.attributes.views import api as attributes
from chalicelib.content.signing_views import api as signing
from chalicelib.content.views import api as content
from chalicelib.docs_meta.views import api as docs_meta
from chalicelib.entitlements.views import api as entitlements
from chalicelib.licenses.views import api as licenses
from chalicelib.links.views import api as links
from chalicelib.packages.views import api as packages
from chalicelib.products.views import api as products
from chalicelib.repositories.views import api as repositories
from chalicelib.restrictions.views import api as restrictions
from chalicelib.stream.views import api as stream
from chalicelib.teams.views import api as teams
from chalicelib.web.middleware import install_fallbacks, normalise_errors

app = Chalice(app_name="shelf")
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
app.register_blueprint(stream.blueprint)

install_fallbacks(app)


@app.lambda_function(name="bootstrap_admin")
def bootstrap_admin(event: dict, context: object) -> dict:
    """Create or update the system administrator from SHELF_ADMIN_USER / SHELF_ADMIN_API_KEY.

    Invoke once after deploying; a generated key is returned in the answer only, never logged.
    """
    from chalicelib.accounts.bootstrap import bootstrap_from_env

    name, generated = bootstrap_from_env()
    return {"name": name, "api_key": generated}


@app.on_sqs_message(queue=queues.queue_name(queues.DOWNLOAD_EVENTS), batch_size=10)
def download_events(event: SQSEvent) -> None:
    """Record queued download events exactly once, with their daily aggregates (chalicelib/stats)."""
    from chalicelib.stats.downloads import consume

    consume(event.to_dict())


@app.on_sqs_message(queue=queues.queue_name(queues.UPLOAD_EVENTS), batch_size=1)
def upload_events(event: SQSEvent) -> None:
    """Finish large uploads: S3 reports each object PUT through the 307 (chalicelib/content/large.py)."""
    from chalicelib.content.large import finish_from_event

    finish_from_event(event.to_dict())


@app.schedule(Rate(1, unit=Rate.HOURS))
def collect_blobs(event: CloudWatchEvent) -> None:
    """Delete content no file refers to any more, once it is older than the grace period."""
    from datetime import timedelta

    from chalicelib.content.gc import collect_unreferenced_blobs

    collect_unreferenced_blobs(grace=timedelta(hours=1))
