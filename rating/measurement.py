"""Levels of measurement (Stevens, 1946): how the distances between scores may be read. Krippendorff's
alpha is defined for each; the audit reads the DIT scale's item scores as interval unless told otherwise."""

LEVELS = ("nominal", "ordinal", "interval", "ratio")
