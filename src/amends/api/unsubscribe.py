"""``/u/{token}``: the one-click unsubscribe link every notice carries.

GET and HEAD only show what the link would do (mail scanners and link
previews fetch links; a fetch must never unsubscribe anybody). POST acts:
the page's confirm button, or the mail provider's RFC 8058 one-click POST
(``List-Unsubscribe=One-Click``), which arrives without cookies — so there is
no CSRF cookie to check: the signed token in the address is the capability,
and only its holder can use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from amends.api.deps import SessionDep
from amends.errors import NotFound
from amends.preferences import service as preferences

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Incident notices",
        "button": "Stop these notices",
        "ask": "Stop incident notices by {channel} to {hint}?",
        "done": "Done: no more incident notices by {channel} to {hint}.",
        "already": "Incident notices by {channel} to {hint} are already off.",
        "invalid": "This link is not valid. Nothing was changed.",
        "email": "e-mail",
        "sms": "SMS",
        "voice": "phone call",
        "webhook": "webhook",
        "chat": "chat",
    },
    "es": {
        "title": "Avisos de incidencias",
        "button": "Dejar de recibir estos avisos",
        "ask": "¿Dejar de recibir avisos de incidencias por {channel} en {hint}?",
        "done": "Hecho: no recibirá más avisos de incidencias por {channel} en {hint}.",
        "already": "Los avisos de incidencias por {channel} en {hint} ya están desactivados.",
        "invalid": "Este enlace no es válido. No se ha cambiado nada.",
        "email": "correo electrónico",
        "sms": "SMS",
        "voice": "llamada",
        "webhook": "webhook",
        "chat": "chat",
    },
}


@router.api_route("/u/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    """What the link would do, and a button that does it."""
    try:
        choice = _choice(session, token)
    except NotFound:
        return _page(request, "invalid", None, status_code=404)
    return _page(request, "already" if choice.already else "ask", choice)


@router.post("/u/{token}", response_class=HTMLResponse)
def act(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    """Unsubscribe: the button, or the mail provider's one-click POST."""
    try:
        choice = _choice(session, token)
        changed = preferences.unsubscribe(session=session, recipient=choice.recipient)
    except NotFound:
        return _page(request, "invalid", None, status_code=404)
    return _page(request, "done" if changed or not choice.already else "already", choice)


def _choice(session: Any, token: str) -> preferences.Choice:
    key = preferences.signing_key(session=session)
    return preferences.describe(session=session, recipient=preferences.read(key, token))


def _page(
    request: Request,
    status: str,
    choice: preferences.Choice | None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    lang = "es" if (choice and choice.locale.lower().startswith("es")) else "en"
    if choice is None and request.headers.get("accept-language", "").lower().startswith("es"):
        lang = "es"
    t = TEXT[lang]
    message = t[status]
    if choice is not None:
        channel = t.get(choice.recipient.channel, choice.recipient.channel)
        message = message.format(channel=channel, hint=choice.hint)
    response = templates.TemplateResponse(
        request,
        "unsubscribe.html",
        {
            "lang": lang,
            "t": t,
            "status": status,
            "message": message,
            "button": status == "ask",
            "action": request.url.path,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
