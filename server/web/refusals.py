"""Requests refused before any handler reads them."""

from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse

from server.web.deps import NUL_REFUSED


class RefuseNulInQuery:
    """A query string with a NUL character (`%00`) is refused with 400. PostgreSQL stores no NUL in
    text, so a filter carrying one would fail there with a 500 where SQLite answered; no field of this
    service has a use for it. Bodies are checked where they are parsed (`deps.json_body`, `checked_form`)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"%00" not in query and b"\x00" not in query:
            await self.app(scope, receive, send)
            return
        # The API's refusals are `{"error": …}`, as everywhere else; a page's, plain text.
        response = (JSONResponse({"error": NUL_REFUSED}, status_code=400) if scope["path"].startswith("/api/")
                    else PlainTextResponse(NUL_REFUSED, status_code=400))
        await response(scope, receive, send)
