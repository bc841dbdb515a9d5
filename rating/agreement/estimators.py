"""Numerical kernels behind `rating.agreement`: the statistics on plain numpy arrays.

They are written here rather than taken from pingouin, krippendorff, scikit-learn or statsmodels
because the audit needs them for dozens of items, a thousand bootstrap resamples each, and over a
thousand rater pairs inside two seconds, which one library call per figure cannot do. Each kernel
is pinned in tests/agreement to the library that defines the statistic: ICCs and their intervals to
pingouin, alpha to krippendorff, Cohen's kappa to scikit-learn, Fleiss' kappa to statsmodels.

A bootstrap resample is a column of unit weights (how often each recording was drawn), so one matrix
product evaluates a statistic on every resample at once; the first column is all ones, the sample itself.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.stats import f as f_dist

from rating.measurement import LEVELS

ICC_FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
KAPPA_WEIGHTS = ("quadratic", "linear", None)


def icc_forms(matrix: np.ndarray, confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Shrout & Fleiss (1979) ICCs of a complete targets x raters matrix, in the order of ICC_FORMS.

    The intervals are Shrout & Fleiss's F-based ones for cases 1 and 3 and McGraw & Wong's (1996)
    Satterthwaite approximation for case 2, as pingouin computes them.
    """
    x = np.asarray(matrix, dtype=float)
    n, k = x.shape
    nan6 = np.full(6, np.nan)
    if n < 2 or k < 2:
        return {"icc": nan6, "ci_low": nan6, "ci_high": nan6, "F": nan6, "df1": nan6, "df2": nan6, "pval": nan6}

    grand = x.mean()
    ss_total = ((x - grand) ** 2).sum()
    ss_targets = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_raters = n * ((x.mean(axis=0) - grand) ** 2).sum()
    # Rounding can leave a perfect-agreement residual a hair below zero.
    ss_error = max(ss_total - ss_targets - ss_raters, 0.0)
    df_targets, df_within, df_error = n - 1, n * (k - 1), (n - 1) * (k - 1)
    msb = ss_targets / df_targets
    msj = ss_raters / (k - 1)
    mse = ss_error / df_error
    msw = (ss_total - ss_targets) / df_within
    tail = 1 - (1 - confidence) / 2

    with np.errstate(divide="ignore", invalid="ignore"):
        icc1 = (msb - msw) / (msb + (k - 1) * msw)
        icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
        icc3 = (msb - mse) / (msb + (k - 1) * mse)
        icc1k = (msb - msw) / msb
        icc2k = (msb - mse) / (msb + (msj - mse) / n)
        icc3k = (msb - mse) / msb

        f1 = msb / msw
        f3 = msb / mse
        f1_low = f1 / f_dist.ppf(tail, df_targets, df_within)
        f1_high = f1 * f_dist.ppf(tail, df_within, df_targets)
        f3_low = f3 / f_dist.ppf(tail, df_targets, df_error)
        f3_high = f3 * f_dist.ppf(tail, df_error, df_targets)

        fj = msj / mse
        v_num = df_error * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v_den = df_targets * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v = v_num / v_den
        f2_high = f_dist.ppf(tail, df_targets, v)
        f2_low = f_dist.ppf(tail, v, df_targets)
        spread = k * msj + (k * n - k - n) * mse
        l2 = n * (msb - f2_high * mse) / (f2_high * spread + n * msb)
        u2 = n * (f2_low * msb - mse) / (spread + n * f2_low * msb)

        ci_low = [
            (f1_low - 1) / (f1_low + k - 1),
            l2,
            (f3_low - 1) / (f3_low + k - 1),
            1 - 1 / f1_low,
            l2 * k / (1 + l2 * (k - 1)),
            1 - 1 / f3_low,
        ]
        ci_high = [
            (f1_high - 1) / (f1_high + k - 1),
            u2,
            (f3_high - 1) / (f3_high + k - 1),
            1 - 1 / f1_high,
            u2 * k / (1 + u2 * (k - 1)),
            1 - 1 / f3_high,
        ]
    p1 = f_dist.sf(f1, df_targets, df_within)
    p3 = f_dist.sf(f3, df_targets, df_error)
    return {
        "icc": np.array([icc1, icc2, icc3, icc1k, icc2k, icc3k], dtype=float),
        "ci_low": np.array(ci_low, dtype=float),
        "ci_high": np.array(ci_high, dtype=float),
        "F": np.array([f1, f3, f3, f1, f3, f3], dtype=float),
        "df1": np.full(6, float(df_targets)),
        "df2": np.array([df_within, df_error, df_error, df_within, df_error, df_error], dtype=float),
        "pval": np.array([p1, p3, p3, p1, p3, p3], dtype=float),
    }


