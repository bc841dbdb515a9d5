"""Reading the values of query strings and forms that several services share, with the same messages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from server.errors import Invalid


def query_date(params: Mapping[str, str], name: str) -> date | None:
    """The date `params[name]` (YYYY-MM-DD), None when absent or empty; 400 for anything else."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"'{name}' must be a date as YYYY-MM-DD, not {raw[:20]!r}.") from None
