"""Whether this process can do its work: the named checks behind GET /readyz.

Each check is a coroutine function of the settings that returns when what it checks answers and raises
otherwise. A check for another dependency is one more `Check` in `CHECKS`; one that only matters in some
deployments (a fresh worker heartbeat, where the service expects workers) gives `applies` a predicate.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tortoise.connection import get_connection

from server.config import Settings
from server.jobs.workers import fresh_workers
from server.services.encryption import check_keyring
from server.storage import storage_for

# A load balancer probes every few seconds: a dependency slower than this is as good as down to it.
CHECK_TIMEOUT_SECONDS = 2.0


async def database_answers(settings: Settings) -> None:
    await get_connection("default").execute_query("SELECT 1")


async def storage_writable(settings: Settings) -> None:
    """The local staging folder takes a file (uploads are received there whatever the store; `os.access`
    would say yes to root always), and an S3 store answers a request."""

    def write() -> None:
        with tempfile.NamedTemporaryFile(dir=settings.incoming_dir, prefix=".ready-"):
            pass

    await asyncio.to_thread(write)
    storage = storage_for(settings)
    if not storage.is_local:
        await storage.head("readyz-probe")


async def queue_answers(settings: Settings) -> None:
    """procrastinate's table answers (on SQLite the queue is the job table, which `database` covers)."""
    await get_connection("default").execute_query("SELECT 1 FROM procrastinate_jobs LIMIT 1")


async def worker_beating(settings: Settings) -> None:
    """The worker inside this process is alive: before, one could die quietly and leave jobs waiting
    while the web answered 200. Workers on other machines are `dit_workers_fresh` in /metrics: a web
    process should not be taken out of a load balancer because they are down."""
    if not await fresh_workers(settings):
        raise WorkerSilent


async def keys_readable(settings: Settings) -> None:
    """The master key file still opens (a process started with it would refuse every encrypted read and
    upload, were it removed or its mode widened since)."""
    await asyncio.to_thread(check_keyring, settings)


class WorkerSilent(Exception):
    """No worker has beaten within the stale window."""


def always(settings: Settings) -> bool:
    return True


def on_postgres(settings: Settings) -> bool:
    return settings.on_postgres


def worker_in_process(settings: Settings) -> bool:
    return settings.in_process_worker


def encrypting(settings: Settings) -> bool:
    return settings.encryption_key_file is not None


@dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[Settings], Awaitable[None]]
    applies: Callable[[Settings], bool] = always


CHECKS = [
    Check("database", database_answers),
    Check("storage", storage_writable),
    Check("queue", queue_answers, on_postgres),
    Check("workers", worker_beating, worker_in_process),
    Check("encryption", keys_readable, encrypting),
]


async def _outcome(check: Check, settings: Settings) -> str:
    """'ok', or the exception's type alone: its text may carry a database URL, a host or a path."""
    try:
        await asyncio.wait_for(check.probe(settings), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return type(exc).__name__
    return "ok"


async def readiness(settings: Settings) -> dict[str, str]:
    """Each applicable check's outcome by name, the checks run side by side."""
    checks = [check for check in CHECKS if check.applies(settings)]
    outcomes = await asyncio.gather(*(_outcome(check, settings) for check in checks))
    return {check.name: outcome for check, outcome in zip(checks, outcomes)}
