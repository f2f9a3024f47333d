"""The client asset portal: server-rendered pages for customers and the MSP's technicians.

Customers (``client_admin``, ``solicitante``) see their own client's machines, inventory, live metrics
and tickets; technicians also manage installation tokens, run scripts, push configuration, roll out
agent releases and work the tickets inbox. Everything the pages need (scripts, styles, the chart
code) is served from ``static/``: the portal works on a closed network.
"""

import importlib
import pkgutil

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from lanet.server.api.errors import HTML_ERROR_PAGES
from lanet.server.portal.blueprint import bp, error_page

#: Modules whose routes register on the blueprint when imported.
ROUTE_MODULES = ("assets", "auth", "patches", "releases", "staff", "tickets")
#: Modules that hold no routes.
HELPER_MODULES = ("blueprint", "i18n", "patch_policy_form", "scope")


def _import_routes() -> None:
    """Every module of the portal is either imported here for its routes or declared a helper: a new
    page module nobody listed fails the app's start instead of silently missing its routes."""
    found = {module.name for module in pkgutil.iter_modules(__path__)}
    unlisted = found - set(ROUTE_MODULES) - set(HELPER_MODULES)
    if unlisted:
        raise RuntimeError(f"portal modules neither in ROUTE_MODULES nor HELPER_MODULES: {sorted(unlisted)}")
    for name in ROUTE_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def init_app(app: Flask) -> None:
    _import_routes()
    app.register_blueprint(bp)
    app.extensions.setdefault(HTML_ERROR_PAGES, {})["/portal"] = error_page

    @app.route("/")
    def root() -> Response:
        return redirect(url_for("portal.assets"))
