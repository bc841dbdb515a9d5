"""PostgreSQL as the service runs on it when several machines share one database: `dit migrate` on an
empty database, and processes of several machines migrating at once (PostgreSQL's advisory lock, as no
file lock reaches across machines). These run whatever DIT_TEST_DATABASE says; the rest of the suite
runs on PostgreSQL in the second pass of scripts/test (DIT_TEST_DATABASE=postgres)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest

from server.db import MIGRATION_LOCK_KEY
from tests import postgres
from tests.postgres import ROOT, dit_migrate, new_database

# Chooses its databases itself: run once, in the first pass.
pytestmark = pytest.mark.own_database

MIGRATIONS = sorted(p.stem for p in (ROOT / "server" / "migrations").glob("[0-9]*.py"))
# Connections of this database waiting for an advisory lock (the server's other databases aside).
WAITING_FOR_THE_LOCK = """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""


@pytest.fixture
def database(postgres_server: str) -> Iterator[str]:
    """An empty database."""
    with new_database(postgres_server) as url:
        yield url


def test_dit_migrate_brings_an_empty_database_up_to_date(database, tmp_path):
    first = dit_migrate(database, tmp_path / "a")
    _, first_err = first.communicate(timeout=120)
    again = dit_migrate(database, tmp_path / "b")
    out, err = again.communicate(timeout=120)

    assert (first.returncode, again.returncode) == (0, 0), (first_err, err)
    assert f"{len(MIGRATIONS)} migrations applied, the last {MIGRATIONS[-1]}" in out
    assert postgres.applied(database) == MIGRATIONS
    assert {"user", "recording", "transcription_job", "user_session", "sign_in_attempt"} <= set(
        postgres.table_names(database))


async def test_machines_started_together_migrate_a_new_database_once(database, tmp_path):
    """Six processes, each with a data directory (so a file lock) of its own as on six machines, all
    waiting on the advisory lock that the test holds and then let go at once: each must find the
    database as the one before it left it, so the schema is made once and the history written once."""
    holder = await asyncpg.connect(database)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        processes = [dit_migrate(database, tmp_path / f"machine{number}") for number in range(6)]
        deadline = time.monotonic() + 120
        while await holder.fetchval(WAITING_FOR_THE_LOCK) < len(processes):
            assert all(process.poll() is None for process in processes), "a process did not wait for the lock"
            assert time.monotonic() < deadline, "the processes never asked for the lock"
            await asyncio.sleep(0.1)
        assert await holder.fetchval("SELECT to_regclass('public.user')") is None
    finally:
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await holder.close()
    results = [await asyncio.to_thread(process.communicate, timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0] * 6, [err for _, err in results]
    assert all(f"the last {MIGRATIONS[-1]}" in out for out, _ in results)
    assert postgres.applied(database) == MIGRATIONS
