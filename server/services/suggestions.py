"""The on-model classifier in the service: case IPAF versions, suggestions beside the rating form,
and the supervisors' agree/disagree judgements that feed training. A suggestion is never a score."""

from __future__ import annotations

import asyncio
import math
import threading
from pathlib import Path

import pandas as pd

from rating.classifier import MODEL_PREFIX, OnModelClassifier, default_model, load_newest_good, models_in
from rating.classifier_corpus import LABELS, Example, Ipaf, evidence_example, supervisor_example
from rating.classifier_session import (
    COMPETENT_SCORE,
    INAPPROPRIATE_SCORE,
    VERDICT_ITEMS,
    VERDICTS,
    official_verdict,
)
from rating.phases import SESSIONS_PER_CASE
from rating.verdict_agreement import share_agreeing, verdict_kappa, verdict_table
from server import access, audit_trail
from server.config import Settings
from server.errors import Conflict, Invalid
from server.models import (
    AuditAction,
    AuditObject,
    Case,
    CaseIpaf,
    ClassifierJudgement,
    Rating,
    RatingStatus,
    Recording,
    SuggestedVerdict,
    User,
)
from server.services.ratings import official_ratings
from server.services.transcripts import transcript_dict


def classifier_dir(settings: Settings) -> Path:
    return settings.models_dir / "on-model"


