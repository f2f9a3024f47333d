"""Technicians' pages: installation tokens, scripts on an asset, and pushed configuration.

Every action goes through the same services as the CLI and the technicians' API, so it is validated
and audited the same way, with the actor ``user:<email>``.
"""

import json
from datetime import timedelta
from typing import Any

from flask import Response, g, jsonify, render_template, request
from pydantic import ValidationError

from lanet.protocol.commands import FINAL_STATUSES
from lanet.protocol.common import format_timestamp
from lanet.protocol.config_keys import CONFIG_KEYS, UnknownConfigKeyError
from lanet.server.models import Command, InstallToken
from lanet.server.models.base import utcnow
from lanet.server.portal.auth import staff_required
from lanet.server.portal.blueprint import back, bp
from lanet.server.portal.i18n import gettext
from lanet.server.portal.scope import asset_for, get_or_404
from lanet.server.services import asset_lifecycle, commands, config_push, tenancy, tokens
from lanet.server.state import state


# --- installation tokens --------------------------------------------------------------------------
@bp.route("/tokens", methods=["GET", "POST"])
@staff_required
def tokens_page() -> Any:
    created = None
    error = None
    form: dict[str, str] = {}
    app = state()
    if request.method == "POST":
        names = ("client", "site", "max_uses", "expires_days", "description")
        form = {k: request.form.get(k, "").strip() for k in names}
        try:
            created = _create_token(form)
            form = {}
        except ValueError as exc:
            error = str(exc)
    with app.db.session() as session:
        now = utcnow()
        rows = [(t, tokens.token_state(t, now)) for t in reversed(tokens.list_tokens(session))]
        clients = tenancy.list_clients(session)
        page = render_template(
            "portal/tokens.html", rows=rows, created=created, error=error, form=form, clients=clients
        )
    return page, (422 if error else 200)


def _create_token(form: dict[str, str]) -> dict[str, str]:
    """Create the token the form asks for (its own transaction); ValueError names the problem."""
    max_uses = _optional_int(form["max_uses"], gettext("Usos máximos"))
    expires_days = _optional_int(form["expires_days"], gettext("Vigencia (días)"))
    if not form["client"] or not form["site"]:
        raise ValueError(gettext("Escriba el cliente y el sitio."))
    if max(len(form["client"]), len(form["site"]), len(form["description"])) > 255:
        raise ValueError(gettext("Cliente, sitio y descripción: hasta 255 caracteres."))
    app = state()
    with app.db.session() as session:
        made = tokens.create_token(
            session,
            app.keys,
            client_name=form["client"],
            site_name=form["site"],
            actor=g.viewer.actor,
            max_uses=max_uses,
            expires_days=expires_days,
            description=form["description"] or None,
        )
        return {"token": made.token, "client": made.record.client.name, "site": made.record.site.name}


