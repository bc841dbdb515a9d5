"""DIT's three phases and which of the sixteen sessions belong to each."""

from __future__ import annotations

from enum import Enum

SESSIONS_PER_CASE = 16


class Phase(str, Enum):
    INITIAL = "initial"
    MIDDLE = "middle"
    ENDING = "ending"

    @property
    def label(self) -> str:
        return {"initial": "Initial (1-4)", "middle": "Middle (5-12)", "ending": "Ending (13-16)"}[self.value]


def phase_of(session_number: int) -> Phase:
    """Sessions 1-4 map the interpersonal world and agree the IPAF, 5-12 work on it, 13-16 end."""
    if not 1 <= session_number <= SESSIONS_PER_CASE:
        raise ValueError(f"A DIT session number is between 1 and {SESSIONS_PER_CASE}, not {session_number}.")
    if session_number <= 4:
        return Phase.INITIAL
    if session_number <= 12:
        return Phase.MIDDLE
    return Phase.ENDING
