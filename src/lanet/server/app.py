"""The Flask app factory: a flat list of ``init_app`` steps (flaskr's shape)."""

import logging

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from lanet.server import portal
from lanet.server.api import errors
from lanet.server.blueprints import admin, agents, meta, patches, releases, tickets
from lanet.server.db import Database
from lanet.server.services.credentials import Keys
from lanet.server.settings import Settings
from lanet.server.state import AppState


def create_app(settings: Settings | None = None, *, proxy_hops: int = 0) -> Flask:
    """Build the app. ``settings`` defaults to the environment (``LANET_*``)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["lanet"] = AppState(
        settings=settings,
        db=Database(settings.database_url, async_telemetry=settings.telemetry_async_commit),
        keys=Keys(settings.secret_key, settings.previous_secret_keys),
    )
    if proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops, x_host=proxy_hops)  # type: ignore[method-assign]
    errors.init_app(app)
    app.after_request(_security_headers)
    app.register_blueprint(agents.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(releases.bp)
    app.register_blueprint(patches.bp)
    app.register_blueprint(tickets.bp)
    app.register_blueprint(meta.bp)
    portal.init_app(app)
    logging.getLogger("lanet").setLevel(logging.INFO)
    return app


#: One year, as OWASP's HSTS guidance recommends once HTTPS is the only way in.
HSTS_MAX_AGE = 365 * 86400


def _security_headers(response: Response) -> Response:
    """HSTS on every answer that went out over HTTPS (the front end says which ones did)."""
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = f"max-age={HSTS_MAX_AGE}"
    return response
