"""The customer's redemption page: ``/r/{token}``.

HEAD and GET only read: mail scanners fetch every link in an e-mail (and
some submit forms), so GET shows the credit and a button, never redeems.
POST redeems, once, if it carries the CSRF value of the page it came from (a
double-submit cookie scoped to ``/r/``, SameSite=Strict, plus an Origin
check). Unknown and expired tokens get the same page, so nothing can be
enumerated; requests are rate limited per IP and per token (``limits``,
moving window, in memory: one process — behind several, use its Redis
storage). Pages are in the customer's language and carry no-store,
no-referrer and a strict CSP; the access log never sees a whole token.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from babel.dates import format_date
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from limits import parse, storage, strategies

from amends.api.access_log import hide_tokens
from amends.api.deps import ReadSessionFactoryDep, SessionDep
from amends.api.redeem_text import TEXT
from amends.config import Settings
from amends.credits import redemption
from amends.credits.money import money
from amends.credits.redemption import View
from amends.db import unit_of_work

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
COOKIE = "amends_csrf"

STATUS_CODES = {"invalid": 404, "forged": 403, "limited": 429}
TONES = {"redeemed": "done", "automatic": "done", "already": "done", "invalid": "problem",
         "forged": "problem", "limited": "problem"}  # fmt: skip
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


class Limiter:
    """Per-IP and per-token moving windows (``limits``)."""

    def __init__(self, per_ip: int, per_token: int) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._ip = parse(f"{per_ip}/minute")
        self._token = parse(f"{per_token}/minute")

    def allow(self, ip: str, token: str) -> bool:
        key = redemption.token_hash(token)[:16]  # never keep whole tokens, even in memory
        return self._limiter.hit(self._ip, "ip", ip) and self._limiter.hit(
            self._token, "token", key
        )


def install(app: FastAPI, settings: Settings) -> None:
    app.state.redeem_limiter = Limiter(settings.redeem_rate_per_ip, settings.redeem_rate_per_token)
    app.include_router(router)
    hide_tokens("/r/")


def _language(request: Request, view: View | None) -> str:
    if view is not None and view.status != "invalid":
        return "es" if view.locale.lower().startswith("es") else "en"
    accepted = request.headers.get("accept-language", "").lower()
    return "es" if accepted.startswith("es") else "en"


def _page(
    request: Request, token: str, status: str, view: View | None, *, csrf: str | None = None
) -> Response:
    lang = _language(request, view)
    t = TEXT[lang]
    when = None
    if view is not None:
        moment = view.used_at if status == "already" else view.available_at
        when = format_date(moment, format="long", locale=lang) if moment else ""
    lines = []
    totals = []
    if view is not None and status not in ("invalid",):
        lines = [
            {"site": x.site, "amount": money(x.amount_minor, x.currency, lang)} for x in view.lines
        ]
        totals = [money(v, c, lang) for c, v in view.totals.items()]
    context: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "status": status,
        "tone": TONES.get(status, ""),
        "message": t[status].format(date=when),
        "lines": lines,
        "totals": totals,
        "button": status == "ready" and csrf is not None,
        "csrf": csrf,
        "action": f"/r/{token}",
    }
    response = templates.TemplateResponse(
        request, "redeem.html", context, status_code=STATUS_CODES.get(status, 200), headers=HEADERS
    )
    if csrf is not None:
        response.set_cookie(
            COOKIE, csrf, path="/r/", httponly=True, samesite="strict",
            secure=request.url.scheme == "https", max_age=3600,
        )  # fmt: skip
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.api_route("/r/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show(token: str, request: Request, factory: ReadSessionFactoryDep) -> Response:
    """What the link would credit, and a button. Reading only — in a read session,
    so on SQLite a scanner's fetches never wait for, or hold, the writer lock."""
    if not request.app.state.redeem_limiter.allow(_client(request), token):
        return _page(request, token, "limited", None)
    with unit_of_work(factory) as session:
        view = redemption.view(session=session, token=token)
    csrf = secrets.token_urlsafe(32) if view.status == "ready" else None
    return _page(request, token, view.status, view, csrf=csrf)


@router.post("/r/{token}", response_class=HTMLResponse)
def redeem(
    token: str,
    request: Request,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Redeem, once: the CSRF value must match the page's cookie."""
    if not request.app.state.redeem_limiter.allow(_client(request), token):
        return _page(request, token, "limited", None)
    cookie = request.cookies.get(COOKIE, "")
    origin = request.headers.get("origin")
    # Browsers send ``Origin: null`` from a page with ``Referrer-Policy: no-referrer``
    # (ours): that says nothing either way, so the cookie decides.
    same_origin = (
        origin in (None, "null") or origin == f"{request.url.scheme}://{request.url.netloc}"
    )
    if not (csrf and cookie and hmac.compare_digest(csrf, cookie) and same_origin):
        view = redemption.view(session=session, token=token)
        return _page(request, token, "forged" if view.status != "invalid" else "invalid", view)
    outcome, _count = redemption.redeem(session=session, token=token)
    view = redemption.view(session=session, token=token)
    status = outcome if outcome != "already" else "already"
    return _page(request, token, status, view)