class SuggestionModel:
    """The newest good model, loaded once per process (training the seed model on first use), and again
    when `dit classifier train` has saved a newer one: the service picks it up without a restart."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._model: OnModelClassifier | None = None
        self._seen: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def _sidecars(self) -> tuple[str, ...]:
        # A directory listing: cheap beside a classification, and it changes when a model is saved.
        return tuple(sorted(path.name for path in classifier_dir(self.settings).glob(f"{MODEL_PREFIX}*.json")))

    def _load(self) -> OnModelClassifier:
        with self._lock:
            seen = self._sidecars()
            if self._model is None or seen != self._seen:
                directory = classifier_dir(self.settings)
                model = load_newest_good(directory) or default_model(directory)
                # The sentence encoder too: seconds of loading, paid here rather than by the first page.
                model.load_encoders()
                self._model, self._seen = model, self._sidecars()
            return self._model

    async def get(self) -> OnModelClassifier:
        return await asyncio.to_thread(self._load)


async def model_card(user: User, model: SuggestionModel) -> dict:
    """What a course lead needs to judge whether to trust the suggestions: the model in use, what it was
    trained on (the supervisors' judgements and evidence marks counted apart), how it measured, and the
    other models saved beside it."""
    access.require_lead(user, "Only a course lead or an admin can see the classifier's model card.")
    in_use = await model.get()
    saved = await asyncio.to_thread(models_in, classifier_dir(model.settings))
    card = next((sidecar for sidecar in saved if sidecar.get("version") == in_use.version), {})
    keys = ("version", "created_at", "training_data_sha256", "n_examples", "n_cases", "n_supervisor_examples",
            "sentence_encoders", "metrics", "good", "good_if")
    return {"in_use": {key: card.get(key) for key in keys},
            "saved": [{key: sidecar.get(key) for key in ("version", "created_at", "good", "n_examples",
                                                            "n_supervisor_examples")} for sidecar in saved],
            "train_with": "dit classifier train",
            "against_supervisors": await verdict_agreement()}


async def verdict_agreement() -> dict:
    """The suggested session verdicts of rated tapes against their official results, read on the phase's
    IPAF and transference items (`rating.verdict_agreement`); with the counts of rated tapes left out, and why."""
    pairs, unsuggested, unscored = [], 0, 0
    suggested = {row.recording_id: row for row in await SuggestedVerdict.all()}
    officials = await official_ratings(await _rated_ids())
    for recording_id in sorted(officials):
        official = officials[recording_id]
        verdict = official_verdict(official.phase, official.scores)
        if recording_id not in suggested:
            unsuggested += 1
        elif verdict is None:
            unscored += 1
        else:
            pairs.append({"recording": recording_id, "suggested": suggested[recording_id].verdict, "official": verdict})
    frame = pd.DataFrame(pairs, columns=["recording", "suggested", "official"])
    table = verdict_table(frame)
    agreeing = share_agreeing(frame)
    return {
        "verdicts": list(VERDICTS),
        "items": {phase.value: list(items) for phase, items in VERDICT_ITEMS.items()},
        "competent_score": COMPETENT_SCORE, "inappropriate_score": INAPPROPRIATE_SCORE,
        "n_rated": len(officials), "n_compared": len(frame), "n_without_suggestion": unsuggested,
        "n_without_item_scores": unscored,
        "table": [{"suggested": verdict, "official": {column: int(table.loc[verdict, column]) for column in VERDICTS}}
                  for verdict in VERDICTS],
        "agreement": None if math.isnan(agreeing) else agreeing,
        "kappa": [{**row, "kappa": None if math.isnan(row["kappa"]) else row["kappa"]}
                  for row in verdict_kappa(frame).to_dict("records")],
    }


async def _rated_ids() -> list[int]:
    """The recordings with at least one submitted rating."""
    return list(await Rating.filter(status=RatingStatus.SUBMITTED).distinct().values_list("recording_id", flat=True))


async def _rated_recordings() -> list[Recording]:
    """The recordings with at least one submitted rating, oldest first, with their sessions."""
    return await Recording.filter(id__in=await _rated_ids()).select_related("session").order_by("id")


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


async def ipaf_versions(case: Case) -> list[CaseIpaf]:
    """Newest first."""
    return await CaseIpaf.filter(case=case).order_by("-version")


async def add_ipaf(user: User, case: Case, body: dict) -> CaseIpaf:
    access.require_may_record_ipaf(user, case)
    fields = {name: str(body.get(name, "")).strip() for name in ("self", "other", "affect", "summary")}
    missing = [name for name in ("self", "other", "affect") if not fields[name]]
    if missing:
        raise Invalid(f"An IPAF needs its self representation, other representation and linking "
                                 f"affect; missing: {', '.join(missing)}.")
    if any(len(value) > 2000 for value in fields.values()):
        raise Invalid("Keep each part of the IPAF under 2,000 characters.")
    try:
        from_session = int(body.get("from_session") or 1)
    except (TypeError, ValueError) as exc:
        raise Invalid("'from_session' is a session number.") from exc
    if not 1 <= from_session <= SESSIONS_PER_CASE:
        raise Invalid(f"'from_session' is between 1 and {SESSIONS_PER_CASE}.")
    latest = await CaseIpaf.filter(case=case).order_by("-version").first()
    return await CaseIpaf.create(
        case=case, version=(latest.version + 1) if latest else 1, from_session=from_session,
        self_representation=fields["self"], other_representation=fields["other"], affect=fields["affect"],
        summary=fields["summary"], created_by=user)


async def suggestion_for(user: User, recording: Recording, model: SuggestionModel) -> dict:
    await access.require_may_see_suggestion(user, recording)
    transcript = await transcript_dict(model.settings, recording)
    if transcript is None:
        raise Conflict("There is no transcript to classify yet.")
    row = await ipaf_for_session(recording.session.case_id, recording.session.number)
    if row is None:
        raise Conflict("Record the case's IPAF first: the suggestion is judged against it.")
    result, version = await _suggested(model, recording, transcript, row)
    return {**result, "ipaf": ipaf_json(row), "model": version, "note": "A suggestion to guide listening, never a score."}


async def _suggested(model: SuggestionModel, recording: Recording, transcript: dict, row: CaseIpaf) -> tuple[dict, str]:
    """The classifier's suggestion and the model's version; its verdict is kept, as last made, to check the
    suggestions against the supervisors' results (`verdict_agreement`)."""
    classifier = await model.get()
    result = await asyncio.to_thread(classifier.classify, transcript, as_ipaf(row), recording.session.phase)
    await SuggestedVerdict.update_or_create(recording=recording, defaults={
        "verdict": result["session"]["verdict"], "phase": recording.session.phase,
        "model_version": classifier.version or "", "ipaf_version": row.version})
    return result, classifier.version


async def fill_verdicts(model: SuggestionModel, actor: str, *, again: bool = False) -> dict[str, int]:
    """The suggested verdict of each rated tape that has none (of each rated tape, `again`): for tapes rated
    without their suggestion being asked for, so that `verdict_agreement` sees every rated tape. Tapes
    without a transcript or an IPAF for their session are counted and left; each transcript read is on
    the audit trail, read by `actor`."""
    counts = {"suggested": 0, "already": 0, "no_transcript": 0, "no_ipaf": 0}
    suggested = set(await SuggestedVerdict.all().values_list("recording_id", flat=True))
    for recording in await _rated_recordings():
        if recording.id in suggested and not again:
            counts["already"] += 1
            continue
        row = await ipaf_for_session(recording.session.case_id, recording.session.number)
        transcript = await transcript_dict(model.settings, recording) if row is not None else None
        if row is None or transcript is None:
            counts["no_ipaf" if row is None else "no_transcript"] += 1
            continue
        await audit_trail.record_now(AuditAction.VIEW, AuditObject.TRANSCRIPT, object_id=recording.id,
                                     recording_id=recording.id, case_id=recording.session.case_id, username=actor,
                                     route="dit classifier verdicts")
        await _suggested(model, recording, transcript, row)
        counts["suggested"] += 1
    return counts


async def record_judgement(settings: Settings, user: User, recording: Recording, body: dict) -> dict:
    """A rater agreeing or disagreeing with one suggestion; kept as training data."""
    await access.require_may_judge_suggestion(user, recording)
    label = body.get("label")
    if label not in LABELS:
        raise Invalid(f"'label' is one of {', '.join(LABELS)}.")
    if not isinstance(body.get("agree"), bool) or not isinstance(body.get("suggested", True), bool):
        raise Invalid("'agree' (and 'suggested', if given) must be true or false.")
    transcript = await transcript_dict(settings, recording)
    segments = transcript["segments"] if transcript else []
    index = body.get("segment")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(segments):
        raise Invalid("'segment' must be the number of a segment of this transcript.")
    value = body.get("suggested", True) == body["agree"]
    await ClassifierJudgement.update_or_create(
        recording=recording, segment_index=index, label=label, judged_by=user, defaults={"value": value})
    return {"segment": index, "label": label, "value": value}


async def supervisor_examples(settings: Settings) -> list[Example]:
    """Every judgement and every evidence mark made while rating, as training examples."""
    examples: list[Example] = []
    transcripts: dict[int, list] = {}

    async def context(recording: Recording):
        if recording.id not in transcripts:
            data = await transcript_dict(settings, recording)
            transcripts[recording.id] = data["segments"] if data else []
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
