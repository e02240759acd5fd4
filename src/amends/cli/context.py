"""What every command shares: settings, the engine, a unit of work, output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from amends.config import Settings
from amends.db import init_engine, read_only, session_factory, unit_of_work

console = Console()
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of tables.")


@dataclass
class AppState:
    """Built once per invocation by the root callback; the engine is lazy so
    ``amends --help`` never touches a database."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = init_engine(self.settings)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One command, one commit: all of it saved, or none of it."""
        with unit_of_work(session_factory(self.engine)) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """For commands that only read, however long they take (an export to
        a slow pipe): on SQLite they must not hold the write lock meanwhile."""
        with unit_of_work(session_factory(read_only(self.engine))) as session:
            yield session

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    assert isinstance(root.obj, AppState)
    return root.obj


def emit(data: Any, *, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """JSON for scripts, or the human rendering."""
    if as_json or render is None:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        render(data)
