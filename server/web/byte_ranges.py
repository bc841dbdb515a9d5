"""Serving media that the web process opens itself (sealed recordings) with HTTP Range, as Starlette's
FileResponse serves plain files: a player seeks by asking for the bytes from a point on.

One range is served (206); a header asking for several, or one this code does not understand, is
answered with the whole file (200), as RFC 9110 allows; a range that starts past the end is 416.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    pass


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of the one range asked for, or None for the whole file."""
    match = SINGLE_RANGE.fullmatch((header or "").replace(" ", ""))
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # bytes=-N: the last N bytes
        if int(last) == 0:
            raise RangeNotSatisfiable
        return max(size - int(last), 0), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or start >= end:
        raise RangeNotSatisfiable
    return start, end


def ranged_response(request: Request, size: int, read: Callable[[int, int], AsyncIterator[bytes]],
                    media_type: str, headers: dict[str, str]) -> Response:
    headers = {**headers, "Accept-Ranges": "bytes"}
    try:
        wanted = requested_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        return StreamingResponse(read(0, size), media_type=media_type,
                                 headers={**headers, "Content-Length": str(size)})
    start, end = wanted
    return StreamingResponse(read(start, end), status_code=206, media_type=media_type,
                             headers={**headers, "Content-Length": str(end - start),
                                      "Content-Range": f"bytes {start}-{end - 1}/{size}"})
