import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from rating.agreement import fleiss_kappa_pass, pairwise_kappa, total_scores
from rating.agreement.estimators import fleiss_kappa, resample_weights
from tests.agreement.examples import simulated_ratings

SCALE = np.arange(7)


@pytest.fixture(scope="module")
def ratings():
    return simulated_ratings(n_recordings=200, n_raters=6)[0]


def shared_scores(ratings: pd.DataFrame, a: str, b: str, keys=("recording", "item"), score="score"):
    pair = ratings[ratings["rater"] == a].merge(ratings[ratings["rater"] == b], on=list(keys))
    return pair[f"{score}_x"].to_numpy(), pair[f"{score}_y"].to_numpy()


@pytest.mark.parametrize("weights", ["quadratic", "linear", None])
def test_pairwise_kappa_matches_scikit_learn(ratings, weights):
    table = pairwise_kappa(ratings, weights=weights)
    assert len(table) == 15  # every pair of six raters shares recordings
    for row in table.itertuples():
        a, b = shared_scores(ratings, row.rater_a, row.rater_b)
        assert row.n_ratings == len(a)
        # The whole 0-6 scale as labels, so scikit-learn's label positions are the scores.
        expected = cohen_kappa_score(a, b, labels=SCALE, weights=weights)
        assert row.kappa == pytest.approx(expected, rel=1e-12)


def test_pairwise_kappa_counts_shared_recordings(ratings):
    table = pairwise_kappa(ratings).set_index(["rater_a", "rater_b"])
    a, b = "rater00", "rater01"
    shared = set(ratings.loc[ratings["rater"] == a, "recording"]) & set(ratings.loc[ratings["rater"] == b, "recording"])
    assert table.loc[(a, b), "n_recordings"] == len(shared)
    assert (table.index.get_level_values(0) < table.index.get_level_values(1)).all()


def test_unweighted_kappa_of_pass_fail_matches_scikit_learn(ratings):
    totals = total_scores(ratings)
    passes = totals.assign(passed=totals["score"] >= totals["score"].median())
    table = pairwise_kappa(passes, weights=None, item=None, score="passed")
    for row in table.itertuples():
        a, b = shared_scores(passes, row.rater_a, row.rater_b, keys=("recording",), score="passed")
        assert row.n_ratings == row.n_recordings == len(a)
        if len(set(a) | set(b)) < 2:
            assert np.isnan(row.kappa)
            continue
        assert row.kappa == pytest.approx(cohen_kappa_score(a, b), rel=1e-12)


def test_pairwise_kappa_rejects_unknown_weights(ratings):
    with pytest.raises(ValueError, match="Kappa weights"):
        pairwise_kappa(ratings, weights="cubic")


def test_fleiss_kappa_matches_statsmodels():
    rng = np.random.default_rng(2)
    quality = rng.normal(size=150)
    rows = []
    for recording in range(150):
        for rater in rng.choice(8, 3, replace=False):
            rows.append((recording, rater, bool(quality[recording] + rng.normal(0, 0.7) > 0)))
    passes = pd.DataFrame(rows, columns=["recording", "rater", "passed"])
    table = fleiss_kappa_pass(passes)
    decisions = passes.sort_values(["recording", "rater"]).groupby("recording")["passed"].apply(list)
    counts, _ = aggregate_raters(np.array(decisions.tolist(), dtype=int))
    expected = statsmodels_fleiss(counts, method="fleiss")
    assert table.loc[0, "kappa"] == pytest.approx(expected, rel=1e-12)
    assert table.loc[0, "n_recordings"] == 150 and table.loc[0, "raters_per_recording"] == 3
    assert table.loc[0, "n_raters"] == 8
    assert table.loc[0, "ci95_low"] < table.loc[0, "kappa"] < table.loc[0, "ci95_high"]


def test_fleiss_interval_is_the_percentiles_of_statsmodels_on_resampled_recordings():
    rng = np.random.default_rng(8)
    passes = rng.binomial(4, rng.uniform(0.1, 0.9, 40))
    table = np.column_stack([passes, 4 - passes])
    estimate, low, high = fleiss_kappa(table, n_boot=200, seed=3)
    assert estimate == pytest.approx(statsmodels_fleiss(table), rel=1e-12)
    weights = resample_weights(40, 200, np.random.default_rng(3))
    replicates = [statsmodels_fleiss(np.repeat(table, drawn.astype(int), axis=0)) for drawn in weights.T[1:]]
    np.testing.assert_allclose([low, high], np.quantile(replicates, [0.025, 0.975]), rtol=1e-10)


def test_fleiss_kappa_uses_recordings_with_enough_decisions():
    rows = [(r, j, (r + j) % 2 == 0) for r in range(20) for j in range(3)] + [(99, 0, True)]
    table = fleiss_kappa_pass(pd.DataFrame(rows, columns=["recording", "rater", "passed"]))
    assert table.loc[0, "n_recordings"] == 20
