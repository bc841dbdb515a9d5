"""Rater agreement for the audit: how far the adherence ratings of different raters agree.

Every function takes long-format ratings, one row per rating: `recording`, `item`, `rater`, `score`
(plus `phase` and `submitted_at` where a function needs them). A missing rating is a missing row.
Every function returns a tidy table (or, for the CLI, a JSON-ready dict).

- `readings`: the conventional reading of a coefficient ("poor" to "excellent") and its source;
- `ratings`: the long format's checks, and `read_ratings_csv`;
- `estimators`: the statistics themselves, vectorised over items, resamples and rater pairs;
- `reliability`: ICC and Krippendorff's alpha tables (and the choice of ICC design);
- `kappa`: Cohen's kappa of rater pairs, Fleiss' kappa of pass/fail decisions;
- `report`: total scores, agreement per item or phase, and what `dit agreement` prints;
- `raters`: each rater's bias, the flag it earns, drift and trend.
"""

from rating.agreement.estimators import ICC_FORMS, LEVELS
from rating.agreement.kappa import fleiss_kappa_pass, pairwise_kappa
from rating.agreement.raters import flag_raters, rater_bias, rater_drift, rater_trend
from rating.agreement.ratings import RATING_COLUMNS, read_ratings_csv
from rating.agreement.readings import BANDS, Bands, reading
from rating.agreement.reliability import DESIGNS, ICC_DESCRIPTIONS, alpha_table, icc_table
from rating.agreement.report import agreement_by, agreement_report, total_scores

__all__ = [
    "BANDS",
    "DESIGNS",
    "ICC_DESCRIPTIONS",
    "ICC_FORMS",
    "LEVELS",
    "RATING_COLUMNS",
    "Bands",
    "agreement_by",
    "agreement_report",
    "alpha_table",
    "flag_raters",
    "fleiss_kappa_pass",
    "icc_table",
    "pairwise_kappa",
    "rater_bias",
    "rater_drift",
    "rater_trend",
    "read_ratings_csv",
    "reading",
    "total_scores",
]
