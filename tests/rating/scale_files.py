"""Scale files written to disk for the tests: a course's own scale, and the default scale to break."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from rating.scale import DEFAULT_SCALE_PATH


def default_document() -> dict:
    """The default scale as plain data, a fresh copy each time so that a test may break it."""
    return copy.deepcopy(yaml.safe_load(DEFAULT_SCALE_PATH.read_text(encoding="utf-8")))


def course_document() -> dict:
    """A course's own scale: 1-7, a stricter pass rule, one item per phase and one generic."""
    anchors = {1: "Not done.", 4: "Done adequately.", 7: "Done expertly."}
    return {
        "id": "north-course",
        "version": "north-course-2.1",
        "title": "North course DIT scale",
        "source": "Written by the North course team.",
        "score_range": {"min": 1, "max": 7},
        "score_labels": {n: f"level {n}" for n in range(1, 8)},
        "pass_rule": {"min_mean": 4.5, "min_item_score": 3},
        "items": [
            {"id": "focus", "phase": "all", "title": "Focus", "description": "Keeps to the IPAF.", "anchors": anchors},
            {"id": "inventory", "phase": "initial", "title": "Inventory", "description": "Maps relationships.",
             "anchors": anchors},
            {"id": "transference", "phase": "middle", "title": "Transference", "description": "Uses it.",
             "anchors": anchors},
            {"id": "letter", "phase": "ending", "title": "Goodbye letter", "description": "Writes it.",
             "anchors": anchors},
        ],
    }


def write_scale(directory: Path, document: dict, name: str = "scale.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
