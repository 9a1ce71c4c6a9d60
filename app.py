"""Shelf: the Chalice application. A table of contents: the code lives in ``chalicelib/``."""

from chalice import Chalice

from chalicelib.accounts.views import api as accounts
from chalicelib.content.views import api as content
from chalicelib.packages.views import api as packages
from chalicelib.repositories.views import api as repositories
from chalicelib.web.middleware import install_fallbacks, normalise_errors

app = Chalice(app_name="shelf")
app.register_middleware(normalise_errors, "http")

app.register_blueprint(accounts.blueprint)
app.register_blueprint(repositories.blueprint)
app.register_blueprint(packages.blueprint)
app.register_blueprint(content.blueprint)

install_fallbacks(app)


@app.lambda_function(name="bootstrap_admin")
def bootstrap_admin(event: dict, context: object) -> dict:
    """Create or update the system administrator from SHELF_ADMIN_USER / SHELF_ADMIN_API_KEY.

    Invoke once after deploying; a generated key is returned in the answer only, never logged.
    """
    from chalicelib.accounts.bootstrap import bootstrap_from_env

    name, generated = bootstrap_from_env()
    return {"name": name, "api_key": generated}
