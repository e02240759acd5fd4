"""Alembic migrations shipped inside the package, applied on start-up.

They live in the package (not a top-level folder) so that ``pip install
amends`` carries them and ``amends`` can upgrade any database it is pointed at.

Every command and the server check the schema when they start. Alembic's
full environment (its operations, DDL impls for every dialect, Mako…) takes
a few hundred milliseconds to import, which is most of the work when the
database is already at the head, as it nearly always is. So
:func:`upgrade_if_behind` first compares the database's stamped revision
with the heads read from the version files' ``revision``/``down_revision``
lines, and loads Alembic only when they differ (or the files cannot be read
that way: then Alembic decides, as before).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent
VERSIONS = HERE / "versions"

_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(VERSIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``; a no-op when it is already there."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def upgrade_if_behind(engine: Engine) -> None:
    """Bring the database to the head, loading Alembic only if it is not there."""
    heads = script_heads()
    if heads is None or stamped(engine) != heads:
        upgrade(engine)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def stamped(engine: Engine) -> frozenset[str] | None:
    """The revisions the database says it is at (None: never migrated)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(rows)
    except DBAPIError:  # no alembic_version table yet
        return None


@functools.cache
def script_heads() -> frozenset[str] | None:
    """The heads of the version files' chain, read without importing them;
    None when a file does not spell its revisions the plain way."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        try:
            name = ast.literal_eval(revision.group(1))
            below = ast.literal_eval(down.group(1))
        except (ValueError, SyntaxError):
            return None
        if not isinstance(name, str):
            return None
        revisions.add(name)
        if isinstance(below, str):
            downs.add(below)
        elif isinstance(below, tuple | list):
            downs.update(str(b) for b in below)
        elif below is not None:
            return None
    return frozenset(revisions - downs) or None
