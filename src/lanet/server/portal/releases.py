"""Technicians' pages for agent releases: what is published, where each version is offered, each
machine's update state with its reason, and the rollout, pause and resume actions.

The same operations as ``lanet-server releases`` and the technicians' API, audited under
``user:<email>``. Publishing is not here: it needs the offline release key, which the server never
holds.
"""

from typing import Any

from flask import Response, g, render_template, request

from lanet.protocol.values import FAILED_UPDATE_STATES, UPDATE_STATES
from lanet.server.portal.auth import staff_required
from lanet.server.portal.blueprint import back, bp, error_page
from lanet.server.portal.i18n import gettext
from lanet.server.services import tenancy
from lanet.server.services.releases import operations
from lanet.server.state import state


def _counts(states: list[operations.AssetState]) -> dict[str, int]:
    counts = dict.fromkeys(UPDATE_STATES, 0)
    for item in states:
        counts[item.state] = counts.get(item.state, 0) + 1
    return counts


@bp.route("/releases")
@staff_required
def releases_page() -> str:
    with state().db.session() as session:
        listed = operations.list_releases(session)
        versions: dict[str, dict[str, Any]] = {}
        for release, rollouts in listed:
            entry = versions.setdefault(
                release.version, {"version": release.version, "packages": [], "rollouts": []}
            )
            entry["packages"].append(release)
            entry["rollouts"].extend(operations.describe(session, r) for r in rollouts)
        for entry in versions.values():
            _releases, _rollouts, states = operations.status(session, entry["version"])
            entry["counts"] = _counts(states)
            entry["failed"] = sum(entry["counts"][s] for s in FAILED_UPDATE_STATES)
        return render_template("portal/releases.html", versions=list(versions.values()))


@bp.route("/releases/<version>")
@staff_required
def release_page(version: str, error: str | None = None, form: dict[str, str] | None = None) -> Any:
    with state().db.session() as session:
        try:
            releases, rollouts, states = operations.status(session, version)
        except operations.ReleaseError:
            return error_page(404)
        page = render_template(
            "portal/release.html",
            version=version,
            packages=releases,
            rollouts=[operations.describe(session, r) for r in rollouts],
            states=states,
            counts=_counts(states),
            clients=tenancy.list_clients(session),
            error=error,
            form=form or {},
        )
    return page, (422 if error else 200)


def _rollout_form() -> tuple[dict[str, str], dict[str, Any]]:
    """The form as typed, and its values checked; ValueError names the problem in the viewer's
    language."""
    form = {k: request.form.get(k, "").strip() for k in ("percent", "client", "site", "threshold")}
    form["now"] = "1" if request.form.get("now") else ""
    if not form["percent"].isdigit() or not 0 <= int(form["percent"]) <= 100:
        raise ValueError(gettext("Porcentaje: un número entero de 0 a 100."))
    if form["site"] and not form["client"]:
        raise ValueError(gettext("Un sitio se indica dentro de su cliente: escriba también el cliente."))
    if max(len(form["client"]), len(form["site"])) > 255:
        raise ValueError(gettext("Cliente y sitio: hasta 255 caracteres."))
    threshold = operations.DEFAULT_FAILURE_THRESHOLD
    if form["threshold"]:
        try:
            threshold = float(form["threshold"].replace(",", "."))
        except ValueError:
            threshold = -1.0
        if not 0 <= threshold <= 100:
            raise ValueError(gettext("Umbral de fallas: un porcentaje de 0 a 100."))
    return form, {
        "percent": int(form["percent"]),
        "client_name": form["client"] or None,
        "site_name": form["site"] or None,
        "now": bool(form["now"]),
        "failure_threshold": threshold,
    }


def _scope_problem(exc: operations.ReleaseError) -> str:
    text = str(exc)
    if text.startswith("no client"):
        return gettext("No existe ese cliente.")
    if "has no site" in text:
        return gettext("Ese cliente no tiene un sitio con ese nombre.")
    return gettext("No se pudo aplicar el despliegue: {reason}", reason=text)


@bp.route("/releases/<version>/rollout", methods=["POST"])
@staff_required
def release_rollout(version: str) -> Any:
    form: dict[str, str] = {}
    try:
        form, values = _rollout_form()
        with state().db.session() as session:
            operations.rollout(session, version, actor=g.viewer.actor, **values)
    except operations.ReleaseError as exc:
        if str(exc).startswith("no release"):
            return error_page(404)
        return release_page(version, error=_scope_problem(exc), form=form)
    except ValueError as exc:
        return release_page(version, error=str(exc), form=form)
    state().rollouts.invalidate()
    return back("portal.release_page", "rollout_saved", version=version)


def _set_paused(version: str, paused: bool) -> Response | tuple[str, int]:
    reason = request.form.get("reason", "").strip()[:500] or None
    with state().db.session() as session:
        try:
            operations.set_paused(session, version, paused, actor=g.viewer.actor, reason=reason)
        except operations.ReleaseError:
            return error_page(404)
    state().rollouts.invalidate()
    return back("portal.release_page", "rollout_paused" if paused else "rollout_resumed", version=version)


@bp.route("/releases/<version>/pause", methods=["POST"])
@staff_required
def release_pause(version: str) -> Response | tuple[str, int]:
    return _set_paused(version, True)


@bp.route("/releases/<version>/resume", methods=["POST"])
@staff_required
def release_resume(version: str) -> Response | tuple[str, int]:
    return _set_paused(version, False)
