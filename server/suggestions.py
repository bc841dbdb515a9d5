"""The on-model classifier in the service: case IPAF versions, suggestions beside the rating form,
and the supervisors' agree/disagree judgements that feed training. A suggestion is never a score."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rating.classifier import (
    LABELS,
    Example,
    Ipaf,
    OnModelClassifier,
    default_model,
    evidence_example,
    load_newest_good,
    supervisor_example,
)
from rating.phases import SESSIONS_PER_CASE, phase_of
from server import access
from server.api import api_user, json_body
from server.config import Settings
from server.models import (
    Assignment,
    CaseIpaf,
    ClassifierJudgement,
    Rating,
    RatingStatus,
    Recording,
    Role,
    Transcript,
    User,
)


def classifier_dir(settings: Settings) -> Path:
    return settings.models_dir / "on-model"


class SuggestionModel:
    """The newest good model, loaded once per process (training the seed model on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._model: OnModelClassifier | None = None
        self._lock = threading.Lock()

    def _load(self) -> OnModelClassifier:
        with self._lock:
            if self._model is None:
                directory = classifier_dir(self.settings)
                self._model = load_newest_good(directory) or default_model(directory)
            return self._model

    async def get(self) -> OnModelClassifier:
        return await asyncio.to_thread(self._load)


def ipaf_json(ipaf: CaseIpaf) -> dict:
    return {
        "version": ipaf.version,
        "from_session": ipaf.from_session,
        "self": ipaf.self_representation,
        "other": ipaf.other_representation,
        "affect": ipaf.affect,
        "summary": ipaf.summary,
        "created_at": ipaf.created_at.isoformat(),
    }


def as_ipaf(row: CaseIpaf) -> Ipaf:
    return Ipaf(row.self_representation, row.other_representation, row.affect, row.summary)


async def ipaf_for_session(case_id: int, session_number: int) -> CaseIpaf | None:
    """The version current at that session: the newest that applies from it or an earlier session."""
    return await CaseIpaf.filter(case_id=case_id, from_session__lte=session_number).order_by(
        "-from_session", "-version").first()


async def get_ipafs(request: Request) -> JSONResponse:
    """
    summary: A case's IPAF versions, newest first.
    responses:
      200: {description: "{ipafs: [{version, from_session, self, other, affect, summary}]}"}
    """
    case = await access.readable_case(api_user(request), request.path_params["case_id"])
    rows = await CaseIpaf.filter(case=case).order_by("-version")
    return JSONResponse({"ipafs": [ipaf_json(row) for row in rows]})


async def add_ipaf(user: User, case, body: dict) -> CaseIpaf:
    if not (case.trainee_id == user.id or user.sees_everything or user.role == Role.SUPERVISOR):
        raise HTTPException(403, "The IPAF is recorded by the trainee, their supervisor or a course lead.")
    fields = {name: str(body.get(name, "")).strip() for name in ("self", "other", "affect", "summary")}
    missing = [name for name in ("self", "other", "affect") if not fields[name]]
    if missing:
        raise HTTPException(400, f"An IPAF needs its self representation, other representation and linking "
                                 f"affect; missing: {', '.join(missing)}.")
    if any(len(value) > 2000 for value in fields.values()):
        raise HTTPException(400, "Keep each part of the IPAF under 2,000 characters.")
    try:
        from_session = int(body.get("from_session") or 1)
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, "'from_session' is a session number.") from exc
    if not 1 <= from_session <= SESSIONS_PER_CASE:
        raise HTTPException(400, f"'from_session' is between 1 and {SESSIONS_PER_CASE}.")
    latest = await CaseIpaf.filter(case=case).order_by("-version").first()
    return await CaseIpaf.create(
        case=case, version=(latest.version + 1) if latest else 1, from_session=from_session,
        self_representation=fields["self"], other_representation=fields["other"], affect=fields["affect"],
        summary=fields["summary"], created_by=user)


async def post_ipaf(request: Request) -> JSONResponse:
    """
    summary: Record a new version of the case's IPAF, applying from a session onwards.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [self, other, affect], properties: {self: {type: string}, other: {type: string}, affect: {type: string}, summary: {type: string}, from_session: {type: integer}}}
    responses:
      201: {description: The new version.}
      400: {description: A part is missing.}
    """
    user = api_user(request)
    case = await access.readable_case(user, request.path_params["case_id"])
    row = await add_ipaf(user, case, await json_body(request))
    return JSONResponse(ipaf_json(row), status_code=201)


async def may_see_suggestion(user: User, recording: Recording) -> bool:
    """Raters and course leads see it while rating; others (the trainee) once feedback is released."""
    if user.sees_everything or await Assignment.exists(recording=recording, supervisor=user):
        return True
    return recording.feedback_released_at is not None


