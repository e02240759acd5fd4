"""Who may open which console page: one table, enforced by one dependency.

Every console route is listed in :data:`ACCESS` with the least role that may
use it (``None``: no sign-in needed). A route missing from the table is
refused to everyone — forgetting to list a new page fails closed, and the
access-control test walks the table against the app's routes so it cannot
be forgotten silently.

Order of checks for every request: a live session (else: to the sign-in
page), the role (else 403), and for every POST the session's CSRF token,
sent as the ``csrf`` form field or the ``X-CSRF-Token`` header (else 403).
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from amends.console.deps import SessionDep
from amends.users import sessions
from amends.users.models import Role

PUBLIC = None

#: (method, route path) → the least role allowed, or PUBLIC.
ACCESS: dict[tuple[str, str], Role | None] = {
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("POST", "/console/logout"): Role.viewer,
    ("GET", "/console/"): Role.viewer,
    ("GET", "/console/clock"): Role.viewer,
    ("GET", "/console/incidents/new"): Role.communicator,
    ("GET", "/console/incidents/impact"): Role.communicator,
    ("POST", "/console/incidents"): Role.communicator,
    ("GET", "/console/incidents/{incident_id}"): Role.viewer,
    ("GET", "/console/incidents/{incident_id}/ledger/stream"): Role.viewer,
    ("POST", "/console/incidents/{incident_id}/retry"): Role.approver,
    ("POST", "/console/incidents/{incident_id}/pause"): Role.approver,
    ("POST", "/console/incidents/{incident_id}/resume"): Role.approver,
    ("POST", "/console/incidents/{incident_id}/updates"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/resolve"): Role.approver,
    ("GET", "/console/incidents/{incident_id}/apology"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/apology/request"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/apology"): Role.approver,
    ("POST", "/console/check"): Role.communicator,
    ("GET", "/console/incidents/{incident_id}/drafts"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/drafts"): Role.communicator,
    ("GET", "/console/incidents/{incident_id}/drafts/{draft_id}"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/check"): Role.communicator,
    ("GET", "/console/incidents/{incident_id}/drafts/{draft_id}/preview"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/request"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/send"): Role.approver,
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/discard"): Role.communicator,
    ("GET", "/console/maintenance/new"): Role.communicator,
    ("POST", "/console/maintenance"): Role.communicator,
    ("GET", "/console/incidents/{incident_id}/credits"): Role.communicator,
    ("POST", "/console/incidents/{incident_id}/credits"): Role.approver,
    ("GET", "/console/audit"): Role.admin,
    ("GET", "/console/audit.csv"): Role.admin,
    ("GET", "/console/users"): Role.admin,
    ("POST", "/console/users"): Role.admin,
    ("GET", "/console/users/{user_id}"): Role.admin,
    ("POST", "/console/users/{user_id}/role"): Role.admin,
    ("POST", "/console/users/{user_id}/disable"): Role.admin,
    ("POST", "/console/users/{user_id}/enable"): Role.admin,
    ("POST", "/console/users/{user_id}/password"): Role.admin,
    ("POST", "/console/users/{user_id}/end-sessions"): Role.admin,
    ("GET", "/console/apikeys"): Role.admin,
    ("POST", "/console/apikeys"): Role.admin,
    ("GET", "/console/apikeys/{prefix}/revoke"): Role.admin,
    ("POST", "/console/apikeys/{prefix}/revoke"): Role.admin,
    ("GET", "/console/settings"): Role.admin,
    ("GET", "/console/policies"): Role.admin,
    ("POST", "/console/policies"): Role.admin,
}

#: Requests a page makes on its own (htmx polls, event streams): they do not
#: count as activity, so an unattended tab still reaches the idle timeout.
BACKGROUND = frozenset(
    {("GET", "/console/clock"), ("GET", "/console/incidents/{incident_id}/ledger/stream")}
)

COOKIE = "amends_console"
CSRF_HEADER = "X-CSRF-Token"


class SignInNeeded(Exception):
    """No live session: the handler sends the browser to the sign-in page."""


class Refused(Exception):
    """Signed in, but not allowed (role, CSRF, or a route not in the table)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Operator:
    """The signed-in person making this request."""

    user_id: int
    email: str
    name: str
    role: Role
    csrf: str
    ip: str

    def may(self, needed: Role) -> bool:
        return self.role.allows(needed)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "-"


def _key(request: Request) -> tuple[str, str]:
    route = request.scope.get("route")
    return (request.method if request.method != "HEAD" else "GET", getattr(route, "path", ""))


def needed_role(request: Request) -> Role | None:
    key = _key(request)
    if key not in ACCESS:
        raise Refused("this page is not in the console's access table")
    return ACCESS[key]


def current_operator(request: Request, session: SessionDep) -> Operator | None:
    """The guard: who is asking, and may they? ``None`` only on public routes."""
    needed = needed_role(request)
    if needed is PUBLIC:
        return None
    settings = request.app.state.settings
    login = sessions.resume(
        session=session,
        token=request.cookies.get(COOKIE, ""),
        idle=dt.timedelta(minutes=settings.console_idle_minutes),
        touch=_key(request) not in BACKGROUND,
    )
    if login is None:
        raise SignInNeeded
    user = login.user
    if not user.role.allows(needed):
        raise Refused(f"this needs the {needed.value} role; you are {user.role.value}")
    return Operator(
        user_id=user.id, email=user.email, name=user.name or user.email, role=user.role,
        csrf=login.csrf_token, ip=client_ip(request),
    )  # fmt: skip


async def checked_operator(
    request: Request, operator: Annotated[Operator | None, Depends(current_operator)]
) -> Operator | None:
    """The guard plus CSRF: a POST must carry the session's token back."""
    if request.method == "POST" and operator is not None:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent:
            form = await request.form()
            value = form.get("csrf", "")
            sent = value if isinstance(value, str) else ""
        if not (sent and hmac.compare_digest(sent, operator.csrf)):
            raise Refused("the form's security token is missing or stale; reload the page")
    return operator


Guard = Depends(checked_operator)


async def _signed_in(operator: Annotated[Operator | None, Guard]) -> Operator:
    assert operator is not None, "a signed-in route marked PUBLIC in ACCESS"
    return operator


#: For endpoints: the signed-in operator, after every check above.
OperatorDep = Annotated[Operator, Depends(_signed_in)]


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back here afterwards (GETs only: a POST is not replayed)."""
    back = request.url.path
    if request.url.query:
        back += "?" + request.url.query
    if request.method != "GET" or request.headers.get("HX-Request"):
        back = "/console/"
    return f"/console/login?next={quote(back, safe='')}"


def safe_next(value: str | None) -> str:
    """Only console paths on this site: never an open redirect."""
    plain = value and "\\" not in value and "://" not in value
    if plain and value.startswith("/console/") and not value.startswith("//"):
        return value
    return "/console/"
