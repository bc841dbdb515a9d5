"""Stream a multipart upload straight to a file on disk, hashing and counting as it goes, and hand
the received recording to `services.recordings`.

Starlette's own form parser spools files to the system temp directory with no size limit;
recordings can be gigabytes, so they go to the data directory and are cut off at the limit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from server.clock import today
from server.config import Settings
from server.errors import DomainError, Invalid, TooLarge
from server.models import Case, Recording, User
from server.services.consent import CONFIRMED, parse_consent
from server.services.recordings import ReceivedFile, accept_recording, staging

MAX_FIELD_BYTES = 64 * 1024


class UploadTooLarge(TooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The recording is larger than the limit of {format_bytes(limit)}.")


def format_bytes(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass
class StreamedUpload:
    """The form fields and the one file of a multipart request."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None
    size: int = 0
    sha256: str = ""


def check_filename(filename: str) -> str:
    """Browsers send a base name; anything path-like is a client doing something odd."""
    name = filename.strip()
    if not name:
        raise Invalid("The uploaded file has no name.")
    if (
        PurePosixPath(name).name != name
        or PureWindowsPath(name).name != name
        or name in {".", ".."}
        or "\x00" in name
    ):
        raise Invalid("The file name must be a plain name, not a path.")
    return name


async def receive_upload(request: Request, destination: Path, *, file_field: str, limit: int) -> StreamedUpload:
    """Parse the request body, writing the part named `file_field` to `destination`.

    On any error the partial file is removed before the error propagates.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise Invalid(f"Send the recording as multipart/form-data with a field named '{file_field}'.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MAX_FIELD_BYTES:
        raise UploadTooLarge(limit)

    upload = StreamedUpload()
    digest = hashlib.sha256()
    state = {"name": None, "headers": [], "header_field": b"", "header_value": b"", "buffer": bytearray()}
    sink = None

    def on_part_begin():
        state["headers"] = []
        state["buffer"] = bytearray()

    def on_header_field(data, start, end):
        state["header_field"] += data[start:end]

    def on_header_value(data, start, end):
        state["header_value"] += data[start:end]

    def on_header_end():
        state["headers"].append((state["header_field"].lower(), state["header_value"]))
        state["header_field"], state["header_value"] = b"", b""

    def on_headers_finished():
        nonlocal sink
        disposition = dict(state["headers"]).get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if b"filename" in options:
            if name != file_field or upload.path is not None:
                raise Invalid(f"Send exactly one file, in the field '{file_field}'.")
            upload.filename = check_filename(options[b"filename"].decode("utf-8", "replace"))
            upload.path = destination
            # Owner-only from the first byte: the link into storage keeps the mode.
            sink = open(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")

    def on_part_data(data, start, end):
        chunk = data[start:end]
        if sink is not None and state["name"] == file_field and upload.path is not None and not sink.closed:
            upload.size += len(chunk)
            if upload.size > limit:
                raise UploadTooLarge(limit)
            digest.update(chunk)
            sink.write(chunk)
        else:
            state["buffer"] += chunk
            if len(state["buffer"]) > MAX_FIELD_BYTES:
                raise Invalid("A form field is too long.")

    def on_part_end():
        if sink is not None and not sink.closed and state["name"] == file_field:
            sink.close()
        else:
            upload.fields[state["name"]] = state["buffer"].decode("utf-8", "replace")

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if upload.path is None:
            raise Invalid(f"No file was sent: choose a recording for the field '{file_field}'.")
        if sink is not None and not sink.closed:
            raise Invalid("The upload ended before the file was complete.")
    except BaseException as exc:
        if sink is not None:
            sink.close()
        destination.unlink(missing_ok=True)
        if isinstance(exc, DomainError):
            raise
        if isinstance(exc, Exception) and type(exc).__module__.startswith("python_multipart"):
            raise Invalid("The upload is not valid multipart/form-data.") from exc
        raise
    upload.sha256 = digest.hexdigest()
    return upload


async def receive_recording(request: Request, settings: Settings, case: Case, number: int, uploader: User,
                            check_fields: Callable[[dict[str, str]], None] | None = None) -> Recording:
    """Receive the request's recording and accept it for the session. `check_fields` sees the form's
    other fields (a page's CSRF token) before anything is kept; then the patient's consent is read from them."""
    with staging(settings) as staged:
        upload = await receive_upload(request, staged.upload, file_field="file", limit=settings.max_upload_bytes)
        if check_fields is not None:
            check_fields(upload.fields)
        consent = parse_consent(upload.fields, today())
        received = ReceivedFile(upload.filename or "", upload.size, upload.sha256)
        confirm = upload.fields.get("confirm_replace") or request.query_params.get("confirm_replace") or ""
        return await accept_recording(settings, staged, received, case, number, uploader, consent,
                                      confirm_replace=confirm.strip().lower() in CONFIRMED)
