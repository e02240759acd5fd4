from sqlalchemy import inspect

from amends.db import make_engine
from amends.migrations import current, upgrade
from amends.models import metadata


def test_migrations_build_every_table_and_rerun_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)  # already at head: must change nothing
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables
    assert current(engine) is not None
    engine.dispose()
