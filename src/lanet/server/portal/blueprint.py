"""The portal's Flask blueprint, its templates and static files, and the page-wide settings."""

from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from lanet.server.portal.i18n import current_language, gettext

bp = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: No inline script or style, nothing from another origin: the portal works on a closed network and
#: an injected tag cannot run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


#: Outcomes of a form, shown once on the page the form returns to (``?notice=key``): no client-side
#: session needed. Key -> (message, "ok" or "error").
NOTICES: dict[str, tuple[str, str]] = {
    "comment_added": ("Comentario agregado.", "ok"),
    "comment_invalid": ("Escriba un comentario (hasta 20,000 caracteres).", "error"),
    "rated": ("Gracias por su calificación.", "ok"),
    "rating_invalid": ("Elija una calificación de 1 a 5.", "error"),
    "rating_refused": ("Solo se califica un ticket resuelto, una vez.", "error"),
    "status_changed": ("Estado actualizado.", "ok"),
    "status_invalid": ("Estado no válido.", "error"),
    "assigned": ("Ticket asignado.", "ok"),
    "token_revoked": ("Token desactivado.", "ok"),
    "queued": ("Script en cola; se ejecuta en el próximo heartbeat del equipo.", "ok"),
    "config_saved": ("Configuración enviada; los equipos la aplican en su próximo heartbeat.", "ok"),
    "asset_retired": ("Equipo retirado: su agente ya no puede conectarse.", "ok"),
    "asset_rejected": ("Reemplazo rechazado: el equipo nuevo quedó retirado.", "ok"),
    "asset_merged": ("Equipos fusionados: este equipo conserva el historial del anterior.", "ok"),
    "rollout_saved": ("Despliegue guardado; los equipos lo reciben en su próximo heartbeat.", "ok"),
    "rollout_paused": ("Despliegue en pausa: la versión ya no se ofrece.", "ok"),
    "rollout_resumed": ("Despliegue reanudado.", "ok"),
    "patch_approved": ("Actualización aprobada para todos los equipos del cliente.", "ok"),
    "patch_denied": ("Actualización rechazada: no se instala en ningún equipo del cliente.", "ok"),
    "patch_invalid": ("Elija una actualización y una decisión válidas.", "error"),
    "patch_scan": ("El equipo busca actualizaciones en su próximo heartbeat.", "ok"),
    "patch_install_now": ("El equipo instala sus actualizaciones aprobadas en su próximo heartbeat.", "ok"),
    "patch_postponed": ("Actualización pospuesta en todos los equipos de su empresa.", "ok"),
    "patch_refused_denied_by_msp": ("Su proveedor rechazó esta actualización: no se puede aprobar.", "error"),
    "patch_refused_too_far": (
        "Elija por cuántos días posponerla, dentro del plazo que permite su proveedor.",
        "error",
    ),
    "patch_refused_not_allowed": ("Su proveedor no le permite decidir sobre las actualizaciones.", "error"),
    "patch_policy_saved": ("Política guardada; los equipos la reciben en su próximo heartbeat.", "ok"),
}


def back(endpoint: str, notice: str, **values: Any) -> Response:
    """Redirect after a form (POST/redirect/GET) with the outcome to show."""
    response: Response = redirect(url_for(endpoint, notice=notice, **values))  # type: ignore[assignment]
    return response


@bp.before_request
def refuse_control_text() -> tuple[str, int] | None:
    """A NUL in a form or query value is never text a person typed, and PostgreSQL cannot store it:
    refuse the request whole, before anything is written (as the API does). In a path it names no
    page at all."""
    if "\x00" in request.path:
        return error_page(404)
    for values in (request.args, request.form):
        for value in values.values():
            if "\x00" in value:
                return error_page(400)
    return None


@bp.context_processor
def page_context() -> dict[str, Any]:
    notice = NOTICES.get(request.args.get("notice", ""))
    return {
        "_": gettext,
        "lang": current_language(),
        "viewer": g.get("viewer"),
        "csrf_token": g.get("csrf_token"),
        "notice": (gettext(notice[0]), notice[1]) if notice else None,
    }


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int) -> tuple[str, int]:
    titles = {
        400: gettext("Solicitud inválida"),
        403: gettext("Sin permiso"),
        404: gettext("No encontrado"),
        405: gettext("Método no permitido"),
    }
    # Rendered for paths no portal route matched too, where the blueprint's context processor does
    # not run: the page's helpers are passed in explicitly.
    page = render_template(
        "portal/error.html", status=status, title=titles.get(status, str(status)), **page_context()
    )
    return page, status
