"""The DIT competence scale, scoring, agreement statistics and the on-model classifier."""
