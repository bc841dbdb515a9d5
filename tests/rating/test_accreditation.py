from datetime import date

from rating.accreditation import AccreditationTargets, TapeResult, accreditation_progress

TARGETS = AccreditationTargets()


def progress(**changes):
    arguments = dict(
        today=date(2026, 6, 1),
        training_completed_on=date(2025, 9, 1),
        sessions_recorded={"DIT-1": 16, "DIT-2": 9},
        tapes=[TapeResult("DIT-1", 2, "initial", True), TapeResult("DIT-1", 7, "middle", False),
               TapeResult("DIT-1", 9, "middle", True)],
        supervision_hours=10.5,
        roleplay_certificate_on=date(2025, 10, 1),
        case_study_on=None,
    )
    return accreditation_progress(TARGETS, **(arguments | changes))


def by_id(result):
    return {r["id"]: r for r in result["requirements"]}


def test_counts_against_the_targets():
    result = progress()
    requirements = by_id(result)
    assert (requirements["training_cases"]["done"], requirements["training_cases"]["met"]) == (2, True)
    assert (requirements["complete_cases"]["done"], requirements["complete_cases"]["met"]) == (1, False)
    passed = requirements["passed_tapes"]
    assert (passed["done"], passed["rated"], passed["phases"], passed["met"]) == (2, 3, ["initial", "middle"], False)
    assert (requirements["supervision_hours"]["done"], requirements["supervision_hours"]["met"]) == (10.5, False)
    assert requirements["roleplay_certificate"] == {"id": "roleplay_certificate", "label": "Role-play certificate",
                                                    "done": 1, "target": 1, "date": "2025-10-01", "met": True}
    assert requirements["case_study"]["met"] is False
    assert result["accreditable"] is False


def test_deadlines_warn_as_they_approach_and_when_overdue():
    quiet = progress(today=date(2026, 3, 1))
    assert [d["status"] for d in quiet["deadlines"]] == ["ok", "ok"] and quiet["warnings"] == []
    approaching = progress(today=date(2026, 8, 1))  # supervision due 2026-09-01
    assert approaching["deadlines"][0]["status"] == "approaching"
    assert approaching["warnings"] == ["Supervision hours within a year of the training: due 2026-09-01, 31 days left."]
    overdue = progress(today=date(2026, 9, 11))
    assert overdue["deadlines"][0]["status"] == "overdue" and "overdue by 10 days" in overdue["warnings"][0]
    met = progress(today=date(2026, 9, 11), supervision_hours=16)
    assert met["deadlines"][0]["status"] == "met"


def test_unknown_training_date_is_said():
    result = progress(training_completed_on=None)
    assert [d["status"] for d in result["deadlines"]] == ["unknown", "unknown"]
    assert "not recorded" in result["warnings"][-1]


def test_all_met_is_accreditable_and_targets_are_configurable():
    result = accreditation_progress(
        AccreditationTargets(training_cases=1, passed_tapes=1, supervision_hours=2),
        today=date(2026, 1, 1), training_completed_on=date(2025, 6, 1), sessions_recorded={"DIT-1": 16},
        tapes=[TapeResult("DIT-1", 14, "ending", True)], supervision_hours=2, roleplay_certificate_on=date(2025, 7, 1),
        case_study_on=date(2025, 12, 1))
    assert result["accreditable"] is True and result["targets"]["passed_tapes"] == 1
