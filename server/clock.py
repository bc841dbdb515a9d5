"""The one clock the service reads: timezone-aware UTC, as the database stores it."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)
