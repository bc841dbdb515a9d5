"""/healthz, /readyz and /metrics, asked over HTTP as a load balancer and Prometheus ask them, and `dit serve`
with several web processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families
from tortoise.connection import get_connection

from server.web.app import create_app
from tests.conftest import open_case, run_queued_jobs, upload
from tests.postgres import backend

METRICS_TOKEN = "scrape-me-0123456789abcdef"


def samples(text: str) -> list:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(s.value for s in samples(text) if s.name == name and labels.items() <= s.labels.items())


def client_from(app, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://t")


async def test_healthz_answers_without_sign_in(http):
    response = await http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    # A probe with stray credentials is not a user: nothing is looked up, and it is still answered.
    stray = await http.get("/healthz", headers={"Authorization": "Bearer not-a-token"})
    assert stray.status_code == 200


async def test_readyz_answers_200_when_the_database_and_storage_answer(http):
    response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    # On PostgreSQL the queue is procrastinate's own table, checked as well.
    queue = {"queue": "ok"} if backend() == "postgres" else {}
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok", **queue}}


@pytest.mark.settings(in_process_worker=True)
async def test_readyz_and_metrics_see_the_worker_inside_the_service(settings, http):
    """The worker `dit serve` runs itself is part of its readiness: one that died would leave jobs waiting."""
    deadline = time.monotonic() + 30
    while (response := await http.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert response.json()["checks"]["workers"] == "ok", response.text
    scraped = await http.get("/metrics")
    fresh = {s.name: s.value for f in text_string_to_metric_families(scraped.text) for s in f.samples}
    assert fresh["dit_workers_fresh"] >= 1


async def test_readyz_names_the_database_when_it_cannot_be_opened(settings, tmp_path):
    # A SQLite file in a folder of its own, whatever database the other tests use: the connection is really
    # closed, and its folder gone, so the reconnection the check makes fails as on a lost disk.
    folder = tmp_path / "database"
    folder.mkdir()
    settings = replace(settings, database_url=f"sqlite://{folder / 'dit.sqlite3'}")
    app = create_app(settings)
    async with LifespanManager(app), client_from(app, "127.0.0.1") as http:
        await get_connection("default").close()
        folder.rename(tmp_path / "moved")
        try:
            response = await http.get("/readyz")
            healthz = await http.get("/healthz")
        finally:
            (tmp_path / "moved").rename(folder)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"] and body["checks"]["storage"] == "ok"
    assert body["checks"]["database"] == "OperationalError"
    # Only the exception's type: no path, no URL, no message.
    assert str(tmp_path) not in response.text and "sqlite" not in response.text.lower()
    assert healthz.status_code == 200, "liveness does not depend on the database"


async def test_readyz_names_storage_when_recordings_cannot_be_written(http, settings):
    # The folder replaced by a file: refused to root as to anyone (a permission bit would not stop root).
    shutil.rmtree(settings.recordings_dir)
    settings.recordings_dir.write_text("")
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"] and response.json()["checks"]["database"] == "ok"
    assert str(settings.data_dir) not in response.text


@pytest.mark.settings(metrics_token=METRICS_TOKEN)
async def test_metrics_need_the_token_when_one_is_set(app, people):
    async with client_from(app, "203.0.113.9") as internet:
        assert (await internet.get("/metrics")).status_code == 401
        wrong = await internet.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        # A user's API token is no metrics token, whoever the user.
        admin = await internet.get("/metrics", headers=people["admin"].headers())
        assert admin.status_code == 401
        allowed = await internet.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert allowed.status_code == 200 and allowed.headers["content-type"].startswith("text/plain")
    assert "dit_transcription_queue_depth" in allowed.text
    async with client_from(app, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 401, "with a token set, even this machine sends it"


@pytest.mark.settings(trusted_proxies=("10.0.0.0/8",))
async def test_metrics_without_a_token_answer_this_machine_and_the_trusted_proxies_only(app):
    for address, status in [("127.0.0.1", 200), ("::1", 200), ("10.1.2.3", 200), ("203.0.113.9", 403)]:
        async with client_from(app, address) as http:
            assert (await http.get("/metrics")).status_code == status, address


@pytest.mark.settings(trusted_proxies=("*",))
async def test_believing_every_proxy_does_not_open_the_metrics(app):
    async with client_from(app, "203.0.113.9") as http:
        assert (await http.get("/metrics")).status_code == 403


async def test_request_metrics_are_labelled_by_route_name_never_by_path(http, people):
    before = value((await http.get("/metrics")).text, "dit_http_request_duration_seconds_count", route="api:recording")
    trainee = people["trainee"]
    await trainee.get("/api/recordings/987654")
    await trainee.get("/api/recordings/987654/transcript")
    await http.get("/cases/876543")
    await http.get("/patients/Jane-Doe-4321")
    await http.request("BREW", "/recordings/765432")
    text = (await http.get("/metrics")).text
    assert value(text, "dit_http_request_duration_seconds_count", route="api:recording") == before + 1
    assert value(text, "dit_http_requests_total", route="api:recording", method="GET", status="4xx") >= 1
    assert value(text, "dit_http_requests_total", route="api:transcript", method="GET") >= 1
    assert value(text, "dit_http_requests_total", route="case", method="GET", status="3xx") >= 1
    assert value(text, "dit_http_requests_total", route="unmatched", status="4xx") >= 1
    assert value(text, "dit_http_requests_total", method="other") >= 1
    labels = {label for s in samples(text) for label in s.labels.values()}
    for raw in ("987654", "876543", "765432", "4321", "Jane", "BREW"):
        assert not any(raw in label for label in labels), raw
    assert not any("/" in label for label in labels), "a path became a label"


@pytest.mark.slow
async def test_job_metrics_count_the_rows_of_the_job_table(http, people, settings, media_files):
    def jobs(text: str, state: str) -> float:
        return value(text, "dit_transcription_jobs", state=state)

    case_id = await open_case(people["trainee"], "DIT-700")
    for number in (1, 2):
        assert (await upload(people["trainee"], case_id, number, media_files["short"])).status_code == 201
    queued = (await http.get("/metrics")).text
    assert jobs(queued, "queued") == 2 and value(queued, "dit_transcription_queue_depth") == 2
    assert jobs(queued, "done") == 0 and value(queued, "dit_transcription_job_duration_seconds_count") == 0

    await run_queued_jobs(settings)
    done = (await http.get("/metrics")).text
    assert jobs(done, "queued") == 0 and jobs(done, "done") == 2 and jobs(done, "failed") == 0
    assert value(done, "dit_transcription_jobs_failed") == 0
    assert value(done, "dit_transcription_job_duration_seconds_count") == 2
    assert value(done, "dit_transcription_job_duration_seconds_bucket", le="+Inf") == 2
    assert value(done, "dit_transcription_real_time_factor_count") == 2
    assert value(done, "dit_transcription_real_time_factor_sum") > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in ("DIT_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    return {**env, "DIT_DATA_DIR": str(tmp_path / "data"), "DIT_DEMO_ACCOUNTS": "0", "DIT_WARM_CLASSIFIER": "0",
            **extra}


def test_several_web_processes_refuse_the_in_process_worker(tmp_path):
    env = _serve_env(tmp_path, WEB_CONCURRENCY="2", DIT_IN_PROCESS_WORKER="1", PORT=str(_free_port()))
    refused = subprocess.run([sys.executable, "-m", "server.cli", "serve"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode != 0 and "DIT_IN_PROCESS_WORKER=0" in refused.stderr


@pytest.mark.slow
def test_dit_serve_with_two_processes_adds_up_their_metrics(tmp_path):
    port = _free_port()
    multiproc = tmp_path / "metrics"
    env = _serve_env(tmp_path, WEB_CONCURRENCY="2", DIT_IN_PROCESS_WORKER="0", PORT=str(port),
                     PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--log-level", "warning"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    answered = 0

    def healthz() -> int:
        # A connection of its own each time, so that either process may accept it.
        with httpx.Client(base_url=url, timeout=10) as client:
            return client.get("/healthz").status_code

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert healthz() == 200
                answered += 1
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "dit serve did not start"
                time.sleep(0.2)

        def serving_pids() -> set[str]:
            return {path.stem.split("_")[-1] for path in multiproc.glob("counter_*.db")}

        with ThreadPoolExecutor(8) as pool:
            for _ in range(40):
                if len(serving_pids()) >= 2:
                    break
                codes = list(pool.map(lambda _: healthz(), range(16)))
                assert codes == [200] * 16
                answered += len(codes)
        assert len(serving_pids()) == 2, "both processes answer requests"
        text = httpx.get(f"{url}/metrics", timeout=10).text
        assert value(text, "dit_http_requests_total", route="healthz", method="GET", status="2xx") == answered
        assert value(text, "dit_http_request_duration_seconds_count", route="healthz") == answered
        assert "dit_transcription_jobs" in text
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr, stderr
