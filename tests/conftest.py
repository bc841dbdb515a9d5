"""Fixtures shared by the server tests: a fresh data directory and database per test, the real app
served through its ASGI interface, and a user of every role."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from server.config import Settings
from server.jobs import run_queued_jobs  # noqa: F401  (the tests' worker, imported from here)
from server.models import Role, User
from server.security import hash_password
from server.services.sign_in import Client as Caller
from server.services.sign_in import issue_token
from server.web.app import create_app
from speechfixtures.mixes import varied_speech
from speechfixtures.recorded import jfk_wav
from tests.browser import service  # noqa: F401  (a fixture: `dit serve` for the browser tests)
from tests.postgres import backend, new_database, postgres_server, postgres_template, statements_of_one_dialect  # noqa: F401  (fixtures)
from tests.s3 import s3_server  # noqa: F401  (a fixture)
from tests.seed_model import seed_model_dir, with_seed_model  # noqa: F401  (a fixture, and its use)

PASSWORD = "correct horse battery"
# The patient's written consent to recording, which every upload confirms.
CONSENT = {"consent_confirmed": "true", "consent_date": "2026-01-05"}

# name, role, supervisor
PEOPLE = {
    "trainee": Role.TRAINEE,
    "other_trainee": Role.TRAINEE,
    "supervisor": Role.SUPERVISOR,
    "other_supervisor": Role.SUPERVISOR,
    "lead": Role.COURSE_LEAD,
    "admin": Role.ADMIN,
}


@pytest.fixture
def settings(request, tmp_path: Path) -> Iterator[Settings]:
    """Per-test settings with a new database: a SQLite file in the test's data directory, or with
    DIT_TEST_DATABASE=postgres a PostgreSQL database of its own (see tests/postgres.py).
    `@pytest.mark.settings(name=value)` changes them for one test."""
    marker = request.node.get_closest_marker("settings")
    # Multi-factor sign-in is required only in the tests about it (they set mfa_required_roles).
    changes = {"in_process_worker": False, "demo_accounts": False, "warm_classifier": False,
               "mfa_required_roles": frozenset(),
               **(marker.kwargs if marker else {})}
    settings = replace(Settings.from_env({"DIT_DATA_DIR": str(tmp_path / "data")}), **changes)
    with_seed_model(request.getfixturevalue("seed_model_dir"), settings.data_dir)
    if backend() == "sqlite":
        yield settings
        return
    server = request.getfixturevalue("postgres_server")
    with new_database(server, request.getfixturevalue("postgres_template")) as url:
        yield replace(settings, database_url=url)


@dataclass
class Client:
    """An HTTP client logged in as one person, by bearer token."""

    http: httpx.AsyncClient
    user: User | None
    token: str | None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def get(self, url: str, **kwargs) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs) -> httpx.Response:
        return await self.request("POST", url, **kwargs)


@pytest.fixture
async def app(settings: Settings):
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def password_hash() -> str:
    # Argon2 is slow on purpose; one hash serves every test account.
    return hash_password(PASSWORD)


@pytest.fixture
async def people(app, http, password_hash) -> dict[str, Client]:
    """A client with a bearer token for each role, plus 'anonymous'. The supervisor supervises 'trainee'."""
    users = {}
    for username, role in PEOPLE.items():
        users[username] = await User.create(
            username=username,
            name=username.replace("_", " ").title(),
            role=role,
            password_hash=password_hash,
            accredited=role == Role.SUPERVISOR,
            accredited_on=date.today() - timedelta(days=30) if role == Role.SUPERVISOR else None,
        )
    await users["trainee"].supervisors.add(users["supervisor"])
    await users["other_trainee"].supervisors.add(users["other_supervisor"])
    clients = {"anonymous": Client(http, None, None)}
    for username, user in users.items():
        clients[username] = Client(http, user, await bearer_token(user))
    return clients


async def bearer_token(user: User) -> str:
    """A token as POST /api/token issues one (default lifetime), without a password check for each test."""
    token, _ = await issue_token(user, Settings.from_env({}), Caller(address="127.0.0.1"))
    return token


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_files(settings: Settings) -> set[Path]:
    """Every file under the recordings directory: what an upload left behind."""
    return {p for p in settings.recordings_dir.rglob("*") if p.is_file()}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory) -> Path:
    """Half a minute of varied real speech: long enough to catch a job mid-way (its recognition and then
    its speaker labelling take seconds), short enough to be transcribed several times a run."""
    path, _ = varied_speech(tmp_path_factory.mktemp("long") / "long.wav", 30)
    return path


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> dict[str, Path]:
    """The same real speech in every container a trainee might upload, plus a short clip."""
    out = tmp_path_factory.mktemp("media")
    source = jfk_wav()
    files = {"wav": source}
    for ext, codec in {"mp3": [], "m4a": [], "flac": [], "ogg": ["-c:a", "libvorbis"], "opus": ["-c:a", "libopus"]}.items():
        files[ext] = out / f"speech.{ext}"
        ffmpeg("-i", str(source), *codec, str(files[ext]))
    for ext, codec in {"mp4": ["-c:v", "libx264", "-c:a", "aac"], "mov": ["-c:v", "libx264", "-c:a", "aac"],
                       "webm": ["-c:v", "libvpx", "-c:a", "libopus"]}.items():
        files[ext] = out / f"session.{ext}"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=11", "-i", str(source),
               *codec, "-pix_fmt", "yuv420p", str(files[ext]))
    files["short"] = out / "short.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ar", "16000", str(files["short"]))
    return files


async def open_case(client, code="DIT-001") -> int:
    response = await client.post("/api/cases", json={"code": code})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def upload(client, case_id: int, number: int, path: Path, filename: str | None = None, consent=CONSENT):
    with path.open("rb") as fh:
        return await client.post(
            f"/api/cases/{case_id}/sessions/{number}/recording", data=consent,
            files={"file": (filename or path.name, fh, "application/octet-stream")},
        )


# The domain packages' tests and the `dit` command's open no database of the service's: when scripts/test
# runs both passes at once, they run in the PostgreSQL pass's process, so that the two take about as long.
NO_SERVICE_DATABASE = ("tests/transcription/", "tests/diarisation/", "tests/classifier/", "tests/agreement/",
                       "tests/rating/", "tests/test_cli.py", "tests/test_envelope.py")


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL (`DIT_TEST_DATABASE=postgres`) only the tests that open a database run, and those that
    choose their databases themselves (`own_database`): the others would repeat the SQLite pass exactly. When
    scripts/test runs both passes at once (`DIT_TEST_SPLIT=1`), the `own_database` tests and those of
    NO_SERVICE_DATABASE run in the PostgreSQL pass's process alone, and the tests marked `sqlite_only` (what
    they show on PostgreSQL, another test shows there) in the SQLite pass alone."""
    split = os.environ.get("DIT_TEST_SPLIT") == "1"

    def elsewhere(item) -> bool:
        path = item.path.relative_to(config.rootpath).as_posix()
        return item.get_closest_marker("own_database") is not None or path.startswith(NO_SERVICE_DATABASE)

    if backend() == "postgres":
        kept = [item for item in items
                if ("settings" in getattr(item, "fixturenames", ()) or item.get_closest_marker("own_database")
                    or (split and elsewhere(item)))
                and not (split and item.get_closest_marker("sqlite_only"))]
    elif split:
        kept = [item for item in items if not elsewhere(item)]
    else:
        return
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept
