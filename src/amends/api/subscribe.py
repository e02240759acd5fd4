"""Status page subscriptions over HTTP: ``/subscribe``, its confirm and manage links.

Thin: statuspage/subscriptions.py decides. These pages are dynamic (never in
the site cache or the static export): every form carries a CSRF value that
must match a cookie scoped to ``/subscribe`` (double submit, SameSite=Strict).
The form on the cached status pages cannot carry a per-visitor value, so its
POST never acts: it answers with this page's own form, filled in, to submit
once more. Links never act on GET (mail scanners fetch them). Every POST is
rate limited per IP. The answer to a subscription is the same whether the
address was new or known, so the form cannot be used to test addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from limits import parse, storage, strategies
from starlette.background import BackgroundTask

from amends.api.deps import SessionDep
from amends.api.redeem import HEADERS
from amends.api.subscribe_text import TEXT
from amends.config import Settings
from amends.errors import NotFound, ValidationFailed
from amends.preferences.service import mask
from amends.statuspage import subscriptions
from amends.statuspage.render import LANGUAGES, negotiate

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
COOKIE = "amends_subscribe_csrf"
STATUS_CODES = {"invalid": 404, "forged": 403, "limited": 429, "bad": 422}
FormList = Annotated[list[str], Form()]
FormText = Annotated[str, Form()]


def install(app: FastAPI, settings: Settings) -> None:
    limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    app.state.subscribe_limit = (limiter, parse(f"{settings.subscribe_rate_per_ip}/minute"))
    app.state.subscribe_mail_limit = (limiter, parse("3/hour"))
    app.include_router(router)


def _allowed(request: Request) -> bool:
    limiter, rate = request.app.state.subscribe_limit
    return bool(limiter.hit(rate, "subscribe", request.client.host if request.client else "-"))


def _may_mail(request: Request, address: str) -> bool:
    """At most a few confirmation mails an hour to one address, however many IPs
    ask: the form must not become a way to flood somebody's inbox. Over the
    limit the visitor sees the same answer; only the mail is skipped."""
    limiter, rate = request.app.state.subscribe_mail_limit
    hashed = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:24]
    return bool(limiter.hit(rate, "subscribe-mail", hashed))


def _language(request: Request, asked: str | None = None) -> str:
    asked = asked or request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    settings: Settings = request.app.state.settings
    return negotiate(request.headers.get("accept-language"), settings.default_locale)


def _csrf_ok(request: Request, value: str) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    return bool(value and cookie and hmac.compare_digest(value, cookie))


def _page(request: Request, lang: str, status: str, **context: Any) -> Response:
    t = TEXT[lang]
    csrf = secrets.token_urlsafe(32) if context.get("form") else None
    message = t[status].format(**context.pop("fmt", {})) if status in t else ""
    response = templates.TemplateResponse(
        request,
        "subscribe.html",
        {"lang": lang, "t": t, "status": status, "message": message, "csrf": csrf} | context,
        status_code=STATUS_CODES.get(status, 200),
        headers=HEADERS,
    )
    if csrf is not None:
        response.set_cookie(
            COOKIE, csrf, path="/subscribe", httponly=True, samesite="strict",
            secure=request.url.scheme == "https", max_age=3600,
        )  # fmt: skip
    return response


def _form(request: Request, session: Any, lang: str, status: str, **values: Any) -> Response:
    components = subscriptions.public_components(session=session)
    settings: Settings = request.app.state.settings
    return _page(
        request, lang, status, form="subscribe", action="/subscribe", components=components,
        chosen=set(values.pop("chosen", ())), kind=values.pop("kind", "email"),
        address=values.pop("address", ""), kinds=settings.statuspage_subscriptions, **values,
    )  # fmt: skip


@router.get("/subscribe", response_class=HTMLResponse)
def show_form(request: Request, session: SessionDep) -> Response:
    return _form(request, session, _language(request), "intro")


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    session: SessionDep,
    kind: FormText = "email",
    address: FormText = "",
    components: FormList = [],  # noqa: B006 - FastAPI copies defaults
    lang: FormText = "",
    csrf: FormText = "",
) -> Response:
    """Subscribe, if the form is this page's own; the same answer for any address."""
    language = _language(request, lang)
    if not _allowed(request):
        return _page(request, language, "limited")
    values = {"kind": kind, "address": address, "chosen": components}
    if not _csrf_ok(request, csrf):
        return _form(request, session, language, "forged" if csrf else "again", **values)
    settings: Settings = request.app.state.settings
    try:
        outgoing = subscriptions.subscribe(
            session=session, kind=kind, address=address, components=components,
            locale=language, base_url=settings.public_url,
            kinds=settings.statuspage_subscriptions,
        )  # fmt: skip
    except (ValidationFailed, NotFound) as problem:
        session.rollback()
        return _form(request, session, language, "bad", fmt={"error": str(problem)}, **values)
    status = "webhook_sent" if kind == "webhook" else "sent"
    response = _page(request, language, status, back=True)
    if outgoing is not None and _may_mail(request, outgoing.message.address):
        # after the commit, so the link works when it arrives
        response.background = BackgroundTask(subscriptions.send, settings, outgoing)
    return response


