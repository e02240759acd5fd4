from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from amends.db import make_engine
from amends.migrations import (
    alembic_config,
    current,
    script_heads,
    stamped,
    upgrade,
    upgrade_if_behind,
)
from amends.models import metadata


def test_migrations_build_every_table_and_rerun_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)  # already at head: must change nothing
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables
    assert current(engine) is not None
    engine.dispose()


def test_heads_read_from_the_version_files_are_alembics() -> None:
    """upgrade_if_behind skips Alembic when the database is at these heads,
    so they must be exactly the ones Alembic would upgrade to."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert script_heads() == frozenset(script.get_heads())


def test_upgrade_if_behind_migrates_a_new_database_and_one_left_behind(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert stamped(engine) is None
    upgrade_if_behind(engine)  # empty: migrated to the head
    assert stamped(engine) == script_heads()
    assert {t.name for t in metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(engine), "-1")  # as if the head had moved on since
    behind = stamped(engine)
    assert behind is not None and behind != script_heads()
    upgrade_if_behind(engine)
    assert stamped(engine) == script_heads()
    engine.dispose()
