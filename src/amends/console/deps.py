"""The console's unit of work: one request, one commit (as the API's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from amends.db import unit_of_work
from amends.delivery.dispatch import InlineWorker


def get_session(request: Request) -> Iterator[Session]:
    """Committed before the response is sent, rolled back on any error."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with unit_of_work(factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def kick(request: Request) -> None:
    """After a commit that owed notices: wake the in-process sender, or enqueue
    jobs for ``amends worker`` (distributed) — what the API does after its writes."""
    settings = request.app.state.settings
    worker: InlineWorker | None = getattr(request.app.state, "dispatch_worker", None)
    if settings.dispatch == "inline" and worker is not None:
        worker.kick()
    elif settings.dispatch == "distributed":
        from amends.delivery.jobs import enqueue_now

        enqueue_now(settings)
