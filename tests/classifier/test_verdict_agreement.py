"""The suggested session verdicts against the supervisors' official results: the official result read in
the verdict's terms, and the agreement measured as between two raters."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from rating.classifier_session import DRIFTING, OFF_MODEL, ON_MODEL, VERDICT_ITEMS, VERDICTS, official_verdict
from rating.phases import Phase
from rating.scale import load_scale
from rating.verdict_agreement import share_agreeing, verdict_kappa, verdict_table


def test_each_phases_verdict_items_are_that_phases_items_of_the_scale():
    scale = load_scale()
    for phase, items in VERDICT_ITEMS.items():
        assert set(items) <= {item.id for item in scale.items_for(phase)}, phase


@pytest.mark.parametrize(("scores", "expected"), [
    ({"ipaf-focus": 3, "transference": 6}, ON_MODEL),
    ({"ipaf-focus": 5, "transference": 2}, DRIFTING),  # the transference not yet taken up competently
    ({"ipaf-focus": 1, "transference": 0}, OFF_MODEL),
    ({"ipaf-focus": 4, "transference": None, "alliance": 0}, ON_MODEL),  # only the phase's items count
    ({"alliance": 5}, None),
])
def test_an_official_result_reads_as_a_verdict_from_the_phases_ipaf_and_transference_items(scores, expected):
    assert official_verdict(Phase.MIDDLE, scores) == expected


def test_the_table_and_kappas_are_those_of_two_raters():
    suggested = [ON_MODEL, ON_MODEL, DRIFTING, OFF_MODEL, DRIFTING, ON_MODEL, DRIFTING]
    official = [ON_MODEL, DRIFTING, DRIFTING, OFF_MODEL, OFF_MODEL, ON_MODEL, ON_MODEL]
    pairs = pd.DataFrame({"recording": range(len(suggested)), "suggested": suggested, "official": official})

    table = verdict_table(pairs)
    assert list(table.index) == list(table.columns) == list(VERDICTS)
    assert table.loc[DRIFTING, OFF_MODEL] == 1 and table.loc[ON_MODEL, DRIFTING] == 1 and table.to_numpy().sum() == 7
    assert share_agreeing(pairs) == pytest.approx(4 / 7)

    ranks = [VERDICTS.index(v) for v in suggested], [VERDICTS.index(v) for v in official]
    kappas = verdict_kappa(pairs).set_index("weights")
    assert kappas.loc["none", "kappa"] == pytest.approx(cohen_kappa_score(*ranks))
    assert kappas.loc["linear", "kappa"] == pytest.approx(cohen_kappa_score(*ranks, weights="linear"))
    assert kappas.loc["linear", "n_recordings"] == 7 and kappas.loc["none", "reading"]


def test_without_tapes_nothing_is_measured():
    pairs = pd.DataFrame(columns=["recording", "suggested", "official"])
    assert verdict_table(pairs).to_numpy().sum() == 0
    assert math.isnan(share_agreeing(pairs))
    assert verdict_kappa(pairs)["kappa"].isna().all()
