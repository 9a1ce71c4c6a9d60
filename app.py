"""Shelf: the Chalice application. A table of contents: the code lives in ``chalicelib/``."""

from chalice import Chalice

from chalicelib.accounts.views import api as accounts
from chalicelib.packages.views import api as packages
from chalicelib.repositories.views import api as repositories
from chalicelib.web.middleware import install_fallbacks, normalise_errors

app = Chalice(app_name="shelf")
app.register_middleware(normalise_errors, "http")

app.register_blueprint(accounts.blueprint)
app.register_blueprint(repositories.blueprint)
app.register_blueprint(packages.blueprint)

install_fallbacks(app)
