"""Schema migrations on real SQLite files and real PostgreSQL databases: a new database, ones made
before migrations existed (by generate_schemas from the models of commit e096de0, or of commit 1840a3d
on, which had the speaker columns), and one already up to date."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor

from server.config import Settings
from server.db import (
    APPS,
    SCHEMA_BEFORE_MIGRATIONS,
    SCHEMA_BEFORE_MIGRATIONS_WITH_SPEAKERS,
    close_database,
    open_database,
    tortoise_config,
)
from server.models import Recording, Role, Transcript, User
from tests import postgres
from tests.postgres import BACKENDS, new_database

# Chooses its databases itself: run once, in the first pass.
pytestmark = pytest.mark.own_database

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = sorted(p.stem for p in (ROOT / "server" / "migrations").glob("[0-9]*.py"))


@pytest.fixture(params=BACKENDS)
def new_settings(request, tmp_path: Path) -> Iterator[Callable[[], Settings]]:
    """Settings with a new, empty database on the backend the test runs on, each time it is called: a
    SQLite file in a data directory of its own, or a PostgreSQL database of its own."""
    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    numbers = itertools.count()
    with contextlib.ExitStack() as databases:
        def make() -> Settings:
            data_dir = tmp_path / f"data{next(numbers)}"
            data_dir.mkdir()
            env = {"DIT_DATA_DIR": str(data_dir)}
            if server:
                env["DIT_DATABASE_URL"] = databases.enter_context(new_database(server))
            return Settings.from_env(env)

        yield make


@pytest.fixture
def settings(new_settings) -> Settings:
    return new_settings()


def on_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith("postgres")


def db_file(settings: Settings) -> Path:
    return settings.data_dir / "dit.sqlite3"


def execute(settings: Settings, *statements: str) -> None:
    if on_postgres(settings):
        postgres.execute(settings.database_url, *statements)
        return
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db, db:
        for statement in statements:
            db.execute(statement)


def table_names(db: sqlite3.Connection) -> list[str]:
    return [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not name.startswith("sqlite_")]


def schema(settings: Settings) -> dict[str, dict]:
    """Each table's columns, indexes and foreign keys, as the database reports them, whatever the column order."""
    if on_postgres(settings):
        return postgres.schema(settings.database_url)
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db:
        tables = table_names(db)
        return {
            table: {
                "columns": {row[1]: row[2:] for row in db.execute(f'PRAGMA table_info("{table}")')},
                "indexes": {
                    (unique, tuple(info[2] for info in db.execute(f'PRAGMA index_info("{name}")')))
                    for _, name, unique, *_ in db.execute(f'PRAGMA index_list("{table}")')
                },
                "foreign_keys": {row[2:7] for row in db.execute(f'PRAGMA foreign_key_list("{table}")')},
            }
            for table in tables
        }


