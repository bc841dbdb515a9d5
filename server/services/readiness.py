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

# A load balancer probes every few seconds: a dependency slower than this is as good as down to it.
CHECK_TIMEOUT_SECONDS = 2.0


async def database_answers(settings: Settings) -> None:
    await get_connection("default").execute_query("SELECT 1")


async def storage_writable(settings: Settings) -> None:
    """The recordings directory takes a file: uploads land there (`os.access` would say yes to root always)."""

    def write() -> None:
        with tempfile.NamedTemporaryFile(dir=settings.recordings_dir, prefix=".ready-"):
            pass

    await asyncio.to_thread(write)


def always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[Settings], Awaitable[None]]
    applies: Callable[[Settings], bool] = always


CHECKS = [
    Check("database", database_answers),
    Check("storage", storage_writable),
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
