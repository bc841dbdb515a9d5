"""How far the on-model suggestion's session verdicts agree with the supervisors' official results, so a
course can see whether to trust them: a confusion table and Cohen's kappa, treating the suggestion and
the official result as two raters of the same tapes.

The official result is read in the verdict's terms from its scores on the phase's IPAF and transference
items (`rating.classifier_session.official_verdict`). The verdicts are ordered (off-model, drifting,
on-model), so beside the unweighted kappa there is the linearly weighted one, which counts a drifting
session called off-model as half a disagreement.
"""

from __future__ import annotations

import pandas as pd

from rating.agreement import pairwise_kappa
from rating.classifier_session import VERDICTS

SUGGESTED, OFFICIAL = "suggested", "official"


def verdict_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """Tapes counted by suggested verdict (rows) and official verdict (columns), every verdict shown.
    `pairs`: one row per tape, with columns `suggested` and `official`."""
    table = pd.crosstab(pd.Categorical(pairs[SUGGESTED], categories=VERDICTS),
                        pd.Categorical(pairs[OFFICIAL], categories=VERDICTS), dropna=False)
    table.index.name, table.columns.name = SUGGESTED, OFFICIAL
    return table


def verdict_kappa(pairs: pd.DataFrame) -> pd.DataFrame:
    """Cohen's kappa of the suggested against the official verdicts, unweighted and linearly weighted:
    one row each (`weights`, `kappa`, `n_recordings`, `reading`, `reading_source`); kappa is NaN while
    cannot be measured (fewer than two tapes, or one verdict everywhere)."""
    ranks = {verdict: rank for rank, verdict in enumerate(VERDICTS)}
    long = pd.DataFrame({
        "recording": [*pairs["recording"], *pairs["recording"]],
        "rater": [SUGGESTED] * len(pairs) + [OFFICIAL] * len(pairs),
        "score": [ranks[v] for v in pairs[SUGGESTED]] + [ranks[v] for v in pairs[OFFICIAL]],
    })
    rows = []
    for weights in (None, "linear"):
        # One tape gives a kappa (0 or 1) that says nothing of agreement beyond chance.
        kappa = pairwise_kappa(long, weights=weights, item=None) if len(pairs) >= 2 else pd.DataFrame()
        row = kappa.iloc[0].to_dict() if len(kappa) else {"kappa": float("nan"), "n_recordings": len(pairs),
                                                          "reading": None, "reading_source": None}
        rows.append({"weights": weights or "none", "kappa": row["kappa"], "n_recordings": int(row["n_recordings"]),
                     "reading": row["reading"], "reading_source": row["reading_source"]})
    return pd.DataFrame(rows)


def share_agreeing(pairs: pd.DataFrame) -> float:
    """The share of tapes whose suggested verdict is the official one (NaN without tapes)."""
    return float((pairs[SUGGESTED] == pairs[OFFICIAL]).mean()) if len(pairs) else float("nan")
