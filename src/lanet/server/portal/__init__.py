"""The client asset portal: server-rendered pages for customers and the MSP's technicians.

Customers (``client_admin``, ``solicitante``) see their own client's machines, inventory, live metrics
and tickets; technicians also manage installation tokens, run scripts, push configuration and work the
tickets inbox. Everything the pages need (scripts, styles, the chart code) is served from
``static/``: the portal works on a closed network.
"""

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from lanet.server.api.errors import HTML_ERROR_PAGES
from lanet.server.portal import assets, auth, staff, tickets  # noqa: F401  (routes register on import)
from lanet.server.portal.blueprint import bp, error_page


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.extensions.setdefault(HTML_ERROR_PAGES, {})["/portal"] = error_page

    @app.route("/")
    def root() -> Response:
        return redirect(url_for("portal.assets"))
