"""The sending view: the delivery ledger of an incident, pushed to the browser by
server-sent events while notices go out.

Every couple of seconds the stream reads the counts (one GROUP BY, in a
read-only session so it never holds SQLite's writer lock) and sends the
rendered ledger when it changed. It ends once nothing is pending or being
sent (the browser's EventSource then stops: the last state stays on screen),
when the browser goes away, or after ``MAX_STREAM``. A paused notice says so,
with who paused it and when; an approver pauses and resumes the incident's
notices, or one of them, from the ledger (``delivery/pausing.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from amends.console.access import Guard, OperatorDep
from amends.console.deps import SessionDep, kick
from amends.console.pages import HEADERS, templates
from amends.db import unit_of_work
from amends.delivery import ledger as delivery_ledger
from amends.delivery import pausing
from amends.delivery.ledger import DeliveryCounts
from amends.incidents import service as incident_service
from amends.users import auditlog

router = APIRouter(include_in_schema=False, dependencies=[Guard])
TICK = 1.0
MAX_STREAM = 600.0
UNFINISHED = ("pending", "sending")


def _counts(factory: sessionmaker[Session], incident_id: int) -> DeliveryCounts:
    with unit_of_work(factory) as session:
        return delivery_ledger.counts(session=session, incident_id=incident_id)


def event(name: str, html: str) -> str:
    """One SSE event; every line of the payload gets its own ``data:``."""
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {name}\n{data}\n\n"


def _remaining(counts: DeliveryCounts) -> int:
    return sum(counts.by_state.get(s, 0) for s in UNFINISHED)


def progress(first: DeliveryCounts, now: DeliveryCounts, elapsed: float) -> dict[str, float] | None:
    """Rows finished per second since the stream began, and the seconds left at
    that pace (None until something has finished)."""
    done = _remaining(first) - _remaining(now) + (now.total - first.total)
    if elapsed <= 0 or done <= 0:
        return None
    rate = done / elapsed
    return {"rate": rate, "left": _remaining(now) / rate}


@router.get("/console/incidents/{incident_id}/ledger/stream")
async def ledger_stream(
    incident_id: int, request: Request, session: SessionDep, me: OperatorDep
) -> StreamingResponse:
    await run_in_threadpool(incident_service.get_incident, session=session, incident_id=incident_id)
    factory: sessionmaker[Session] = request.app.state.read_sessions
    fragment = templates.get_template("_ledger_counts.html")

    async def produce() -> AsyncIterator[str]:
        last = None
        started = time.monotonic()
        first: DeliveryCounts | None = None
        while time.monotonic() - started < MAX_STREAM:
            counts = await run_in_threadpool(_counts, factory, incident_id)
            first = first or counts
            pace = progress(first, counts, time.monotonic() - started)
            html = fragment.render(ledger=counts, progress=pace, me=me)
            if html != last:
                yield event("ledger", html)
                last = html
            if not any(counts.by_state.get(s) for s in UNFINISHED):
                yield event("done", "")
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(TICK)

    return StreamingResponse(
        produce(),
        media_type="text/event-stream",
        headers={**HEADERS, "X-Accel-Buffering": "no"},
    )


@router.post("/console/incidents/{incident_id}/retry")
def retry(incident_id: int, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    """Owe the failed deliveries again (delivery.ledger.retry_failed), and wake the sender."""
    count = delivery_ledger.retry_failed(session=session, incident_id=incident_id)
    auditlog.record(
        session=session, actor=me.email, action="deliveries.retry",
        target=f"incident {incident_id}", detail=f"{count} failed deliveries owed again",
        ip=me.ip,
    )  # fmt: skip
    return RedirectResponse(
        f"/console/incidents/{incident_id}", status_code=303, headers=HEADERS,
        background=BackgroundTask(kick, request),
    )  # fmt: skip


def _notice(value: str) -> int | None:
    """The form's ``notice`` field: one notice's id, or empty for all of them."""
    return int(value) if value.strip().isdigit() else None


@router.post("/console/incidents/{incident_id}/pause")
def pause(
    incident_id: int, session: SessionDep, me: OperatorDep, notice: str = Form("")
) -> Response:
    """Stop sending the incident's notices (or one): nothing more is claimed."""
    pausing.pause(
        session=session, incident_id=incident_id, notice_id=_notice(notice), by=me.email,
        ip=me.ip,
    )  # fmt: skip
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303, headers=HEADERS)


@router.post("/console/incidents/{incident_id}/resume")
def resume(
    incident_id: int, request: Request, session: SessionDep, me: OperatorDep, notice: str = Form("")
) -> Response:
    """Send them again, at once: wake the sender (or enqueue the ranges)."""
    pausing.resume(
        session=session, incident_id=incident_id, notice_id=_notice(notice), by=me.email,
        ip=me.ip,
    )  # fmt: skip
    return RedirectResponse(
        f"/console/incidents/{incident_id}", status_code=303, headers=HEADERS,
        background=BackgroundTask(kick, request),
    )  # fmt: skip
