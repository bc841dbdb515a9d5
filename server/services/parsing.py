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


def query_text(params: Mapping[str, str], name: str, longest: int) -> str | None:
    """The text `params[name]`, None when absent or empty; 400 when longer than any stored value can be."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if len(raw) > longest or "\x00" in raw:
        raise Invalid(f"'{name}' is at most {longest} characters.")
    return raw
