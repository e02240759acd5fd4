"""Command groups that import a command's module only when it is run.

Why: ``amends incident open --send`` is how an operator starts the first
notice, and the target is the first e-mail accepted within 2 s. Importing
every command's module (FastAPI for ``serve``, Alembic's full environment,
argon2 for ``user``, httpx for credit webhooks, the demo…) cost more than a
second before any work began. A :class:`LazyGroup` lists every command from
a table (name, ``module:attribute``, the one paragraph ``--help`` shows), so
``amends --help`` still lists them all, and imports the module of the one
command that is invoked. ``tests/test_startup.py`` checks that every entry
loads, runs its ``--help``, and is listed with the help text it really has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class Lazy:
    """One command (or group of commands) of a :class:`LazyGroup`."""

    name: str
    #: ``"amends.cli.users:app"`` (a Typer: a group) or ``"amends.cli.serve:serve"`` (a function).
    target: str
    #: The first paragraph of its help, as the group's ``--help`` lists it.
    help: str


class _Deferred(TyperCommand):
    """Stands in the group's table until the command is needed: enough for
    the group's ``--help`` listing and for "did you mean" suggestions."""

    def __init__(self, entry: Lazy) -> None:
        super().__init__(entry.name, help=entry.help)
        self.entry = entry


class LazyGroup(TyperGroup):
    """A Typer group whose :attr:`lazy` commands are imported on first use.

    Subclass it (or call :meth:`of`) with the table; commands registered the
    usual Typer way stay eager and keep their order before the lazy ones."""

    lazy: ClassVar[Sequence[Lazy]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False
        for entry in self.lazy:
            self.commands[entry.name] = _Deferred(entry)

    @classmethod
    def of(cls, entries: Sequence[Lazy]) -> type[LazyGroup]:
        return type("LazyGroup", (cls,), {"lazy": tuple(entries)})

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = self.commands.get(cmd_name)
        if isinstance(command, _Deferred) and not self._listing:
            command = self.commands[cmd_name] = self._load(command.entry)
        return command

    def load_all(self) -> dict[str, Command]:
        """Every command, imported (for tests and tools that walk the tree)."""
        for name, command in self.commands.items():
            if isinstance(command, _Deferred):
                self.commands[name] = self._load(command.entry)
        return dict(self.commands)

    @contextmanager
    def _only_listing(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        with self._only_listing():
            super().format_help(ctx, formatter)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        with self._only_listing():
            super().format_commands(ctx, formatter)

    def _load(self, entry: Lazy) -> Command:
        module, _, attribute = entry.target.partition(":")
        found = getattr(import_module(module), attribute)
        command: Command
        if isinstance(found, typer.Typer):
            command = typer.main.get_group(found)
        else:
            command = typer.main.get_command_from_info(
                CommandInfo(name=entry.name, callback=found),
                pretty_exceptions_short=True,
                rich_markup_mode=self.rich_markup_mode,
            )
        command.name = entry.name
        return command
