"""The competence scale: the default file, a course's own file, and broken files a course lead must fix."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from rating.phases import Phase
from rating.scale import (
    DEFAULT_SCALE_PATH,
    GENERIC,
    SCHEMA_PATH,
    PassRule,
    ScaleError,
    load_scale,
)
from tests.rating.scale_files import course_document, default_document, write_scale

EXPECTED_ITEMS = {
    "all": ["analytic-stance", "alliance", "time-limited-frame", "mentalising", "affect"],
    "initial": ["interpersonal-inventory", "symptoms-to-relationships", "ipaf-formulation", "ipaf-agreement",
                "goals", "psychoeducation", "risk"],
    "middle": ["ipaf-focus", "current-relationships", "transference", "defences", "new-ways-of-relating",
               "ipaf-refinement"],
    "ending": ["goodbye-letter", "ending-feelings", "relapse-prevention"],
}


@pytest.fixture(scope="module")
def scale():
    return load_scale()


def test_the_default_scale_has_the_dit_items_in_their_phases(scale):
    assert (scale.id, scale.version) == ("dit-default", "dit-default-1.0")
    by_phase = {phase: [item.id for item in scale.items if item.phase == phase] for phase in EXPECTED_ITEMS}
    assert by_phase == EXPECTED_ITEMS
    assert (scale.min_score, scale.max_score) == (0, 6)
    assert scale.pass_rule == PassRule(min_mean=3.0, min_item_score=1)
    assert sorted(scale.score_labels) == list(range(7))


def test_every_default_item_is_described_and_anchored_at_every_score(scale):
    for item in scale.items:
        assert item.title.strip() and len(item.description) > 150, item.id
        assert sorted(item.anchors) == list(range(scale.min_score, scale.max_score + 1)), item.id
        assert all(len(text) > 40 for text in item.anchors.values()), item.id
    assert scale.item("goodbye-letter").phase == "ending"
    assert "13" in scale.item("goodbye-letter").description


def test_the_default_scale_says_it_is_not_the_official_form(scale):
    header = DEFAULT_SCALE_PATH.read_text(encoding="utf-8").split("\nid:")[0]
    assert "not published" in header and "not the official form" in header and "dit-default-1.0" in header
    assert "not the official DIT adherence/competence form" in scale.source
    assert "Lemma" in scale.source and "Fonagy" in scale.source


def test_a_session_rates_its_phase_items_and_the_generic_ones_in_file_order(scale):
    for phase in Phase:
        expected = EXPECTED_ITEMS[GENERIC] + EXPECTED_ITEMS[phase.value]
        assert [item.id for item in scale.items_for(phase)] == expected
        assert [item.id for item in scale.items_for(phase.value)] == expected
    with pytest.raises(ValueError, match="not 'all'"):
        scale.items_for("all")


def test_item_looks_up_by_id(scale):
    assert scale.item("ipaf-focus").title == "Keeping the IPAF as the focus"
    with pytest.raises(KeyError, match="no item 'nonsense'"):
        scale.item("nonsense")


def test_the_schema_is_valid_and_knows_the_phases():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]["item"]["properties"]["phase"]["enum"]) == {p.value for p in Phase} | {GENERIC}


def test_to_dict_is_json_in_the_files_own_structure_and_loads_back(scale, tmp_path):
    data = json.loads(json.dumps(scale.to_dict()))
    Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))).validate(data)
    assert data["version"] == "dit-default-1.0"
    assert data["score_range"] == {"min": 0, "max": 6}
    assert data["pass_rule"] == {"min_mean": 3.0, "min_item_score": 1}
    assert data["items"][0]["anchors"]["0"].startswith("No curiosity")
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_scale(path) == scale


def test_to_dict_for_a_phase_holds_only_the_items_of_its_sessions(scale):
    ending = scale.to_dict(Phase.ENDING)
    assert [item["id"] for item in ending["items"]] == EXPECTED_ITEMS[GENERIC] + EXPECTED_ITEMS["ending"]
    assert ending["version"] == scale.version


def test_a_course_loads_its_own_scale_without_code_changes(tmp_path):
    scale = load_scale(write_scale(tmp_path, course_document()))
    assert (scale.id, scale.version, scale.min_score, scale.max_score) == ("north-course", "north-course-2.1", 1, 7)
    assert scale.pass_rule == PassRule(min_mean=4.5, min_item_score=3)
    assert scale.score_labels[7] == "level 7"
    assert [item.id for item in scale.items_for("middle")] == ["focus", "transference"]
    assert scale.item("letter").anchors == {1: "Not done.", 4: "Done adequately.", 7: "Done expertly."}


def test_a_pass_rule_without_an_item_floor_has_none(tmp_path):
    document = course_document()
    del document["pass_rule"]["min_item_score"]
    assert load_scale(write_scale(tmp_path, document)).pass_rule == PassRule(min_mean=4.5, min_item_score=None)


def _without_title(doc):
    del doc["items"][0]["title"]


def _without_version(doc):
    del doc["version"]


def _with_duplicate_id(doc):
    doc["items"][3]["id"] = "alliance"


def _with_anchor_out_of_range(doc):
    doc["items"][11]["anchors"][7] = "Beyond expert."


def _without_top_anchor(doc):
    del doc["items"][11]["anchors"][6]


def _with_bad_phase(doc):
    doc["items"][11]["phase"] = "begining"


def _with_bad_id(doc):
    doc["items"][11]["id"] = "Risk Assessment"


def _with_misspelt_field(doc):
    doc["items"][11]["anchor"] = doc["items"][11].pop("anchors")


def _with_mean_out_of_range(doc):
    doc["pass_rule"]["min_mean"] = 7


def _with_item_floor_out_of_range(doc):
    doc["pass_rule"]["min_item_score"] = 9


def _with_range_upside_down(doc):
    doc["score_range"] = {"min": 6, "max": 0}


def _without_a_label(doc):
    del doc["score_labels"][3]


def _with_numeric_version(doc):
    doc["version"] = 1.0


def _with_word_for_a_score(doc):
    doc["items"][11]["anchors"]["seven"] = "Beyond expert."


def _with_blank_title(doc):
    doc["items"][11]["title"] = "   "


def _without_ending_items(doc):
    doc["items"] = [item for item in doc["items"] if item["phase"] not in (GENERIC, "ending")]


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        (_without_title, "item 'analytic-stance': 'title' is a required property"),
        (_without_version, "top level: 'version' is a required property"),
        (_with_duplicate_id, "item 'alliance' appears 2 times; each item needs its own id"),
        (_with_anchor_out_of_range, "item 'risk', anchors: 7 is outside the score range 0-6"),
        (_without_top_anchor, ("item 'risk', anchors: missing 6 (every item needs anchors for the lowest and "
                               "highest scores, 0 and 6)")),
        (_with_bad_phase, "item 'risk', phase: 'begining' is not one of ['initial', 'middle', 'ending', 'all']"),
        (_with_bad_id, ("item 'Risk Assessment', id: 'Risk Assessment' is not allowed: lower-case letters and "
                        "digits, words joined by single hyphens, e.g. 'ipaf-focus'")),
        (_with_misspelt_field, "item 'risk': Additional properties are not allowed ('anchor' was unexpected)"),
        (_with_mean_out_of_range, "pass_rule.min_mean: 7 is outside the score range 0-6"),
        (_with_item_floor_out_of_range, "pass_rule.min_item_score: 9 is outside the score range 0-6"),
        (_with_range_upside_down, "score_range: min (6) must be below max (0)"),
        (_without_a_label, "score_labels: missing 3 (every score from 0 to 6 needs a label)"),
        (_with_numeric_version, "version: 1.0 is not of type 'string'"),
        (_with_word_for_a_score, "item 'risk', anchors: 'seven' is not allowed: keys are whole-number scores"),
        (_with_blank_title, "item 'risk', title: '   ' is not allowed: must not be blank"),
        (_without_ending_items, "no item is rated in ending-phase sessions: add items with phase 'ending' or 'all'"),
    ],
)
def test_a_broken_scale_file_names_its_problem(tmp_path, breakage, problem):
    document = default_document()
    breakage(document)
    path = write_scale(tmp_path, document)
    with pytest.raises(ScaleError) as raised:
        load_scale(path)
    assert any(found.startswith(problem) for found in raised.value.problems), raised.value.problems
    assert str(path) in str(raised.value) and problem in str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path):
    document = default_document()
    _with_misspelt_field(document)
    _without_version(document)
    with pytest.raises(ScaleError) as raised:
        load_scale(write_scale(tmp_path, document))
    assert raised.value.problems == (
        "top level: 'version' is a required property",
        "item 'risk': 'anchors' is a required property",
        "item 'risk': Additional properties are not allowed ('anchor' was unexpected)",
    )
    assert str(raised.value).splitlines()[0].endswith("has 3 problems:")


def test_bad_yaml_is_refused_with_its_line(tmp_path):
    path = tmp_path / "scale.yaml"
    path.write_text("id: broken\nversion: [1.0\ntitle: x\n", encoding="utf-8")
    with pytest.raises(ScaleError, match=r"is not valid YAML: .*\(line \d+, column \d+\)"):
        load_scale(path)


def test_a_key_given_twice_is_refused_rather_than_silently_dropped(tmp_path):
    text = DEFAULT_SCALE_PATH.read_text(encoding="utf-8")
    path = tmp_path / "scale.yaml"
    path.write_text(text.replace("  1: Inappropriate\n", "  1: Inappropriate\n  1: Novice\n"), encoding="utf-8")
    with pytest.raises(ScaleError, match=r"is not valid YAML: the key 1 appears twice \(line 34, column 3\)"):
        load_scale(path)


def test_a_missing_empty_or_shapeless_file_says_so(tmp_path):
    with pytest.raises(ScaleError, match=re.escape("nowhere.yaml: cannot be read")):
        load_scale(tmp_path / "nowhere.yaml")
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ScaleError, match=re.escape("empty.yaml: is empty")):
        load_scale(tmp_path / "empty.yaml")
    (tmp_path / "list.yaml").write_text("- id: risk\n", encoding="utf-8")
    with pytest.raises(ScaleError, match=re.escape("list.yaml: should hold a mapping (id: ..., version: ..., "
                                                   "items: ...), not a list")):
        load_scale(tmp_path / "list.yaml")
