"""The customer's rating page: ``/rate/{token}`` and ``/rate/{token}/{score}``.

Every resolution notice and apology e-mail asks "how well did we handle
this?" with one link per point of the 1–5 scale. Mail scanners fetch every
link, so GET and HEAD only *show* the chosen point, pre-selected, with an
optional comment box and a confirm button; POST records, if it carries the
CSRF value of the page it came from (double-submit cookie scoped to
``/rate/``, SameSite=Strict, plus an Origin check, as ``/r/``). A second
POST replaces the first answer: one rating per customer per incident.

The token is signed (``ratings.links``), so it names one customer and one
incident and cannot be forged; the page shows the incident and the
customer's own answer, nothing else about them, in their language. Requests
are rate limited per IP and per token with the redemption page's settings.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from amends.api.access_log import hide_tokens
from amends.api.deps import ReadSessionFactoryDep, SessionDep
from amends.api.rate_text import TEXT
from amends.api.redeem import HEADERS, Limiter
from amends.config import Settings
from amends.db import unit_of_work
from amends.errors import NotFound, ValidationFailed
from amends.messages.blocks import rating_labels
from amends.messages.i18n import Speaker
from amends.preferences import service as preferences
from amends.ratings import links
from amends.ratings import service as ratings

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
COOKIE = "amends_rate_csrf"
STATUS_CODES = {"invalid": 404, "forged": 403, "limited": 429, "bad_score": 422, "too_long": 422}
TONES = {"saved": "done", "invalid": "problem", "forged": "problem", "limited": "problem",
         "bad_score": "problem", "too_long": "problem"}  # fmt: skip
FormText = Annotated[str, Form()]


def install(app: FastAPI, settings: Settings) -> None:
    app.state.rating_limiter = Limiter(settings.redeem_rate_per_ip, settings.redeem_rate_per_token)
    app.include_router(router)
    hide_tokens("/rate/")


def _allowed(request: Request, token: str) -> bool:
    client = request.client.host if request.client else "unknown"
    return bool(request.app.state.rating_limiter.allow(client, token))


def _ask(session: Session, token: str) -> ratings.Ask:
    key = preferences.signing_key(session=session)
    return ratings.describe(session=session, link=links.read(key, token))


def _browser_language(request: Request) -> str:
    accepted = request.headers.get("accept-language", "").lower()
    return "es" if accepted.startswith("es") else "en"


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _chosen(value: str | None) -> int | None:
    try:
        return ratings.check_score(value) if value else None
    except ValidationFailed:
        return None


def _page(
    request: Request,
    token: str,
    status: str,
    ask: ratings.Ask | None,
    *,
    chosen: int | None = None,
    comment: str | None = None,
    fmt: dict[str, int] | None = None,
) -> Response:
    lang = ask.lang if ask is not None else _browser_language(request)
    t = TEXT[lang]
    choices = rating_labels(Speaker(lang, "UTC"))
    values = {k: format_decimal(v, locale=lang) for k, v in (fmt or {}).items()}
    if status == "ask" and ask is not None and ask.score is not None:
        status = "current"
        values.update(score=ask.score, label=dict(choices)[ask.score])
    context: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "status": status,
        "tone": TONES.get(status, ""),
        "message": t[status].format(**values),
        "form": ask is not None and status != "limited",
        "about": "",
    }
    csrf = None
    if context["form"]:
        assert ask is not None
        csrf = _csrf_value(request)
        date = format_date(ask.started_at.astimezone(_zone(ask.timezone)), "long", locale=lang)
        context.update(
            about=t["about"].format(title=ask.title, date=date),
            csrf=csrf,
            action=f"/rate/{token}",
            choices=choices,
            chosen=chosen if chosen is not None else ask.score,
            comment=comment if comment is not None else ask.comment,  # theirs, kept
            limit=ratings.COMMENT_MAX,
        )
    response = templates.TemplateResponse(
        request, "rate.html", context, status_code=STATUS_CODES.get(status, 200), headers=HEADERS
    )
    if csrf is not None:
        response.set_cookie(
            COOKIE, csrf, path="/rate/", httponly=True, samesite="strict",
            secure=request.url.scheme == "https", max_age=3600,
        )  # fmt: skip
    return response


def _show(request: Request, factory: Any, token: str, score: str | None) -> Response:
    if not _allowed(request, token):
        return _page(request, token, "limited", None)
    try:
        with unit_of_work(factory) as session:
            ask = _ask(session, token)
    except NotFound:
        return _page(request, token, "invalid", None)
    return _page(request, token, "ask", ask, chosen=_chosen(score))


@router.api_route("/rate/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show(token: str, request: Request, factory: ReadSessionFactoryDep) -> Response:
    """The form with the customer's current answer, if any. Reads only."""
    return _show(request, factory, token, None)


@router.api_route("/rate/{token}/{score}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show_choice(
    token: str, score: str, request: Request, factory: ReadSessionFactoryDep
) -> Response:
    """The link in the e-mail: the point chosen, pre-selected; nothing recorded."""
    return _show(request, factory, token, score)


@router.post("/rate/{token}", response_class=HTMLResponse)
def rate(
    token: str,
    request: Request,
    session: SessionDep,
    score: FormText = "",
    comment: FormText = "",
    csrf: FormText = "",
) -> Response:
    """Record the answer (replacing an earlier one), if the form is the page's own."""
    if not _allowed(request, token):
        return _page(request, token, "limited", None)
    try:
        ask = _ask(session, token)
    except NotFound:
        return _page(request, token, "invalid", None)
    kept = {"chosen": _chosen(score), "comment": comment}
    if not _csrf_ok(request, csrf):
        return _page(request, token, "forged", ask, **kept)
    try:
        saved = ratings.record(session=session, link=ask.link, score=score, comment=comment)
    except ValidationFailed as problem:
        if problem.field == "comment":
            fmt = {"length": len(comment.replace("\r\n", "\n").strip()),
                   "limit": ratings.COMMENT_MAX}  # fmt: skip
            return _page(request, token, "too_long", ask, fmt=fmt, **kept)
        return _page(request, token, "bad_score", ask, **kept)
    return _page(request, token, "saved", saved)


def _csrf_value(request: Request) -> str:
    """The visitor's CSRF value, kept while it lives: a customer who opened two
    rating links (two tabs) can send either form."""
    kept = request.cookies.get(COOKIE, "")
    return kept if _CSRF_SHAPE.fullmatch(kept) else secrets.token_urlsafe(32)


_CSRF_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def _csrf_ok(request: Request, value: str) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    origin = request.headers.get("origin")
    # ``Origin: null`` comes from our own no-referrer page: the cookie decides then.
    same_origin = (
        origin in (None, "null") or origin == f"{request.url.scheme}://{request.url.netloc}"
    )
    return bool(value and cookie and hmac.compare_digest(value, cookie) and same_origin)
