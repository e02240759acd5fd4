"""Start-up cost of the CLI: the first notice does not wait for modules it
does not use, and no command is lost to lazy loading (cli/lazy.py)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy.orm import Session, sessionmaker
from typer.core import TyperGroup
from typer.testing import CliRunner

import amends.cli
from amends.cli import app
from amends.cli.lazy import LazyGroup
from tests import factories
from tests.subscription_support import smtp_sink

#: Packages `amends incident open --send` must not import for an e-mail-only
#: send to a database already at the head: each cost tens to hundreds of ms
#: before the first e-mail (benchmarks/first_notice.py).
HEAVY = {
    "alembic",  # the schema is at the head: upgrade_if_behind does not load it
    "mako",
    "pygments",
    "fastapi",
    "starlette",
    "uvicorn",
    "procrastinate",
    "httpx",  # HTTP channels build their client on first send
    "apprise",
    "standardwebhooks",
    "argon2",
    "phonenumbers",
    "email_validator",
    "icalendar",
}
HEAVY_AMENDS = {
    "amends.api",
    "amends.console",
    "amends.demo",
    "amends.messages.apologies",
    "amends.credits.redemption",
    "amends.credits.webhooks",
    "amends.users.service",
    "amends.cli.users",
    "amends.cli.serve",
    "amends.cli.demo",
    "amends.cli.credits",
    "amends.cli.statuspage",
}

PROBE = """
import json, sys
from amends.cli import app
try:
    app(sys.argv[2:], prog_name="amends", standalone_mode=False)
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(sorted(sys.modules), out)
"""


def test_open_send_does_not_import_heavy_modules(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        factories.hosting_catalog(session)
        for _ in range(3):
            factories.site(session, factories.customer(session), ["web-hosting"])
        session.commit()
    modules = tmp_path / "modules.json"
    with smtp_sink() as (sink, port):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AMENDS_")},
            "AMENDS_DATABASE_URL": database_url,  # migrated: the cheap check must see it
            "AMENDS_DISPATCH": "inline",
            "AMENDS_SMTP_HOST": "127.0.0.1",
            "AMENDS_SMTP_PORT": str(port),
            "AMENDS_SMTP_STARTTLS": "off",
            "AMENDS_MAIL_FROM": "status@hosting.example",
            "AMENDS_MESSAGE_ID_DOMAIN": "hosting.example",
        }
        command = ["incident", "open", "DNS", "-c", "dns=major_outage", "--send"]
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(modules), *command],
            env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert len(sink.messages) == 3  # it really sent: the path measured is the real one
    loaded = set(json.loads(modules.read_text()))
    assert "amends.delivery.dispatch" in loaded  # the probe sees what the send imported
    heavy = {m for m in loaded if m.split(".")[0] in HEAVY}
    heavy |= {m for m in loaded for h in HEAVY_AMENDS if m == h or m.startswith(h + ".")}
    assert not heavy, f"imported on the first-notice path: {sorted(heavy)}"


def _commands(group: TyperGroup) -> dict[str, Any]:
    return group.load_all() if isinstance(group, LazyGroup) else dict(group.commands)


def _tree(group: TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path under ``group``, each module imported."""
    for name, command in _commands(group).items():
        yield (*path, name)
        if isinstance(command, TyperGroup):
            yield from _tree(command, (*path, name))


def _callbacks(group: TyperGroup) -> set[object]:
    found: set[object] = set()
    for command in _commands(group).values():
        if command.callback is not None:
            found.add(getattr(command.callback, "__wrapped__", command.callback))
        if isinstance(command, TyperGroup):
            found |= _callbacks(command)
    return found


def test_every_command_loads_and_shows_its_help() -> None:
    paths = list(_tree(typer.main.get_group(app)))
    assert len(paths) >= 79  # the whole tree (79 when lazy loading came), not its first level
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output, path


def test_every_typer_command_of_the_cli_modules_is_reachable() -> None:
    """A command written in a cli module but left out of the lazy tables would
    be silently missing: every Typer app's commands must be in the tree."""
    reachable = _callbacks(typer.main.get_group(app))
    missing = []
    for module in pkgutil.iter_modules(amends.cli.__path__, "amends.cli."):
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if isinstance(value, typer.Typer):
                missing += [
                    f"{module.name}:{info.callback.__name__}"
                    for info in value.registered_commands
                    if info.callback not in reachable
                ]
    assert not missing


@pytest.mark.parametrize("path", [[], ["incident"]])
def test_help_lists_commands_as_they_are_once_loaded(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The tables' help texts are the commands' own: ``--help`` reads the same
    before any command module is imported and after all of them are."""

    def render(load: bool) -> str:
        group: TyperGroup = typer.main.get_group(app)
        for name in path:
            group = _commands(group)[name]
        if load:
            assert isinstance(group, LazyGroup)
            group.load_all()
        with typer.Context(group, info_name="amends") as ctx:
            group.format_help(ctx, ctx.make_formatter())
        return capsys.readouterr().out

    lazily = render(load=False)
    assert "Commands" in lazily
    assert lazily == render(load=True)
