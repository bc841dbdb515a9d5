"""Schema migrations on real SQLite files: a new database, ones made before migrations existed
(by generate_schemas from the models of commit e096de0, or of commit 1840a3d on, which had the
speaker columns), and one already up to date."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
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

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = sorted(p.stem for p in (ROOT / "server" / "migrations").glob("[0-9]*.py"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"DIT_DATA_DIR": str(tmp_path)})


def db_file(settings: Settings) -> Path:
    return settings.data_dir / "dit.sqlite3"


def table_names(db: sqlite3.Connection) -> list[str]:
    return [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not name.startswith("sqlite_")]


def schema(path: Path) -> dict[str, dict]:
    """Each table's columns, indexes and foreign keys, as SQLite reports them, whatever the column order."""
    with contextlib.closing(sqlite3.connect(path)) as db:
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


def contents(path: Path) -> dict[str, list[dict]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        tables = table_names(db)
        return {table: [dict(row) for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')] for table in tables}


def applied(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [name for (name,) in db.execute("SELECT name FROM tortoise_migrations WHERE app = 'models' ORDER BY id")]


def dit(settings: Settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "server.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "DIT_DATA_DIR": str(settings.data_dir)})


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
# Columns and tables that later migrations add to an old install (0002's speakers, 0004's accounts).
NEW_COLUMNS = {"recording": {"speaker_corrections"}, "transcript": {"speakers"},
               "user": {"last_sign_in_at", "deactivated_at", "mfa_secret", "mfa_enabled_at", "mfa_last_counter",
                        "recovery_codes"},
               "apitoken": {"created_from", "last_used_from", "expires_at", "revoked_at"}}
NEW_TABLES = {"tortoise_migrations", "user_session", "sign_in_attempt", "password_link"}
SPEAKER_CORRECTION = {"kind": "speaker", "start": 0.0, "end": 2.5, "speaker": "therapist"}
SPEAKERS = {"flag": None, "encoder": "resemblyzer", "roles": {"therapist": 0, "confidence": 0.97}}


async def make_old_install(settings: Settings, commit: str = "e096de0") -> None:
    """A database as the service made it before migrations, at `commit`: its schema and no history,
    with a trainee's case, a session, its recording and transcript, a job, and the trainee's supervisor."""
    await migrate(settings, OLD_INSTALLS[commit])
    created = "2026-01-05 09:30:00.123456+00:00"
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db, db:
        db.execute("DROP TABLE tortoise_migrations")
        db.executemany(
            "INSERT INTO user (id, username, name, role, password_hash, is_active, accredited, accredited_on,"
            " cohort, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(1, "tia", "Tia Trainee", "trainee", "$argon2id$v=19$m=65536,t=3,p=4$abc$def", 1, 0, None,
              "2026 spring", created),
             (2, "sam", "Sam Supervisor", "supervisor", "$argon2id$v=19$m=65536,t=3,p=4$ghi$jkl", 1, 1,
              "2025-09-01", None, created)],
        )
        db.execute("INSERT INTO supervision (user_rel_id, user_id) VALUES (1, 2)")
        db.execute("INSERT INTO training_case (id, code, trainee_id, created_at) VALUES (1, 'DIT-007', 1, ?)", (created,))
        db.execute("INSERT INTO therapy_session (id, case_id, number, created_at) VALUES (1, 1, 3, ?)", (created,))
        db.execute(
            "INSERT INTO recording (id, session_id, uploaded_by_id, storage_key, original_file, media_type,"
            " size_bytes, sha256, duration, has_video, channels, sample_rate, is_current, created_at,"
            " submitted_for_assessment_at, feedback_released_at, is_calibration, reference_scores, adjudicator_id)"
            " VALUES (1, 1, 1, '0f8c2a56-3d7e-4b1a-9c55-2f0e6a1d4b77', 'original.m4a', 'audio/mp4', 48213377,"
            " 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 3012.5, 0, 2, 48000, 1, ?,"
            " ?, NULL, 1, ?, 2)",
            (created, created, json.dumps({"1": 4, "2": 3})),
        )
        db.execute(
            "INSERT INTO transcript (id, recording_id, language, engine, model, data, created_at)"
            " VALUES (1, 1, 'en', 'faster-whisper', 'tiny.en', ?, ?)",
            (json.dumps({"segments": [{"start": 0.0, "end": 2.5, "text": "How have you been since we last met?"}]}),
             created),
        )
        db.execute(
            "INSERT INTO transcription_job (id, recording_id, status, progress, error, engine, model, attempts,"
            " worker, heartbeat_at, created_at, started_at, finished_at)"
            " VALUES (1, 1, 'done', 1.0, NULL, 'faster-whisper', 'tiny.en', 1, 'host:1', ?, ?, ?, ?)",
            (created, created, created, created),
        )
        if commit == "1840a3d":
            db.execute("UPDATE recording SET speaker_corrections = ?", (json.dumps([SPEAKER_CORRECTION]),))
            db.execute("UPDATE transcript SET speakers = ?", (json.dumps(SPEAKERS),))


async def test_a_new_database_gets_every_table_and_column(settings):
    await open_database(settings)
    model_tables = {model._meta.db_table for model in Tortoise.apps["models"].values()}
    await close_database()

    tables = schema(db_file(settings))
    assert set(tables) == model_tables | {"supervision", "tortoise_migrations"}
    assert tables["recording"]["columns"]["speaker_corrections"] == ("JSON", 1, "'[]'", 0)
    assert tables["transcript"]["columns"]["speakers"] == ("JSON", 0, None, 0)
    assert applied(db_file(settings)) == MIGRATIONS


async def test_a_new_database_is_what_the_migrations_make(settings, tmp_path):
    """open_database makes a new database from the models in one step: it must be the schema that
    running every migration makes."""
    await open_database(settings)
    await close_database()
    migrated = Settings.from_env({"DIT_DATA_DIR": str(tmp_path / "migrated")})
    migrated.data_dir.mkdir()
    await migrate(migrated)

    assert schema(db_file(settings)) == schema(db_file(migrated))
    assert applied(db_file(settings)) == applied(db_file(migrated)) == MIGRATIONS


@pytest.mark.parametrize("commit", OLD_INSTALLS)
async def test_an_install_from_before_migrations_keeps_every_row(settings, commit):
    await make_old_install(settings, commit)
    before = contents(db_file(settings))

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

    after = contents(db_file(settings))
    assert applied(db_file(settings)) == MIGRATIONS
    assert set(after) == set(before) | NEW_TABLES
    for table, rows in before.items():
        updated = NEW_COLUMNS.get(table, set())
        assert [{k: v for k, v in row.items() if k not in updated} for row in after[table]] == [
            {k: v for k, v in row.items() if k not in updated} for row in rows], table
    assert json.loads(after["recording"][0]["speaker_corrections"]) == [{"start": 1.0, "end": 2.0, "speaker": "patient"}]

    # Upgraded and new databases agree, column order aside.
    new = Settings.from_env({"DIT_DATA_DIR": str(settings.data_dir / "new")})
    new.data_dir.mkdir()
    await open_database(new)
    await close_database()
    upgraded, fresh = schema(db_file(settings)), schema(db_file(new))
    assert upgraded == fresh


@pytest.mark.parametrize("old_install", [None, *OLD_INSTALLS], ids=["new", *(f"from {c}" for c in OLD_INSTALLS)])
async def test_opening_again_changes_nothing(settings, old_install):
    if old_install:
        await make_old_install(settings, old_install)
    await open_database(settings)
    await User.create(username="again", name="Again", role=Role.ADMIN, password_hash="x")
    await close_database()
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db:
        history = db.execute("SELECT * FROM tortoise_migrations ORDER BY id").fetchall()
    before = schema(db_file(settings)), contents(db_file(settings))

    await open_database(settings)
    await close_database()

    assert (schema(db_file(settings)), contents(db_file(settings))) == before
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db:
        assert db.execute("SELECT * FROM tortoise_migrations ORDER BY id").fetchall() == history


async def test_a_migration_that_fails_changes_nothing_and_the_command_exits(settings):
    """A database whose history lost 0002 (and what came after it) though it has the second of 0002's
    two columns: adding the first works, adding the second fails. The first must be rolled back with it, and the command must
    say why and exit (an open connection would keep it running)."""
    await make_old_install(settings, "1840a3d")
    await open_database(settings)
    await close_database()
    with contextlib.closing(sqlite3.connect(db_file(settings))) as db, db:
        db.execute("DELETE FROM tortoise_migrations WHERE name >= '0002_speakers'")
        db.execute("ALTER TABLE recording DROP COLUMN speaker_corrections")
    before = schema(db_file(settings)), contents(db_file(settings))

    rc, _, stderr = finished(dit(settings, "users", "list"))

    assert rc == 1
    assert stderr.strip() == "The database could not be brought up to date: duplicate column name: speakers"
    assert (schema(db_file(settings)), contents(db_file(settings))) == before


def test_processes_started_together_migrate_a_new_database_once(settings):
    """As the Procfile's web and worker start at once: each finds the database new, and without the
    lock two would both create its tables."""
    processes = [dit(settings, "migrate") for _ in range(6)]
    results = [finished(process) for process in processes]

    assert [rc for rc, _, _ in results] == [0] * 6, [err for _, _, err in results]
    assert all(f"the last {MIGRATIONS[-1]}" in out for _, out, _ in results)
    assert applied(db_file(settings)) == MIGRATIONS


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