def resample_weights(n_units: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """n_units x (1 + n_boot) draw counts: the sample itself, then n_boot bootstrap resamples of units."""
    draws = rng.integers(0, n_units, size=(n_boot, n_units)) + n_units * np.arange(n_boot)[:, None]
    weights = np.ones((n_units, 1 + n_boot))
    weights[:, 1:] = np.bincount(draws.ravel(), minlength=n_boot * n_units).reshape(n_boot, n_units).T
    return weights


def within_unit_pairs(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (first, second) of every unordered pair of observations that share a unit."""
    units = np.asarray(units)
    if units.size == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    order = np.argsort(units, kind="stable")
    ordered = units[order]
    largest = np.bincount(units).max()
    firsts, seconds = [], []
    for lag in range(1, largest):
        same = ordered[lag:] == ordered[:-lag]
        firsts.append(order[:-lag][same])
        seconds.append(order[lag:][same])
    if not firsts:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    return np.concatenate(firsts), np.concatenate(seconds)


def _fixed_distance(level: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if level == "nominal":
        return (a != b).astype(float)
    if level == "interval":
        return (a - b) ** 2
    total = a + b
    # Krippendorff's ratio metric; two zeros do not disagree.
    return np.divide(a - b, total, out=np.zeros(np.broadcast(a, b).shape), where=total != 0) ** 2


def krippendorff_alpha(
    units: np.ndarray,
    values: np.ndarray,
    levels: tuple[str, ...] = LEVELS,
    resamples: np.ndarray | None = None,
    confidence: float = 0.95,
) -> tuple[dict[str, tuple[float, float, float]], np.ndarray]:
    """Krippendorff's alpha at each level, with a percentile bootstrap interval over units.

    `units` are integer codes and `values` the ratings, one observation per element; a unit with a
    single rating is not pairable and drops out, as in Krippendorff (2011). `resamples` comes from
    `resample_weights`, one row per unit code (None: no interval); sharing it between items
    resamples the same recordings for all of them. The interval resamples units (recordings), the
    bootstrap Zapf et al. (2016, BMC Med Res Methodol 16:93) recommend for alpha.
    Returns {level: (alpha, low, high)} and the mask of pairable observations.
    """
    for level in levels:
        if level not in LEVELS:
            raise ValueError(f"Level of measurement must be one of {', '.join(LEVELS)}, not {level!r}.")
    units = np.asarray(units, dtype=np.intp)
    values = np.asarray(values, dtype=float)
    nan_result = {level: (np.nan, np.nan, np.nan) for level in levels}
    if units.size == 0:
        return nan_result, np.zeros(0, dtype=bool)
    n_units = int(units.max()) + 1 if resamples is None else resamples.shape[0]
    if resamples is None:
        resamples = np.ones((n_units, 1))
    pairable = np.bincount(units, minlength=n_units)[units] >= 2
    if not pairable.any():
        return nan_result, pairable

    unit_index = units[pairable]
    domain, value_index = np.unique(values[pairable], return_inverse=True)
    sizes = np.bincount(unit_index, minlength=n_units).astype(float)
    value_counts = sparse.csr_matrix(
        (np.ones(len(unit_index)), (unit_index, value_index)), shape=(n_units, len(domain))
    )
    # The coincidence matrix, kept only at the value pairs that occur within a unit: each pair
    # enters in both orders, divided by m_u - 1.
    first, second = within_unit_pairs(unit_index)
    low_value = np.minimum(value_index[first], value_index[second])
    high_value = np.maximum(value_index[first], value_index[second])
    value_pairs, pair_code = np.unique(low_value * len(domain) + high_value, return_inverse=True)
    pair_low, pair_high = np.divmod(value_pairs, len(domain))
    pair_unit = unit_index[first]
    by_unit = sparse.csr_matrix(
        (2.0 / (sizes[pair_unit] - 1), (pair_unit, pair_code)), shape=(n_units, len(value_pairs))
    )
    fixed = [level for level in levels if level != "ordinal"]
    disagreement = [by_unit @ _fixed_distance(level, domain[pair_low], domain[pair_high]) for level in fixed]
    # Everything the resamples are summed over goes through one product, a single pass over them:
    # the value counts (n_c), the coincidences where the ordinal distance needs them, and each
    # fixed-distance level's disagreement within each unit.
    parts = [value_counts]
    if "ordinal" in levels:
        parts.append(by_unit)
    if disagreement:
        parts.append(sparse.csr_matrix(np.column_stack(disagreement)))
    summed = (sparse.hstack(parts, format="csr").T @ resamples).T
    value_totals = summed[:, : len(domain)]
    coincidences = summed[:, len(domain) : len(domain) + by_unit.shape[1]] if "ordinal" in levels else None
    observed_fixed = dict(zip(fixed, summed[:, summed.shape[1] - len(fixed) :].T))
    totals = value_totals.sum(axis=1)

    results = {}
    for level in levels:
        if level == "ordinal":
            # Krippendorff's ordinal distance is the squared gap between the values' mid-ranks
            # among the pairable ratings, so it moves with each resample's value frequencies.
            midranks = np.cumsum(value_totals, axis=1) - value_totals / 2
            observed = (coincidences * (midranks[:, pair_low] - midranks[:, pair_high]) ** 2).sum(axis=1)
            spread = totals * (value_totals * midranks**2).sum(axis=1) - (value_totals * midranks).sum(axis=1) ** 2
            expected = 2 * spread
        else:
            observed = observed_fixed[level]
            if level == "nominal":
                expected = totals**2 - (value_totals**2).sum(axis=1)
            elif level == "interval":
                # Centring keeps the difference of large sums from cancelling away its digits.
                centred = domain - domain.mean()
                expected = 2 * (totals * (value_totals @ centred**2) - (value_totals @ centred) ** 2)
            else:
                distances = _fixed_distance(level, domain[:, None], domain[None, :])
                expected = ((value_totals @ distances) * value_totals).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            alphas = 1 - (totals - 1) * observed / expected
        alphas[~np.isfinite(alphas)] = np.nan
        low, high = _percentile_interval(alphas[1:], confidence)
        results[level] = (float(alphas[0]), low, high)
    return results, pairable


def _percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return np.nan, np.nan
    tail = (1 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def kappa_weights(domain: np.ndarray, weights: str | None) -> np.ndarray:
    """Disagreement weights between the values of `domain`, by their distance on the scale."""
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(f"Kappa weights must be 'quadratic', 'linear' or None, not {weights!r}.")
    gap = domain[:, None] - domain[None, :]
    if weights == "quadratic":
        return gap**2
    if weights == "linear":
        return np.abs(gap)
    return (gap != 0).astype(float)


def cohen_kappa_by_group(
    groups: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    n_groups: int,
    weights: str | None = "quadratic",
    domain: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cohen's (weighted) kappa between `first` and `second` ratings within each group at once.

    Weights follow the values' distances on the scale; scikit-learn's follow positions in its label
    list, which is the same thing when the labels are the whole, equally spaced scale. Returns the
    kappas and the number of paired ratings per group.
    """
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    if domain is None:
        domain = np.unique(np.concatenate([first, second]))
    size = len(domain)
    cells = (np.asarray(groups) * size + np.searchsorted(domain, first)) * size + np.searchsorted(domain, second)
    observed = np.bincount(cells, minlength=n_groups * size * size).reshape(n_groups, size, size).astype(float)
    n = observed.sum(axis=(1, 2))
    disagreement = kappa_weights(domain, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = observed.sum(axis=2)[:, :, None] * observed.sum(axis=1)[:, None, :] / n[:, None, None]
        kappa = 1 - (observed * disagreement).sum(axis=(1, 2)) / (expected * disagreement).sum(axis=(1, 2))
    kappa[~np.isfinite(kappa)] = np.nan
    return kappa, n.astype(int)


def fleiss_kappa(
    table: np.ndarray, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Fleiss' (1971) kappa of a subjects x categories count table with the same number of raters
    per subject, and a percentile bootstrap interval over subjects."""
    table = np.asarray(table, dtype=float)
    n_subjects = table.shape[0]
    raters = table.sum(axis=1)
    if n_subjects < 2 or raters.min() < 2 or raters.min() != raters.max():
        return np.nan, np.nan, np.nan
    m = raters[0]
    weights = resample_weights(n_subjects, n_boot, np.random.default_rng(seed))
    drawn = weights.sum(axis=0)
    agreement = ((table**2).sum(axis=1) - m) / (m * (m - 1))
    mean_agreement = agreement @ weights / drawn
    shares = (table.T @ weights).T / (m * drawn[:, None])
    chance = (shares**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = (mean_agreement - chance) / (1 - chance)
    kappas[~np.isfinite(kappas)] = np.nan
    low, high = _percentile_interval(kappas[1:], confidence)
    return float(kappas[0]), low, high
