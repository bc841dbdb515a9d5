"""A transcript written out as JSON, WebVTT, SubRip or plain text, and times written for people.

The subtitle formats are a few lines each, so they are written here rather than through a
subtitle library: what varies between them is only the timestamp and the cue framing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from transcription.transcript import Segment, Transcript


def timestamp(seconds: float, separator: str = ".", milliseconds: bool = True) -> str:
    """`01:02:03.450`, with hours always shown so that every cue lines up."""
    total_ms = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    stamp = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{stamp}{separator}{ms:03d}" if milliseconds else stamp


def clock(seconds: float) -> str:
    """A length as people read it: `4:05`, or `1:02:03` from an hour on. Whole seconds are cut, not
    rounded, so that 59.9 s reads as short of a minute, as it is."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


ROLE_NAMES = {"therapist": "Therapist", "patient": "Patient"}
ROLE_PREFIXES = {"therapist": "T", "patient": "P"}


def labelled(segment: Segment) -> str:
    if not segment.speaker:
        return segment.text
    return f"{ROLE_PREFIXES.get(segment.speaker, segment.speaker)}: {segment.text}"


def to_json(t: Transcript) -> str:
    return json.dumps(t.to_dict(), ensure_ascii=False, indent=2) + "\n"


def to_vtt(t: Transcript) -> str:
    cues = []
    for segment in t.segments:
        # Cue text is markup in WebVTT: a bare "<" or "&" would be read as a tag or an entity.
        text = html.escape(segment.text, quote=False)
        if segment.speaker:
            text = f"<v {html.escape(ROLE_NAMES.get(segment.speaker, segment.speaker), quote=False)}>{text}"
        cues.append(f"{timestamp(segment.start)} --> {timestamp(segment.end)}\n{text}\n")
    return "\n".join(["WEBVTT\n", *cues])


def to_srt(t: Transcript) -> str:
    return "\n".join(
        f"{number}\n{timestamp(segment.start, ',')} --> {timestamp(segment.end, ',')}\n{labelled(segment)}\n"
        for number, segment in enumerate(t.segments, start=1)
    )


def to_txt(t: Transcript) -> str:
    return "".join(f"[{timestamp(segment.start, milliseconds=False)}] {labelled(segment)}\n" for segment in t.segments)


FORMATS: dict[str, Callable[[Transcript], str]] = {"json": to_json, "vtt": to_vtt, "srt": to_srt, "txt": to_txt}

MEDIA_TYPES = {
    "json": "application/json",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
