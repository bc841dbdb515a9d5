"""Recordings: upload, transcription status and retry, the transcript, the media, speaker corrections."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server import access, audit_trail
from server.errors import Conflict, Invalid, NotFound
from server.models import AuditAction
from server.services import deletion, media, recordings, speakers, transcript_edits, transcripts
from server.services.cases import check_session_number
from server.services.transcripts import as_shown_to, read_transcript, stored_transcript
from server.storage import storage_for
from server.web.byte_ranges import ranged_response
from server.web.deps import api_user, json_body, settings_of
from server.web.serialise import recording_json
from server.web.uploads import receive_recording
from transcription.formats import FORMATS, MEDIA_TYPES
from transcription.transcript import Transcript as TranscriptData


async def upload_recording(request: Request) -> JSONResponse:
    """
    summary: Upload (or replace) a session's recording; it is queued for transcription.
    description: "Audio or video (wav, mp3, m4a, flac, ogg, opus, mp4, mov, webm...) in the multipart field `file`, with the patient's written consent to recording confirmed: `consent_confirmed=true` and its date, `consent_date=YYYY-MM-DD`."
    requestBody:
      content:
        multipart/form-data:
          schema: {type: object, required: [file, consent_confirmed, consent_date], properties: {file: {type: string, format: binary}, consent_confirmed: {type: boolean}, consent_date: {type: string, format: date}}}
    responses:
      201: {description: The accepted recording and its job status.}
      400: {description: No file, empty file, or a path-like file name.}
      413: {description: Larger than the configured limit.}
      422: {description: "No confirmed consent or its date (`errors` names the field), not media, no audio track, zero duration, longer than the limit, or cut short."}
    """
    user = api_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    access.require_uploader(user, case)
    number = check_session_number(request.path_params["number"])
    recording = await receive_recording(request, settings_of(request), case, number, user)
    recording = await access.readable_recording(user, recording.id)
    return JSONResponse(await recording_json(request, recording), status_code=201)


async def get_recording(request: Request) -> JSONResponse:
    """
    summary: A recording's transcription status, progress (percent) and error.
    responses:
      200: {description: "{id, status: queued|running|done|failed, progress, error, ...}"}
      404: {description: No such recording.}
    """
    recording = await access.readable_recording(api_user(request), request.path_params["recording_id"])
    return JSONResponse(await recording_json(request, recording))


async def retry_recording(request: Request) -> JSONResponse:
    """
    summary: Queue a failed transcription again.
    responses:
      202: {description: Queued.}
      409: {description: The transcription has not failed.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    await recordings.retry(user, recording, settings_of(request))
    return JSONResponse(await recording_json(request, recording), status_code=202)


async def submit_for_assessment(request: Request) -> JSONResponse:
    """
    summary: The trainee puts this recording forward for assessment.
    responses:
      200: {description: "Marked; `warning`: the quality check the recording failed, kept with it as gone on despite, or null."}
      403: {description: Not the trainee's own recording.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    warning = await recordings.put_forward_for_assessment(user, recording)
    return JSONResponse({"recording": recording.id, "submitted_for_assessment": True, "warning": warning})


async def delete_recording(request: Request) -> JSONResponse:
    """
    summary: Delete a recording's media and transcript; the recording stays as a tombstone (what, when, why, by whom).
    description: "The case's trainee may delete their own recording before anyone rates it; a course lead any, with a reason. Ratings keep their scores but lose their evidence moments."
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {reason: {type: string}}}
    responses:
      200: {description: "The recording, with `deleted` filled in."}
      400: {description: A course lead gave no reason.}
      403: {description: Not the trainee's own recording, or already rated.}
      410: {description: Deleted already.}
    """
    return await deleting(request, deletion.delete_recording)


async def post_consent_withdrawn(request: Request) -> JSONResponse:
    """
    summary: The patient withdrew consent to the recording; its media and transcript are deleted at once.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [reason], properties: {reason: {type: string}}}
    responses:
      200: {description: "The recording, with `consent.withdrawn_at` and `deleted` filled in."}
      400: {description: No reason.}
      403: {description: Neither the case's trainee nor a course lead.}
    """
    return await deleting(request, deletion.withdraw_consent)


async def deleting(request: Request, action) -> JSONResponse:
    """`action(settings, user, recording, reason)` with the body's reason; the recording, its tombstone filled in."""
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    body = await json_body(request)
    await action(settings_of(request), user, recording, body.get("reason"))
    return JSONResponse(await recording_json(request, recording))


async def get_transcript(request: Request) -> Response:
    """
    summary: The transcript as JSON, or as WebVTT, SRT or plain text.
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [json, vtt, srt, txt]}}
      - {name: download, in: query, schema: {type: boolean}, description: Send as an attachment.}
    responses:
      200: {description: "JSON: {language, engine, model, duration, segments: [{start, end, speaker, text, words}]}"}
      409: {description: Not transcribed yet.}
      410: {description: Deleted (on demand, withdrawn consent, or the retention schedule).}
    """
    fmt = request.query_params.get("format", "json")
    if fmt not in FORMATS:
        raise Invalid(f"Unknown format '{fmt}'; use one of {', '.join(FORMATS)}.")
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    transcript = TranscriptData.from_dict(as_shown_to(user, (await read_transcript(settings_of(request),
                                                                                   recording)).to_dict()))
    headers = {"Cache-Control": "no-store"}
    if request.query_params.get("download"):
        audit_trail.note(action=AuditAction.DOWNLOAD)
        case = recording.session.case
        headers["Content-Disposition"] = f'attachment; filename="{case.code}-session{recording.session.number:02d}.{fmt}"'
    return Response(FORMATS[fmt](transcript), media_type=MEDIA_TYPES[fmt], headers=headers)


async def get_media(request: Request) -> Response:
    """
    summary: The original recording, for playback (supports HTTP range requests).
    description: "Stored in the clear on S3: a redirect to a short-lived presigned address, where ranges work as here. Stored encrypted (DIT_ENCRYPTION_KEY_FILE): always served here, opening only the chunks a range touches."
    responses:
      200: {description: The media file.}
      206: {description: A byte range of it.}
      307: {description: "S3 storage, in the clear: the presigned address to fetch it (and its ranges) from."}
      416: {description: The range starts past the end.}
      410: {description: Deleted (on demand, withdrawn consent, or the retention schedule).}
    """
    recording = await access.readable_recording(api_user(request), request.path_params["recording_id"])
    recordings.require_media(recording)
    headers = {"Cache-Control": "private, no-store"}
    sealed = await media.sealed_media(settings_of(request), recording)
    if sealed is not None:
        return ranged_response(request, sealed.size, sealed.read, recording.media_type, headers)
    storage = storage_for(settings_of(request))
    key = media.original_key(recording)
    path = storage.local_path(key)
    if path is not None:
        if not path.exists():
            raise NotFound(media.MISSING)
        return FileResponse(path, media_type=recording.media_type, headers=headers)
    if await storage.head(key) is None:
        raise NotFound(media.MISSING)
    return RedirectResponse(storage.presigned_url(key), status_code=307, headers=headers)


async def post_swap(request: Request) -> JSONResponse:
    """
    summary: Swap therapist and patient throughout the transcript (kept across re-transcription).
    responses:
      200: {description: The corrected transcript.}
      409: {description: No transcript yet, or no patient to swap with.}
    """
    user = api_user(request)
    return JSONResponse(as_shown_to(user, await speakers.swap(settings_of(request), user,
                                                              request.path_params["recording_id"])))


async def post_speaker(request: Request) -> JSONResponse:
    """
    summary: Give the words between start and end to a speaker (splits or merges segments; kept across re-transcription).
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [start, end, speaker], properties: {start: {type: number}, end: {type: number}, speaker: {type: string, enum: [therapist, patient], nullable: true}}}
    responses:
      200: {description: The corrected transcript.}
      400: {description: Bad times or speaker.}
      409: {description: No transcript yet.}
    """
    recording, row = await transcripts.correctable(api_user(request), request.path_params["recording_id"])
    body = await json_body(request)
    correction = speakers.speaker_correction(body.get("start"), body.get("end"), body.get("speaker"))
    return JSONResponse(as_shown_to(api_user(request), await speakers.save_correction(
        settings_of(request), recording, row, correction, api_user(request))))


async def get_edits(request: Request) -> JSONResponse:
    """
    summary: Every correction of the transcript's text, oldest first, with what was recognised before.
    responses:
      200: {description: "{edits: [{kind: text|merge|split, start, end, text?, split_at?, by, at, made}]}: `made` is false for one whose line a new transcription no longer has"}
      409: {description: No transcript yet.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    row = await stored_transcript(recording)
    if row is None:
        raise Conflict("There is no transcript yet.")
    return JSONResponse({"edits": transcript_edits.edit_log(settings_of(request), user, recording, row)})


async def post_edit(request: Request) -> JSONResponse:
    """
    summary: Correct the transcript's text; kept, with who and when, across re-transcription.
    description: "A line is named by its `start` and `end` as the transcript gives them. `kind` text: its words are `text`. merge: the line from `start` and the next, ending at `end`, become one (same speaker). split: the line becomes two, the second beginning with word number `word` (from 0). The line keeps what was recognised in `edited.recognised`."
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [kind, start, end], properties: {kind: {type: string, enum: [text, merge, split]}, start: {type: number}, end: {type: number}, text: {type: string}, word: {type: integer}}}
    responses:
      200: {description: The corrected transcript.}
      400: {description: Bad kind, times, text or word.}
      409: {description: "No transcript yet, no line there any more (reload), or lines of different speakers to merge."}
    """
    user = api_user(request)
    recording, row = await transcripts.correctable(user, request.path_params["recording_id"])
    body = await json_body(request)
    return JSONResponse(as_shown_to(user, await transcript_edits.save_edit(settings_of(request), recording, row,
                                                                           body, user)))


RECORDING = "/recordings/{recording_id:int}"

routes = [
    Route("/cases/{case_id:int}/sessions/{number:int}/recording", upload_recording, methods=["POST"], name="upload"),
    Route(RECORDING, get_recording, methods=["GET"], name="recording"),
    Route(RECORDING, delete_recording, methods=["DELETE"], name="recording_delete"),
    Route(f"{RECORDING}/consent-withdrawn", post_consent_withdrawn, methods=["POST"], name="consent_withdrawn"),
    Route(f"{RECORDING}/retry", retry_recording, methods=["POST"], name="retry"),
    Route(f"{RECORDING}/submit-for-assessment", submit_for_assessment, methods=["POST"], name="put_forward"),
    Route(f"{RECORDING}/transcript", get_transcript, methods=["GET"], name="transcript"),
    Route(f"{RECORDING}/media", get_media, methods=["GET"], name="media"),
    Route(f"{RECORDING}/speakers/swap", post_swap, methods=["POST"], name="speakers_swap"),
    Route(f"{RECORDING}/speakers", post_speaker, methods=["POST"], name="speakers"),
    Route(f"{RECORDING}/transcript/edits", get_edits, methods=["GET"], name="transcript_edits"),
    Route(f"{RECORDING}/transcript/edits", post_edit, methods=["POST"], name="transcript_edit"),
]