@router.api_route(
    "/subscribe/confirm/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse
)
def show_confirm(token: str, request: Request, session: SessionDep) -> Response:
    """What the link would confirm, and a button; fetching it confirms nothing."""
    try:
        subscriber = subscriptions.pending(session=session, token=token)
    except NotFound:
        return _page(request, _language(request), "invalid")
    lang = _language(request, subscriber.locale[:2])
    return _page(
        request, lang, "confirm_ask", fmt={"hint": mask(subscriber.address)},
        form="confirm", action=request.url.path,
    )  # fmt: skip


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm(token: str, request: Request, session: SessionDep, csrf: FormText = "") -> Response:
    if not _allowed(request):
        return _page(request, _language(request), "limited")
    try:
        subscriber = subscriptions.pending(session=session, token=token)
    except NotFound:
        return _page(request, _language(request), "invalid")
    lang = _language(request, subscriber.locale[:2])
    if not _csrf_ok(request, csrf):
        return _page(request, lang, "forged", form="confirm", action=request.url.path)
    subscriptions.confirm(session=session, token=token)
    links = subscriptions.links(session=session, subscriber=subscriber, base_url="")
    return _page(
        request, lang, "confirmed", fmt={"hint": mask(subscriber.address)}, links=links, back=True
    )


@router.get("/subscribe/manage/{token}", response_class=HTMLResponse)
def show_manage(token: str, request: Request, session: SessionDep) -> Response:
    try:
        subscriber = subscriptions.managed(session=session, token=token)
    except NotFound:
        return _page(request, _language(request), "invalid")
    return _manage(request, session, subscriber, "manage")


@router.post("/subscribe/manage/{token}", response_class=HTMLResponse)
def manage(
    token: str,
    request: Request,
    session: SessionDep,
    components: FormList = [],  # noqa: B006 - FastAPI copies defaults
    csrf: FormText = "",
) -> Response:
    if not _allowed(request):
        return _page(request, _language(request), "limited")
    try:
        subscriber = subscriptions.managed(session=session, token=token)
        if not _csrf_ok(request, csrf):
            return _manage(request, session, subscriber, "forged")
        subscriber = subscriptions.change_components(
            session=session, token=token, components=components
        )
    except NotFound:
        return _page(request, _language(request), "invalid")
    return _manage(request, session, subscriber, "saved")


def _manage(request: Request, session: Any, subscriber: Any, status: str) -> Response:
    lang = _language(request, subscriber.locale[:2])
    return _page(
        request, lang, status, form="manage", action=request.url.path,
        components=subscriptions.public_components(session=session),
        chosen={c.key for c in subscriber.components},
        links=subscriptions.links(session=session, subscriber=subscriber, base_url=""),
    )  # fmt: skip
