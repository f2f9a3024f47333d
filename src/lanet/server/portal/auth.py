"""Logging in and out, the session cookie, and CSRF protection for every form.

The session cookie (``lanet_portal``) carries a random token; the server keeps the session (see
:mod:`lanet.server.services.users`). Every POST must carry the session's CSRF token in the form; the
login form, sent before there is a session, is protected by a double-submit token in its own cookie.
Cookies are ``HttpOnly`` and ``SameSite``, and ``Secure`` when the portal is served over TLS.
"""

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

from flask import Response, abort, g, redirect, render_template, request, url_for

from lanet.i18n import LANGUAGES
from lanet.server.api.agent_auth import client_ip
from lanet.server.models.base import utcnow
from lanet.server.portal.blueprint import bp
from lanet.server.portal.i18n import COOKIE as LANG_COOKIE
from lanet.server.portal.i18n import gettext
from lanet.server.portal.scope import Viewer
from lanet.server.services import audit, ratelimit, users
from lanet.server.state import state

SESSION_COOKIE = "lanet_portal"
LOGIN_CSRF_COOKIE = "lanet_login_csrf"
F = TypeVar("F", bound=Callable[..., Any])


@bp.before_request
def load_viewer() -> Response | None:
    g.viewer = None
    g.user = None
    g.csrf_token = None
    if request.endpoint == "portal.static":
        return None  # stylesheets and scripts are public; no session lookup per file
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        with state().db.session() as session:
            record = users.load_session(session, token)
            if record is not None:
                g.user = record.user
                g.viewer = Viewer.of(record.user)
                g.csrf_token = record.csrf_token
                session.expunge(record.user)
    if request.method == "POST" and request.endpoint != "portal.login":
        sent = request.form.get("csrf_token", "")
        if g.csrf_token is None:
            return cast(Response, redirect(url_for("portal.login", next=request.path)))
        if not hmac.compare_digest(sent.encode(), str(g.csrf_token).encode()):
            abort(400, description="csrf")
    return None


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.viewer is None:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def staff_required(view: F) -> F:
    """For the MSP's staff only; anyone else meets a 404, as for a page that does not exist."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.viewer is None:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        if not g.viewer.is_staff:
            abort(404)
        return view(*args, **kwargs)

    return cast(F, wrapper)


def safe_next(target: str | None) -> str:
    """Only a path inside the portal: never an absolute URL an attacker chose, and nothing that could
    end the ``Location`` header early (CR/LF, raw or percent-encoded) or be read as another host."""
    if target and _plain_path(target) and _plain_path(unquote(target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/portal/"):
            return target
    return url_for("portal.assets")


def _plain_path(text: str) -> bool:
    return "\\" not in text and not text.startswith("//") and all(" " <= ch != "\x7f" for ch in text)


def _cookie_options() -> dict[str, Any]:
    return {"httponly": True, "secure": request.is_secure, "path": "/portal"}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if g.viewer is not None:
            return redirect(safe_next(request.args.get("next")))
        return _login_page()
    sent = request.form.get("csrf_token", "")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _login_page(gettext("La sesión del formulario caducó; inténtelo de nuevo."), 400)
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    if not email or not password:
        return _login_page(gettext("Escriba su correo y su contraseña."), 400)
    app = state()
    ip = client_ip()
    with app.db.engine.begin() as conn:
        verdict = ratelimit.peek(conn, f"portal-login:{ip}", app.settings.auth_failure_rate, utcnow())
    if not verdict.allowed:
        page = _login_page(gettext("Demasiados intentos desde esta dirección. Espere un momento."), 429)
        page.headers["Retry-After"] = str(verdict.retry_after)
        return page
    with app.db.session() as session:
        result = users.authenticate(session, email, password, ip)
        if result.user is not None:
            token = users.start_session(session, result.user, ip, request.headers.get("User-Agent"))
    if result.user is None:
        with app.db.engine.begin() as conn:
            ratelimit.hit(conn, f"portal-login:{ip}", app.settings.auth_failure_rate, utcnow())
        if result.outcome == "locked":
            return _login_page(
                gettext("La cuenta está bloqueada por intentos fallidos. Inténtelo en 15 minutos."), 403
            )
        return _login_page(gettext("Correo o contraseña incorrectos."), 401)
    response = redirect(safe_next(request.form.get("next")))
    response.set_cookie(SESSION_COOKIE, token, samesite="Lax", **_cookie_options())
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/portal")
    return response


def _login_page(error: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    body = render_template(
        "portal/login.html", error=error, login_csrf=token, next=safe_next(request.values.get("next"))
    )
    response = Response(body, status=status, mimetype="text/html")
    response.set_cookie(LOGIN_CSRF_COOKIE, token, samesite="Strict", max_age=3600, **_cookie_options())
    return response


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    with state().db.session() as session:
        record = users.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
        if record is not None:
            audit.record(
                session,
                actor=g.viewer.actor,
                action="portal.logout",
                target_type="user",
                target_id=g.viewer.user_id,
                client_id=g.viewer.client_id,
                ip_address=client_ip(),
            )
    response = redirect(url_for("portal.login"))
    response.delete_cookie(SESSION_COOKIE, path="/portal")
    return response


@bp.route("/language")
def language() -> Any:
    """Switch the language (a cookie only: no state changes on the server, so GET is fine)."""
    chosen = request.args.get("lang", "es")
    response = redirect(safe_next(request.args.get("next")))
    if chosen in LANGUAGES:
        response.set_cookie(LANG_COOKIE, chosen, samesite="Lax", max_age=365 * 86400, **_cookie_options())
    return response