def contents(settings: Settings) -> dict[str, list[dict]]:
    if on_postgres(settings):
        return postgres.contents(settings.database_url)
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db:
        db.row_factory = sqlite3.Row
        tables = table_names(db)
        return {table: [dict(row) for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')] for table in tables}


def applied(settings: Settings) -> list[str]:
    if on_postgres(settings):
        return postgres.applied(settings.database_url)
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db:
        return [name for (name,) in db.execute("SELECT name FROM tortoise_migrations WHERE app = 'models' ORDER BY id")]


def dit(settings: Settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "server.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DIT_DATA_DIR": str(settings.data_dir),
                                 "DIT_DATABASE_URL": settings.database_url})


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


async def migrate(settings: Settings, *targets) -> None:
    """Run the migrations themselves, as a database that open_database does not make in one step gets them."""
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        await MigrationExecutor(get_connection("default"), APPS).migrate(list(targets) or None)
    finally:
        await close_database()


OLD_INSTALLS = {"e096de0": SCHEMA_BEFORE_MIGRATIONS, "1840a3d": SCHEMA_BEFORE_MIGRATIONS_WITH_SPEAKERS}
# Columns and tables that later migrations add to an old install (0002's speakers, 0004's accounts,
# 0005's job backoff and worker heartbeats, 0006's audit trail, consent, deletion and confirmed supervision,
# 0007's wrapped data keys).
NEW_COLUMNS = {"recording": {"speaker_corrections", "consent_date", "consent_confirmed_at", "consent_withdrawn_at",
                             "replaced_at", "media_deleted_at", "transcript_deleted_at", "deleted_at", "deleted_by_id",
                             "deletion_reason", "key_id", "data_key", "quality_warnings", "released_result",
                             "withdrawn_reason"},
               "transcript": {"speakers", "edits"},
               "supervisionlog": {"awaiting_confirmation", "confirmed_by_id", "confirmed_at"},
               "user": {"last_sign_in_at", "deactivated_at", "mfa_secret", "mfa_enabled_at", "mfa_last_counter",
                        "recovery_codes", "email", "email_opt_out"},
               "apitoken": {"created_from", "last_used_from", "expires_at", "revoked_at"},
               "transcription_job": {"not_before"}}
NEW_TABLES = {"tortoise_migrations", "user_session", "sign_in_attempt", "password_link", "worker", "audit_event",
              "notification", "suggested_verdict"}
# On PostgreSQL, opening the database also makes procrastinate's tables (the job queue's own schema).
QUEUE_TABLES = {"procrastinate_workers", "procrastinate_jobs", "procrastinate_periodic_defers", "procrastinate_events"}


def queue_tables(settings: Settings) -> set[str]:
    return QUEUE_TABLES if on_postgres(settings) else set()


def model_schema(settings: Settings) -> dict[str, dict]:
    """The schema without the queue's tables, which the migrations do not make."""
    return {table: described for table, described in schema(settings).items() if table not in QUEUE_TABLES}
SPEAKER_CORRECTION = {"kind": "speaker", "start": 0.0, "end": 2.5, "speaker": "therapist"}
SPEAKERS = {"flag": None, "encoder": "resemblyzer", "roles": {"therapist": 0, "confidence": 0.97}}


def sql(value) -> str:
    """A value written into SQL that SQLite and PostgreSQL both read (PostgreSQL casts a quoted literal
    to the column's type: timestamps, dates, JSON)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    return "'" + value.replace("'", "''") + "'"


def insert(table: str, **row) -> str:
    return f'INSERT INTO "{table}" ({", ".join(row)}) VALUES ({", ".join(sql(value) for value in row.values())})'


async def make_old_install(settings: Settings, commit: str = "e096de0") -> None:
    """A database as the service made it before migrations, at `commit`: its schema and no history,
    with a trainee's case, a session, its recording and transcript, a job, and the trainee's supervisor."""
    await migrate(settings, OLD_INSTALLS[commit])
    created = "2026-01-05 09:30:00.123456+00:00"
    rows = [
        "DROP TABLE tortoise_migrations",
        insert("user", id=1, username="tia", name="Tia Trainee", role="trainee",
               password_hash="$argon2id$v=19$m=65536,t=3,p=4$abc$def", is_active=True, accredited=False,
               accredited_on=None, cohort="2026 spring", created_at=created),
        insert("user", id=2, username="sam", name="Sam Supervisor", role="supervisor",
               password_hash="$argon2id$v=19$m=65536,t=3,p=4$ghi$jkl", is_active=True, accredited=True,
               accredited_on="2025-09-01", cohort=None, created_at=created),
        insert("supervision", user_rel_id=1, user_id=2),
        insert("training_case", id=1, code="DIT-007", trainee_id=1, created_at=created),
        insert("therapy_session", id=1, case_id=1, number=3, created_at=created),
        insert("recording", id=1, session_id=1, uploaded_by_id=1, storage_key="0f8c2a56-3d7e-4b1a-9c55-2f0e6a1d4b77",
               original_file="original.m4a", media_type="audio/mp4", size_bytes=48213377,
               sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", duration=3012.5,
               has_video=False, channels=2, sample_rate=48000, is_current=True, created_at=created,
               submitted_for_assessment_at=created, feedback_released_at=None, is_calibration=True,
               reference_scores={"1": 4, "2": 3}, adjudicator_id=2),
        insert("transcript", id=1, recording_id=1, language="en", engine="faster-whisper", model="tiny.en",
               data={"segments": [{"start": 0.0, "end": 2.5, "text": "How have you been since we last met?"}]},
               created_at=created),
        insert("transcription_job", id=1, recording_id=1, status="done", progress=1.0, error=None,
               engine="faster-whisper", model="tiny.en", attempts=1, worker="host:1", heartbeat_at=created,
               created_at=created, started_at=created, finished_at=created),
    ]
    if commit == "1840a3d":
        rows += [f"UPDATE recording SET speaker_corrections = {sql([SPEAKER_CORRECTION])}",
                 f"UPDATE transcript SET speakers = {sql(SPEAKERS)}"]
    if on_postgres(settings):
        # Rows inserted with their ids leave PostgreSQL's sequences behind, as rows the service had
        # made would not: the next row each table gets must not reuse an id.
        rows += [f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))"
                 for table in ("user", "training_case", "therapy_session", "recording", "transcript",
                               "transcription_job")]
    execute(settings, *rows)


async def test_a_new_database_gets_every_table_and_column(settings):
    await open_database(settings)
    model_tables = {model._meta.db_table for model in Tortoise.apps["models"].values()}
    await close_database()

    tables = schema(settings)
    assert set(tables) == model_tables | {"supervision", "tortoise_migrations"} | queue_tables(settings)
    # (type, not null, default, primary key) on SQLite; (type, length, nullable, default) on PostgreSQL.
    corrections, speakers = tables["recording"]["columns"]["speaker_corrections"], tables["transcript"]["columns"]["speakers"]
    if on_postgres(settings):
        assert (corrections, speakers) == (("jsonb", None, False, "'[]'::jsonb"), ("jsonb", None, True, None))
    else:
        assert (corrections, speakers) == (("JSON", 1, "'[]'", 0), ("JSON", 0, None, 0))
    assert applied(settings) == MIGRATIONS


async def test_a_new_database_is_what_the_migrations_make(settings, new_settings):
    """open_database makes a new database from the models in one step: it must be the schema that
    running every migration makes."""
    await open_database(settings)
    await close_database()
    migrated = new_settings()
    await migrate(migrated)

    assert model_schema(settings) == model_schema(migrated)
    assert applied(settings) == applied(migrated) == MIGRATIONS


@pytest.mark.parametrize("commit", OLD_INSTALLS)
async def test_an_install_from_before_migrations_keeps_every_row(settings, new_settings, commit):
    await make_old_install(settings, commit)
    before = contents(settings)

    await open_database(settings)
    try:
        recording = await Recording.get(id=1).prefetch_related("transcript", "session__case__trainee")
        if commit == "e096de0":
            assert recording.speaker_corrections == []
            assert recording.transcript.speakers is None
        else:
            assert recording.speaker_corrections == [SPEAKER_CORRECTION]
            assert recording.transcript.speakers == SPEAKERS
        assert recording.transcript.data["segments"][0]["text"] == "How have you been since we last met?"
        assert recording.reference_scores == {"1": 4, "2": 3}
        assert recording.session.case.trainee.username == "tia"
        tia = await User.get(username="tia").prefetch_related("supervisors")
        assert [s.username for s in tia.supervisors] == ["sam"]
        # The new columns are usable, not only present.
        await Recording.filter(id=1).update(speaker_corrections=[{"start": 1.0, "end": 2.0, "speaker": "patient"}])
        await Transcript.filter(id=1).update(speakers={"flag": "one voice"})
    finally:
        await close_database()

    after = contents(settings)
    assert applied(settings) == MIGRATIONS
    assert set(after) == set(before) | NEW_TABLES | queue_tables(settings)
    for table, rows in before.items():
        updated = NEW_COLUMNS.get(table, set())
        assert [{k: v for k, v in row.items() if k not in updated} for row in after[table]] == [
            {k: v for k, v in row.items() if k not in updated} for row in rows], table
    assert json.loads(after["recording"][0]["speaker_corrections"]) == [{"start": 1.0, "end": 2.0, "speaker": "patient"}]

    # Upgraded and new databases agree, column order aside.
    new = new_settings()
    await open_database(new)
    await close_database()
    upgraded, fresh = schema(settings), schema(new)
    assert upgraded == fresh


@pytest.mark.parametrize("old_install", [None, *OLD_INSTALLS], ids=["new", *(f"from {c}" for c in OLD_INSTALLS)])
async def test_opening_again_changes_nothing(settings, old_install):
    if old_install:
        await make_old_install(settings, old_install)
    await open_database(settings)
    await User.create(username="again", name="Again", role=Role.ADMIN, password_hash="x")
    await close_database()
    history = contents(settings)["tortoise_migrations"]
    before = schema(settings), contents(settings)

    await open_database(settings)
    await close_database()

    assert (schema(settings), contents(settings)) == before
    assert contents(settings)["tortoise_migrations"] == history


async def test_a_migration_that_fails_changes_nothing_and_the_command_exits(settings):
    """A database whose history lost 0002 (and what came after it) though it has the second of 0002's
    two columns: adding the first works, adding the second fails. The first must be rolled back with it, and the command must
    say why and exit (an open connection would keep it running)."""
    await make_old_install(settings, "1840a3d")
    await open_database(settings)
    await close_database()
    execute(settings, "DELETE FROM tortoise_migrations WHERE name >= '0002_speakers'",
            "ALTER TABLE recording DROP COLUMN speaker_corrections")
    before = schema(settings), contents(settings)

    rc, _, stderr = finished(dit(settings, "users", "list"))

    assert rc == 1
    reason = ('column "speakers" of relation "transcript" already exists' if on_postgres(settings)
              else "duplicate column name: speakers")
    assert stderr.strip() == f"The database could not be brought up to date: {reason}"
    assert (schema(settings), contents(settings)) == before


def test_processes_started_together_migrate_a_new_database_once(settings):
    """As the Procfile's web and worker start at once: each finds the database new, and without the
    lock two would both create its tables."""
    processes = [dit(settings, "migrate") for _ in range(6)]
    results = [finished(process) for process in processes]

    assert [rc for rc, _, _ in results] == [0] * 6, [err for _, _, err in results]
    assert all(f"the last {MIGRATIONS[-1]}" in out for _, out, _ in results)
    assert applied(settings) == MIGRATIONS


async def test_every_change_to_the_models_has_a_migration(settings):
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        changes = await MigrationAutodetector(Tortoise.apps, APPS).changes()
    finally:
        await close_database()
    missing = [operation.describe() for writer in changes for operation in writer.operations]
    assert not missing, f"server/models.py changed with no migration ({missing}): run `python -m tortoise makemigrations`"


def test_the_documented_command_finds_the_migrations():
    heads = subprocess.run([sys.executable, "-m", "tortoise", "heads"], cwd=ROOT, capture_output=True, text=True,
                           check=True)
    assert f"models.{MIGRATIONS[-1]}" in heads.stdout