async def suggestion_for(recording: Recording, model: SuggestionModel) -> dict:
    transcript = await Transcript.get_or_none(recording_id=recording.id)
    if transcript is None:
        raise HTTPException(409, "There is no transcript to classify yet.")
    number = recording.session.number
    row = await ipaf_for_session(recording.session.case_id, number)
    if row is None:
        raise HTTPException(409, "Record the case's IPAF first: the suggestion is judged against it.")
    classifier = await model.get()
    result = await asyncio.to_thread(classifier.classify, transcript.data, as_ipaf(row), phase_of(number))
    return {**result, "ipaf": ipaf_json(row), "note": "A suggestion to guide listening, never a score."}


async def get_suggestion(request: Request) -> JSONResponse:
    """
    summary: The classifier's suggestion for a session (per therapist segment, IPAF reference and transference link probabilities; a verdict with reasons and evidence).
    responses:
      200: {description: "{segments: [{index, ipaf_reference, transference_link}], session: {verdict, reasons, evidence}, ipaf}"}
      409: {description: No transcript or no IPAF yet.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    if not await may_see_suggestion(user, recording):
        raise HTTPException(403, "The suggestion is shown to raters while rating, and to the trainee with released feedback.")
    return JSONResponse(await suggestion_for(recording, request.app.state.suggestion_model))


async def post_judgement(request: Request) -> JSONResponse:
    """
    summary: Agree or disagree with one suggestion; the judgement becomes training data.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [segment, label, agree], properties: {segment: {type: integer}, label: {type: string, enum: [ipaf_reference, transference_link]}, agree: {type: boolean}, suggested: {type: boolean, description: "what the suggestion said (default true)"}}}
    responses:
      201: {description: Recorded.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    if not (user.sees_everything or await Assignment.exists(recording=recording, supervisor=user)):
        raise HTTPException(403, "Only the recording's raters and course leads judge suggestions.")
    body = await json_body(request)
    label = body.get("label")
    if label not in LABELS:
        raise HTTPException(400, f"'label' is one of {', '.join(LABELS)}.")
    if not isinstance(body.get("agree"), bool) or not isinstance(body.get("suggested", True), bool):
        raise HTTPException(400, "'agree' (and 'suggested', if given) must be true or false.")
    transcript = await Transcript.get_or_none(recording_id=recording.id)
    segments = transcript.data["segments"] if transcript else []
    index = body.get("segment")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(segments):
        raise HTTPException(400, "'segment' must be the number of a segment of this transcript.")
    value = body.get("suggested", True) == body["agree"]
    await ClassifierJudgement.update_or_create(
        recording=recording, segment_index=index, label=label, judged_by=user, defaults={"value": value})
    return JSONResponse({"segment": index, "label": label, "value": value}, status_code=201)


async def supervisor_examples() -> list[Example]:
    """Every judgement and every evidence mark made while rating, as training examples."""
    examples: list[Example] = []
    transcripts: dict[int, list] = {}

    async def context(recording: Recording):
        if recording.id not in transcripts:
            row = await Transcript.get_or_none(recording_id=recording.id)
            transcripts[recording.id] = row.data["segments"] if row else []
        ipaf = await ipaf_for_session(recording.session.case_id, recording.session.number)
        return transcripts[recording.id], ipaf

    for judgement in await ClassifierJudgement.all().select_related("recording__session__case"):
        segments, ipaf = await context(judgement.recording)
        if ipaf is not None and judgement.segment_index < len(segments):
            text = segments[judgement.segment_index]["text"]
            examples.append(supervisor_example(judgement.recording.session.case.code, text, as_ipaf(ipaf),
                                               judgement.label, judgement.value))
    for rating in await Rating.filter(status=RatingStatus.SUBMITTED).select_related("recording__session__case"):
        segments, ipaf = await context(rating.recording)
        if ipaf is None:
            continue
        for item_id, indexes in rating.evidence.items():
            for index in indexes:
                if index < len(segments):
                    example = evidence_example(rating.recording.session.case.code, segments[index]["text"],
                                               as_ipaf(ipaf), item_id)
                    if example is not None:
                        examples.append(example)
    return examples


routes = [
    Route("/api/cases/{case_id:int}/ipaf", get_ipafs, methods=["GET"]),
    Route("/api/cases/{case_id:int}/ipaf", post_ipaf, methods=["POST"]),
    Route("/api/recordings/{recording_id:int}/suggestion", get_suggestion, methods=["GET"]),
    Route("/api/recordings/{recording_id:int}/suggestion/judgements", post_judgement, methods=["POST"]),
]
