"""RFC 9457 problem details, in Spanish and English. Titles come from one catalogue; details are
written by the code that raises them and must never quote the caller's input."""
from __future__ import annotations

from babel import Locale, negotiate_locale

PROBLEM_BASE = "https://careroute.iom.int/problems/"
SUPPORTED_LOCALES = ("es", "en")

TITLES: dict[str, dict[str, str]] = {
    "bad-request": {"es": "Solicitud incorrecta", "en": "Bad request"},
    "validation": {"es": "Los datos enviados no son válidos", "en": "The submitted data is not valid"},
    "unauthenticated": {"es": "Se requiere autenticación", "en": "Authentication required"},
    "forbidden": {"es": "No tiene permiso para esta acción", "en": "You are not allowed to do this"},
    "not-found": {"es": "No encontrado", "en": "Not found"},
    "method-not-allowed": {"es": "Método no permitido", "en": "Method not allowed"},
    "conflict": {"es": "Conflicto con el estado actual", "en": "Conflict with the current state"},
    "illegal-transition": {"es": "Transición no permitida", "en": "Transition not allowed"},
    "gone": {"es": "El recurso ya no existe", "en": "The resource no longer exists"},
    "precondition-failed": {"es": "La versión ha cambiado; recargue", "en": "The version has changed; reload"},
    "precondition-required": {"es": "Falta la cabecera If-Match", "en": "The If-Match header is required"},
    "too-large": {"es": "La solicitud es demasiado grande", "en": "The request is too large"},
    "unsupported-media-type": {"es": "Tipo de contenido no admitido", "en": "Unsupported content type"},
    "consent-required": {"es": "No hay consentimiento para compartir estos datos",
                         "en": "There is no consent to share this data"},
    "out-of-range": {"es": "Fuera del rango del registro", "en": "Outside the range of the log"},
    "no-checkpoint": {"es": "Aún no hay un punto de control firmado", "en": "No signed checkpoint yet"},
    "cosignature-rejected": {"es": "Cofirma rechazada", "en": "Cosignature rejected"},
    "export-too-large": {"es": "La exportación es demasiado grande", "en": "The export is too large"},
    "rate-limited": {"es": "Demasiadas solicitudes", "en": "Too many requests"},
    "unavailable": {"es": "Servicio no disponible", "en": "Service unavailable"},
    "internal": {"es": "Error interno; el equipo fue notificado", "en": "Internal error; the team was notified"},
    # referral service
    "case-closed": {"es": "El caso está cerrado", "en": "The case is closed"},
    "service-not-accepting": {"es": "El servicio no recibe referencias por Care Route",
                              "en": "The service does not take referrals through Care Route"},
    "service-suspended": {"es": "El servicio está suspendido", "en": "The service is suspended"},
    "service-at-capacity": {"es": "El servicio no tiene cupo", "en": "The service is at capacity"},
    "eligibility-not-met": {"es": "El caso no cumple los criterios del servicio",
                            "en": "The case does not meet the service's eligibility criteria"},
    "override-not-allowed": {"es": "La excepción no está permitida", "en": "The override is not allowed"},
    "duplicate-referral": {"es": "Ya existe una referencia abierta a este servicio",
                           "en": "An open referral to this service already exists"},
    # notify service
    "notification-preference-locked": {"es": "Este aviso de emergencia no puede desactivarse",
                                       "en": "This emergency notice cannot be switched off"},
    "webhook-target-refused": {"es": "Destino de webhook no permitido", "en": "Webhook target not allowed"},
}
STATUS_CODES = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
                405: "method-not-allowed", 409: "conflict", 410: "gone", 412: "precondition-failed",
                413: "too-large", 415: "unsupported-media-type", 422: "validation", 428: "precondition-required",
                429: "rate-limited", 503: "unavailable"}


class Problem(Exception):
    """Raise anywhere in a request to answer with problem+json."""

    def __init__(self, status: int, code: str | None = None, detail: str | dict[str, str] | None = None,
                 *, headers: dict[str, str] | None = None, **extensions) -> None:
        self.status = status
        self.headers = headers or {}
        self.code = code or STATUS_CODES.get(status, "bad-request")
        self.detail = detail
        self.extensions = extensions
        super().__init__(self.code)


def negotiate(accept_language: str | None) -> str:
    preferred = []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag:
            preferred.append(tag)
    found = negotiate_locale(preferred, SUPPORTED_LOCALES, sep="_") if preferred else None
    if not found:  # also accept regional variants such as es-EC, en-GB
        for tag in preferred:
            try:
                lang = Locale.parse(tag).language
            except (ValueError, TypeError):
                continue
            if lang in SUPPORTED_LOCALES:
                return lang
    return found or "es"


def render(problem: Problem, locale: str, instance: str | None = None) -> dict:
    title = TITLES.get(problem.code, TITLES["bad-request"])
    body = {"type": PROBLEM_BASE + problem.code, "title": title.get(locale, title["en"]),
            "status": problem.status}
    if isinstance(problem.detail, dict):
        body["detail"] = problem.detail.get(locale) or problem.detail.get("en")
    elif problem.detail:
        body["detail"] = problem.detail
    if instance:
        body["instance"] = instance
    body.update(problem.extensions)
    return body
