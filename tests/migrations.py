"""A scratch database for testing a data migration, migrated forward only as far as the test needs.

Walking the suite's shared test database back to an old migration and forward
again to the leaves re-renders the whole project state at every step and costs
a minute a test. A migration test asks for `scratch_database` instead: a new,
empty database of the suite's engine (a temporary file on SQLite, a database
of its own on PostgreSQL), to which it applies only the ancestors of the nodes
it names, a fraction of the graph:

    apps = scratch_database.migrate_to(BEFORE)   # the historical models of that state
    ...write the "before" rows with apps.get_model(...)...
    apps = scratch_database.migrate_to(AFTER)    # the migration under test, and what it needs
    ...read the "after" rows...

While the test runs, a router sends every read and write to the scratch
database: the data migrations use their models' default managers, as
migrations written for one database do, and the test's historical models go
there too. The suite's own database is left alone; the fixture asks for `db`
only so the test may open connections (and so it is torn down before the
test case that guards the suite's connections). Registered as a plugin in
tests/conftest.py.

A migration near the leaves is the exception: walking back undoes only its
few successors, while a scratch database would apply most of the graph
first. billing's tests do that (tests/billing/test_migration.py), at half
the time.
"""

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.apps.registry import Apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

# (app label, migration name); a name of None means none of that app's migrations.
Node = tuple[str, str | None]

_numbers = itertools.count(1)


class ScratchDatabase:
    """The scratch database of one test, under its own connection alias."""

    def __init__(self, *, alias: str) -> None:
        self.alias = alias

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.alias]

    def migrate_to(self, nodes: Sequence[Node]) -> Apps:
        """Applies what `nodes` need (or unapplies what follows them) and returns that state's models.

        The models are rendered from the migration files, as a data migration
        sees them, not today's models: the scratch database is not at the leaves.
        """
        executor = MigrationExecutor(self.connection)
        executor.migrate(list(nodes))
        return executor.loader.project_state([node for node in nodes if node[1] is not None]).apps

    def table_names(self) -> set[str]:
        with self.connection.cursor() as cursor:
            return set(self.connection.introspection.table_names(cursor))


class _EverythingToScratch:
    """A database router that sends every query to the scratch database."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self.alias

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return self.alias

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True


@pytest.fixture
def scratch_database(db: None) -> Iterator[ScratchDatabase]:
    """An empty database of the suite's engine, removed after the test, even one that failed."""
    default = connections[DEFAULT_DB_ALIAS]
    alias = f"migrations_{os.getpid()}_{next(_numbers)}"
    with _empty_database(default=default, alias=alias) as name:
        # A connection of the handler's but not of settings.DATABASES: the test
        # case lets a test open such connections, as it does not guard them.
        connections[alias] = type(default)({**default.settings_dict, "NAME": name}, alias)
        try:
            with override_settings(DATABASE_ROUTERS=[_EverythingToScratch(alias)]):
                yield ScratchDatabase(alias=alias)
        finally:
            connections[alias].close()
            del connections[alias]


@contextlib.contextmanager
def _empty_database(*, default: BaseDatabaseWrapper, alias: str) -> Iterator[str]:
    """Yields the name of a new database (SQLite: a file in a temporary folder), dropped on exit.

    The alias carries the process id, so two xdist workers, or two runs of the
    suite on one PostgreSQL server, never make the same database.
    """
    if default.vendor == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rapport-migrations-") as folder:
            yield str(Path(folder) / f"{alias}.sqlite3")
        return
    name = f"{default.settings_dict['NAME']}_{alias}"
    quoted = default.ops.quote_name(name)
    with default._nodb_cursor() as cursor:
        # Left behind by a run that was killed before it could drop it.
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
        cursor.execute(f"CREATE DATABASE {quoted}")
    try:
        yield name
    finally:
        with default._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
