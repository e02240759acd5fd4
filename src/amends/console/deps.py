"""The console's unit of work: one request, one commit (as the API's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from amends.db import unit_of_work


def get_session(request: Request) -> Iterator[Session]:
    """Committed before the response is sent, rolled back on any error."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with unit_of_work(factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
