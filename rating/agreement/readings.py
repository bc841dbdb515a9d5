"""The conventional readings of an agreement coefficient ("poor" to "excellent"), with their sources."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bands:
    """A conventional reading of a coefficient: labels[i] from lower_bounds[i - 1] up."""

    source: str
    lower_bounds: tuple[float, ...]
    labels: tuple[str, ...]


BANDS = {
    "cicchetti_1994": Bands(
        "Cicchetti (1994), Psychological Assessment 6(4):284-290",
        (0.40, 0.60, 0.75),
        ("poor", "fair", "good", "excellent"),
    ),
    "koo_li_2016": Bands(
        "Koo & Li (2016), Journal of Chiropractic Medicine 15(2):155-163",
        (0.50, 0.75, 0.90),
        ("poor", "moderate", "good", "excellent"),
    ),
    "krippendorff_2004": Bands(
        "Krippendorff (2004), Content Analysis, 2nd ed.: rely on alpha >= .800, draw only tentative "
        "conclusions from .667 to .800",
        (0.667, 0.800),
        ("unreliable", "tentative", "reliable"),
    ),
}


def bands_named(name: str) -> Bands:
    """`BANDS[name]`, or a ValueError that lists the names there are."""
    if name not in BANDS:
        raise ValueError(f"bands must be one of {', '.join(BANDS)}, not {name!r}.")
    return BANDS[name]


def reading(value: float, bands: str = "cicchetti_1994") -> str | None:
    """The conventional label of a coefficient (None where there is no coefficient)."""
    band = bands_named(bands)
    if value is None or not np.isfinite(value):
        return None
    return band.labels[int(np.searchsorted(band.lower_bounds, value, side="right"))]
