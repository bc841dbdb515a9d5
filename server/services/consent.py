"""The patient's consent to being recorded: confirmed with every upload, and withdrawn on request.

A recording is only kept when the uploading trainee confirms the patient's written consent to the
session being recorded for training and assessment, with the consent's date. When the patient withdraws
it, the recording's media and transcript are deleted at once (server/services/deletion.py); ratings
keep their scores, which are training records, but lose what pointed into the transcript.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from server.errors import Unprocessable

CONFIRMED = frozenset({"true", "on", "yes", "1"})


@dataclass(frozen=True)
class Consent:
    """The patient's written consent, as the trainee confirmed it."""

    given_on: date


def parse_consent(fields: Mapping[str, str], today: date) -> Consent:
    """The consent fields of an upload (`consent_confirmed=true`, `consent_date=YYYY-MM-DD`), or
    Unprocessable naming each missing or wrong field."""
    errors = {}
    if str(fields.get("consent_confirmed", "")).strip().lower() not in CONFIRMED:
        errors["consent_confirmed"] = ("Confirm that the patient gave written consent to this session being recorded "
                                       "for training and assessment.")
    raw = str(fields.get("consent_date", "")).strip()
    given_on = None
    if not raw:
        errors["consent_date"] = "Give the date of the patient's written consent, as YYYY-MM-DD."
    else:
        try:
            given_on = date.fromisoformat(raw)
        except ValueError:
            errors["consent_date"] = f"The consent date is a date, YYYY-MM-DD, not {raw[:20]!r}."
        else:
            # A day's grace: `today` is UTC's, and the trainee's calendar may be a few hours ahead of it.
            if given_on > today + timedelta(days=1):
                errors["consent_date"] = "The consent date cannot be in the future."
    if errors:
        raise Unprocessable("The recording was not kept: the patient's written consent to recording must be "
                            "confirmed, with its date.", errors)
    return Consent(given_on)
