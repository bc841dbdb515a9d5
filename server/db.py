"""Opening the database: connection, migrations and the lock that lets one process migrate at a time."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from pathlib import Path

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.exceptions import OperationalError
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget
from tortoise.migrations.operations import RunPython, RunSQL, SQLOperation

from server.config import Settings
from server.jobs import prepare_queue
from server.models import Transcript, User

APPS = {"models": {"models": ["server.models"], "migrations": "server.migrations"}}
# Before the service had migrations, Tortoise.generate_schemas made the schema of the models of the
# day: that of 0001_initial (commit e096de0), or, from commit 1840a3d on, with 0002's speaker columns.
SCHEMA_BEFORE_MIGRATIONS = MigrationTarget(app_label="models", name="0001_initial")
SCHEMA_BEFORE_MIGRATIONS_WITH_SPEAKERS = MigrationTarget(app_label="models", name="0002_speakers")
# PostgreSQL's advisory locks are named by a 64-bit number: this one is the eight bytes "dit:migr".
MIGRATION_LOCK_KEY = int.from_bytes(b"dit:migr", "big")


def _owner_only(database_url: str) -> None:
    """A SQLite database file (and its journal, which SQLite gives the same mode) for this user alone."""
    if database_url.startswith("sqlite://") and database_url != "sqlite://:memory:":
        path = Path(database_url.removeprefix("sqlite://").split("?")[0])
        path.touch(mode=0o600)
        path.chmod(0o600)


def tortoise_config(database_url: str) -> dict:
    return {"connections": {"default": database_url}, "apps": APPS}


# For `python -m tortoise` (pyproject.toml's [tool.tortoise] points here): the service's own database.
TORTOISE_ORM = tortoise_config(Settings.from_env().database_url)


class MigrationFailed(RuntimeError):
    """The database could not be brought up to date; the failed migration was rolled back."""


async def open_database(settings: Settings) -> None:
    """Connect, and bring the database's schema up to date with server/migrations."""
    # Request handlers run in tasks that do not inherit the lifespan's context, so the ORM's
    # context must be the process-wide fallback (as tortoise.contrib.starlette sets it).
    await Tortoise.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)
    _owner_only(settings.database_url)
    try:
        async with _migration_lock(settings):
            await _migrate()
            # The job queue's own tables (procrastinate's, on PostgreSQL), made once under the same lock.
            await prepare_queue(settings)
    except BaseException as exc:
        # An open connection would keep the process alive (aiosqlite's thread) after the error.
        await close_database()
        if isinstance(exc, OperationalError):
            raise MigrationFailed(f"The database could not be brought up to date: {exc}") from exc
        raise


@contextlib.asynccontextmanager
async def _migration_lock(settings: Settings):
    """One process at a time migrates: processes started together (the Procfile's web and worker)
    would otherwise both find a new database empty and both create its tables. A file lock in the
    data directory serves the processes of one machine (SQLite is only ever shared that way); on
    PostgreSQL, processes on several machines take turns through an advisory lock in the database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / "migrate.lock", "a") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        try:
            async with _advisory_lock():
                yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def _advisory_lock():
    """PostgreSQL's session-level advisory lock, held on one connection of the pool while the
    migrations run on others; it belongs to the database, so the server frees it if this process
    dies. Other databases have none (SQLite needs none beyond the file lock)."""
    client = get_connection("default")
    if client.capabilities.dialect != "postgres":
        yield
        return
    # The key is a literal, as asyncpg and psycopg write query parameters differently.
    async with client.acquire_connection() as connection:
        await connection.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        try:
            yield
        finally:
            await connection.execute(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")


async def _migrate() -> None:
    executor = MigrationExecutor(get_connection("default"), APPS)
    schema_made = False
    if not await executor.recorder.applied_migrations():
        if await _has_tables():
            # Made by generate_schemas before migrations existed: the tables are there but there is
            # no history, so 0001 would fail on its first CREATE TABLE. What the schema already has
            # is recorded as applied without running it; the later migrations then alter the tables
            # in place, keeping their rows.
            await executor.migrate([await _schema_before_migrations()], fake=True)
        elif await _migrations_only_follow_models(executor):
            # A new database: the models' schema in one step is the migrations' end state (a test
            # holds them equal) in a tenth of the time (tortoise rebuilds its model state after
            # every operation), and the test suite opens a new database for nearly every test.
            await Tortoise.generate_schemas(safe=False)
            schema_made = True
    await executor.migrate(fake=schema_made)


async def _has_tables() -> bool:
    return await _answers(User.exists())


async def _schema_before_migrations() -> MigrationTarget:
    # An update that matches no row, and not a SELECT: SQLite reads an unknown double-quoted name in
    # a SELECT as a string, but a column named as the target of an assignment must exist there as
    # on PostgreSQL. Outside a transaction, the failed statement leaves PostgreSQL's session usable.
    if await _answers(Transcript.filter(id__isnull=True).update(speakers=None)):
        return SCHEMA_BEFORE_MIGRATIONS_WITH_SPEAKERS
    return SCHEMA_BEFORE_MIGRATIONS


async def _answers(query) -> bool:
    """Whether the database has the tables and columns a query names. Asked through the ORM, as no
    one catalogue query serves SQLite and the server databases alike."""
    try:
        await query
    except OperationalError:
        return False
    return True


async def _migrations_only_follow_models(executor: MigrationExecutor) -> bool:
    """Whether every migration only changes the schema as the models describe it: raw SQL or
    Python (data, indexes or triggers the models do not know) must really run."""
    await executor.loader.build_graph()
    return not any(
        isinstance(operation, (RunPython, RunSQL, SQLOperation))
        for migration in executor.loader.disk_migrations.values()
        for operation in migration.operations
    )


async def close_database() -> None:
    await Tortoise.close_connections()


@contextlib.asynccontextmanager
async def database(settings: Settings):
    """The database open for a command-line task."""
    await open_database(settings)
    try:
        yield
    finally:
        await close_database()
