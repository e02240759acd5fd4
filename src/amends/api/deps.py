"""Per-request plumbing shared by every router: the unit of work.

One request is one unit of work: the session is committed once, after the
endpoint (and the serialisation of its response) succeeded, and rolled back on
any error — so an incident, its first update and its status changes are saved
together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from amends.db import unit_of_work


def session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def read_session_factory(request: Request) -> sessionmaker[Session]:
    """Sessions that only read, and so never hold SQLite's writer lock."""
    factory: sessionmaker[Session] = request.app.state.read_sessions
    return factory


def get_session(request: Request) -> Iterator[Session]:
    """The request's session.

    Used with ``scope="function"`` so the commit happens *before* the response
    is sent: a commit that fails becomes a 500, never a 200 for lost work.
    """
    with unit_of_work(session_factory(request)) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

#: For reads that outlive the request (a streamed export) and need their own session:
#: they last as long as the client takes to read, so they must not block writers.
ReadSessionFactoryDep = Annotated[sessionmaker[Session], Depends(read_session_factory)]