def _optional_int(text: str, label: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        raise ValueError(gettext("{label}: un número entero de 1 a 1,000,000.", label=label))
    return int(text)


@bp.route("/tokens/<token_id>")
@staff_required
def token_page(token_id: str) -> str:
    with state().db.session() as session:
        record = get_or_404(session, InstallToken, token_id)
        return render_template(
            "portal/token.html",
            token=record,
            state=tokens.token_state(record, utcnow()),
            usage=tokens.usage_of(session, record),
        )


@bp.route("/tokens/<token_id>/revoke", methods=["POST"])
@staff_required
def token_revoke(token_id: str) -> Response:
    with state().db.session() as session:
        record = get_or_404(session, InstallToken, token_id)
        tokens.revoke_token(session, record, g.viewer.actor)
    return back("portal.token_page", "token_revoked", token_id=token_id)


# --- asset lifecycle ------------------------------------------------------------------------------
@bp.route("/assets/<asset_id>/lifecycle", methods=["POST"])
@staff_required
def asset_lifecycle_change(asset_id: str) -> Any:
    """Retire an asset, or merge or reject a possible replacement (the asset page's buttons)."""
    action = request.form.get("action", "")
    steps = {
        "retire": asset_lifecycle.retire,
        "merge": asset_lifecycle.merge,
        "reject": asset_lifecycle.reject,
    }
    if action not in steps or request.form.get("confirm") != "yes":
        return render_template("portal/error.html", status=422, title=gettext("Confirme la acción.")), 422
    with state().db.session() as session:
        item = asset_for(session, g.viewer, asset_id)
        try:
            steps[action](session, item, g.viewer.actor, utcnow())
        except asset_lifecycle.LifecycleError as exc:
            return render_template("portal/error.html", status=409, title=str(exc)), 409
    if action == "merge":
        return back("portal.asset", "asset_merged", asset_id=asset_id)
    return back("portal.assets", "asset_retired" if action == "retire" else "asset_rejected")


# --- scripts --------------------------------------------------------------------------------------
@bp.route("/assets/<asset_id>/commands", methods=["POST"])
@staff_required
def command_queue(asset_id: str) -> Any:
    form = {k: request.form.get(k, "") for k in ("type", "script", "timeout")}
    with state().db.session() as session:
        item = asset_for(session, g.viewer, asset_id)
        try:
            timeout = int(form["timeout"] or 300)
            command = commands.queue_command(
                session,
                asset_id=item.id,
                type_=form["type"],
                script=form["script"].replace("\r\n", "\n"),
                actor=g.viewer.actor,
                timeout=timeout,
                expires_in=timedelta(hours=24),
            )
        except (ValueError, commands.CommandError) as exc:
            message = (
                str(exc) if isinstance(exc, commands.CommandError) else gettext("Tiempo límite no válido.")
            )
            return render_template("portal/error.html", status=422, title=message), 422
        command_id = command.id
    return back("portal.command_page", "queued", command_id=command_id)


@bp.route("/commands/<command_id>")
@staff_required
def command_page(command_id: str) -> str:
    with state().db.session() as session:
        command = _command(session, command_id)
        return render_template(
            "portal/command.html",
            command=command,
            final=command.status in FINAL_STATUSES,
        )


@bp.route("/commands/<command_id>.json")
@staff_required
def command_json(command_id: str) -> Response:
    with state().db.session() as session:
        view = commands.describe(_command(session, command_id))
    data = {k: (format_timestamp(v) if hasattr(v, "tzinfo") else v) for k, v in view.items()}
    data["final"] = view["status"] in FINAL_STATUSES
    return jsonify(data)


def _command(session: Any, command_id: str) -> Command:
    command = get_or_404(session, Command, command_id)
    asset_for(session, g.viewer, command.asset_id)
    return command


# --- configuration --------------------------------------------------------------------------------
@bp.route("/config", methods=["GET", "POST"])
@staff_required
def config_page() -> Any:
    error = None
    form: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in ("scope", "target", "key", "value")}
        error = _push_config(form)
        if error is None:
            return back("portal.config_page", "config_saved")
    with state().db.session() as session:
        changes = config_push.recent_changes(session)
        clients = tenancy.list_clients(session)
        page = render_template(
            "portal/config.html",
            changes=changes,
            keys=list(CONFIG_KEYS),
            error=error,
            form=form,
            clients=clients,
        )
    return page, (422 if error else 200)


def _push_config(form: dict[str, str]) -> str | None:
    """Store the override the form asks for (its own transaction); the problem, or None."""
    try:
        value: Any = json.loads(form["value"])
    except json.JSONDecodeError:
        value = form["value"]  # a bare word such as DEBUG or 02:00
    try:
        with state().db.session() as session:
            scope = config_push.resolve_scope(session, form["scope"], form["target"])
            config_push.set_override(session, scope, form["key"], value, g.viewer.actor)
    except ValidationError as exc:  # before ValueError, which it is a kind of
        return f"{form['key']}: " + "; ".join(e["msg"] for e in exc.errors(include_url=False))
    except UnknownConfigKeyError:
        return f"{form['key']}: " + gettext("Clave desconocida.")
    except (config_push.ScopeNotFoundError, ValueError):
        return gettext("No existe ese cliente, sitio o equipo.")
    return None
