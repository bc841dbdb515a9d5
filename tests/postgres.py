"""PostgreSQL for the tests: the throwaway server of `scripts/services` (started when it is not running,
and stopped at the end by the run that started it), and a new database per test, copied from a
template that already has the schema.

`DIT_TEST_DATABASE=postgres` makes conftest's `settings` fixture give every test such a database;
`DIT_TEST_POSTGRES_URL` names a server already running (as `scripts/services up postgres` prints it)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgres")
_numbers = itertools.count()


def backend() -> str:
    """The database the suite's tests run on: DIT_TEST_DATABASE, SQLite unless it says otherwise."""
    name = os.environ.get("DIT_TEST_DATABASE") or "sqlite"
    if name not in BACKENDS:
        raise pytest.UsageError(f"DIT_TEST_DATABASE must be one of {', '.join(BACKENDS)}, not {name!r}")
    return name


def services(action: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / "services"), action, "postgres"], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(autouse=True)
def statements_of_one_dialect() -> None:
    """Tortoise caches each table's INSERT, UPDATE and DELETE statements by connection name, not by
    dialect: after a test on one database, the next may be on the other (one process never changes
    databases in service), and must not be sent the SQL written for the first."""
    EXECUTOR_CACHE.clear()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of the server's own database, for CREATE and DROP DATABASE."""
    if url := os.environ.get("DIT_TEST_POSTGRES_URL"):
        yield url
        return
    status = services("status")
    started = status.returncode != 0
    answer = services("up") if started else status
    if answer.returncode != 0:
        if "could not install postgresql" in answer.stderr:
            pytest.skip(f"no PostgreSQL server: {answer.stderr.strip()}")
        raise AssertionError(f"scripts/services up postgres failed:\n{answer.stderr}")
    try:
        yield re.search(r"DIT_TEST_POSTGRES_URL=(\S+)", answer.stdout).group(1)
    finally:
        if started:
            services("down")


def database_url(server_url: str, name: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def run(coroutine):
    """Run a coroutine on a loop of its own, in a thread: a synchronous fixture is called while the
    test's loop is set, and asyncio.run in this thread would unset it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _execute(url: str, statements: tuple[str, ...]) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def execute(url: str, *statements: str) -> None:
    run(_execute(url, statements))


def dit_migrate(database: str, data_dir: Path) -> subprocess.Popen:
    """`dit migrate` as on a machine of its own: a data directory (and so a file lock) of its own."""
    env = {**os.environ, "DIT_DATA_DIR": str(data_dir), "DIT_DATABASE_URL": database}
    return subprocess.Popen([sys.executable, "-m", "server.cli", "migrate"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str, tmp_path_factory) -> Iterator[str]:
    """A database brought up to date once a run by `dit migrate`, as a release step would, for each
    test's database to be copied from."""
    name = f"dit_template_{os.getpid()}"
    execute(postgres_server, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    migrate = dit_migrate(database_url(postgres_server, name), tmp_path_factory.mktemp("template"))
    _, stderr = migrate.communicate(timeout=120)
    assert migrate.returncode == 0, stderr
    yield name
    execute(postgres_server, f"DROP DATABASE {name} WITH (FORCE)")


@contextlib.contextmanager
def new_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A database of its own for one test (empty, or a copy of the template), dropped afterwards even
    if a connection to it was left open."""
    name = f"dit_test_{os.getpid()}_{next(_numbers)}"
    # A file copy of a small template is about three times quicker than the default, which logs
    # every block of it.
    copy = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
    execute(server_url, f"CREATE DATABASE {name}{copy}")
    try:
        yield database_url(server_url, name)
    finally:
        execute(server_url, f"DROP DATABASE {name} WITH (FORCE)")


# --- what a database holds, read from PostgreSQL's catalogue (for the migration tests) ----------------

COLUMNS = """SELECT table_name, column_name, data_type, character_maximum_length, is_nullable = 'YES', column_default
             FROM information_schema.columns WHERE table_schema = 'public'"""
# Indexes by their columns and uniqueness, and constraints by their definition: not by name, which
# differs between a schema made in one step and one made by migrations.
INDEXES = """SELECT t.relname, i.indisunique, i.indisprimary,
                    array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n)
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
             WHERE t.relnamespace = 'public'::regnamespace"""
CONSTRAINTS = """SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'c')"""


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(query)
    finally:
        await connection.close()


def fetch(url: str, query: str) -> list[asyncpg.Record]:
    return run(_fetch(url, query))


def table_names(url: str) -> list[str]:
    return [name for (name,) in fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


def schema(url: str) -> dict[str, dict]:
    """Each table's columns, indexes and constraints, whatever the column order or their names."""
    tables = {name: {"columns": {}, "indexes": set(), "constraints": set()} for name in table_names(url)}
    for table, column, *described in fetch(url, COLUMNS):
        tables[table]["columns"][column] = tuple(described)
    for table, unique, primary, columns in fetch(url, INDEXES):
        tables[table]["indexes"].add((unique, primary, tuple(columns)))
    for table, definition in fetch(url, CONSTRAINTS):
        tables[table.strip('"')]["constraints"].add(definition)
    return tables


def contents(url: str) -> dict[str, list[dict]]:
    return {table: [dict(row) for row in fetch(url, f'SELECT * FROM "{table}" ORDER BY 1, 2')]
            for table in table_names(url)}


def applied(url: str) -> list[str]:
    return [name for (name,) in fetch(url, "SELECT name FROM tortoise_migrations WHERE app = 'models' ORDER BY id")]
