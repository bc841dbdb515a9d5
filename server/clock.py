"""The one clock the service reads: timezone-aware UTC, as the database stores it."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return now().date()


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile: a background loop's sleep that a shutdown cuts short."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
