"""Time the rater agreement audit's tables on an audit-sized, realistic data set.

50 raters, 2,000 recordings, 25 items scored 0-6; each recording is rated by 3 of the 50 raters and
15% of item ratings are missing; 40 recordings are calibration recordings with reference scores.
The target is the whole audit page under 2 seconds on 2 cores.

    python bench/agreement.py [--repeat 3] [--n-boot 1000] [--compare]

--compare also times the libraries the kernels are tested against, on the same inputs (not in the
total): pingouin's ICC, krippendorff's alpha (point estimates only, items only: the package runs out
of memory on the total scores) and scikit-learn's Cohen's kappa.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rating.agreement import (
    agreement_by,
    fleiss_kappa_pass,
    pairwise_kappa,
    rater_bias,
    total_scores,
)
from rating.phases import SESSIONS_PER_CASE, phase_of

N_RATERS, N_RECORDINGS, N_ITEMS, RATERS_PER_RECORDING, MISSING = 50, 2000, 25, 3, 0.15
N_CALIBRATION = 40
PASS_MARK = 3.5 * N_ITEMS


def audit_data(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-format ratings and the reference scores of the calibration recordings."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(3.5, 1.0, N_RECORDINGS)
    item_effect = rng.normal(0, 0.5, N_ITEMS)
    leniency = rng.normal(0, 0.3, N_RATERS)
    raters = np.stack([rng.choice(N_RATERS, RATERS_PER_RECORDING, replace=False) for _ in range(N_RECORDINGS)])

    recording = np.repeat(np.arange(N_RECORDINGS), RATERS_PER_RECORDING * N_ITEMS)
    rater = np.repeat(raters.ravel(), N_ITEMS)
    item = np.tile(np.arange(N_ITEMS), N_RECORDINGS * RATERS_PER_RECORDING)
    truth = quality[recording] + item_effect[item]
    score = np.clip(np.round(truth + leniency[rater] + rng.normal(0, 0.8, recording.size)), 0, 6)
    kept = rng.random(recording.size) >= MISSING

    session = rng.integers(1, SESSIONS_PER_CASE + 1, N_RECORDINGS)
    submitted = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 730, N_RECORDINGS), unit="D")
    ratings = pd.DataFrame(
        {
            "recording": np.char.add("rec", recording[kept].astype(str)),
            "item": np.char.add("item", (item[kept] + 1).astype(str)),
            "rater": np.char.add("rater", rater[kept].astype(str)),
            "score": score[kept],
            "phase": [phase_of(s).value for s in session[recording[kept]]],
            "submitted_at": submitted[recording[kept]],
        }
    )
    calibration = np.arange(N_CALIBRATION)
    reference = pd.DataFrame(
        {
            "recording": np.char.add("rec", np.repeat(calibration, N_ITEMS).astype(str)),
            "item": np.char.add("item", np.tile(np.arange(1, N_ITEMS + 1), N_CALIBRATION).astype(str)),
            "score": np.clip(
                np.round(quality[np.repeat(calibration, N_ITEMS)] + np.tile(item_effect, N_CALIBRATION)), 0, 6
            ),
        }
    )
    return ratings, reference


def audit_steps(ratings: pd.DataFrame, reference: pd.DataFrame, n_boot: int) -> dict:
    """The audit page's tables, one callable per step; later steps use what earlier ones return."""
    state = {}

    def totals():
        state["totals"] = total_scores(ratings)
        state["passes"] = state["totals"].assign(passed=state["totals"]["score"] >= PASS_MARK)

    return {
        "total scores (prorated) and pass/fail": totals,
        f"ICC six forms + alpha 4 levels ({n_boot} resamples), per item": lambda: agreement_by(
            ratings, by=("item",), n_boot=n_boot
        ),
        f"ICC six forms + alpha 4 levels ({n_boot} resamples), total": lambda: agreement_by(
            ratings, by=(), n_boot=n_boot
        ),
        f"ICC six forms + alpha 4 levels ({n_boot} resamples), total per phase": lambda: agreement_by(
            ratings, by=("phase",), n_boot=n_boot
        ),
        "weighted kappa, all rater pairs (item scores)": lambda: pairwise_kappa(ratings),
        "kappa, all rater pairs (pass/fail)": lambda: pairwise_kappa(
            state["passes"], weights=None, item=None, score="passed"
        ),
        f"Fleiss' kappa, pass/fail ({n_boot} resamples)": lambda: fleiss_kappa_pass(state["passes"], n_boot=n_boot),
        "rater bias (consensus and reference)": lambda: rater_bias(ratings, reference),
    }


def library_steps(ratings: pd.DataFrame) -> dict:
    import krippendorff
    import pingouin
    from sklearn.metrics import cohen_kappa_score

    from rating.agreement.estimators import within_unit_pairs

    items = [group for _, group in ratings.groupby("item", sort=True)]
    totals = total_scores(ratings)
    # pingouin needs a complete matrix: the same rater slots icc_table uses.
    slotted = []
    for frame in [*items, totals]:
        frame = frame.sort_values(["recording", "rater"])
        frame = frame.assign(slot=frame.groupby("recording").cumcount())
        counts = frame.groupby("recording")["rater"].transform("size")
        slotted.append(frame[(counts >= 3) & (frame["slot"] < 3)])
    # Not the totals: krippendorff builds a units x values x values array, 9 GB for the totals' 700-odd values.
    matrices = [frame.pivot(index="rater", columns="recording", values="score").to_numpy() for frame in items]

    unit = ratings.groupby(["recording", "item"]).ngroup().to_numpy()
    first, second = within_unit_pairs(unit)
    pairs = pd.DataFrame(
        {
            "a": ratings["rater"].to_numpy()[first],
            "b": ratings["rater"].to_numpy()[second],
            "x": ratings["score"].to_numpy()[first],
            "y": ratings["score"].to_numpy()[second],
        }
    )
    labels = np.arange(7)

    return {
        "pingouin.intraclass_corr, 25 items + total": lambda: [
            pingouin.intraclass_corr(frame, targets="recording", raters="slot", ratings="score") for frame in slotted
        ],
        "krippendorff.alpha, 4 levels, 25 items (no total), no CI": lambda: [
            krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
            for matrix in matrices
            for level in ("nominal", "ordinal", "interval", "ratio")
        ],
        "sklearn cohen_kappa_score, all rater pairs": lambda: [
            cohen_kappa_score(group["x"], group["y"], labels=labels, weights="quadratic")
            for _, group in pairs.groupby(["a", "b"])
        ],
    }


def timed(steps: dict, repeat: int) -> list[tuple[str, float, float]]:
    """Median wall-clock and CPU seconds of each step; CPU time shows the work when the machine is shared."""
    times = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return [
        (name, statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in times.items()
    ]


def print_table(rows: list[tuple[str, float, float]], total: bool) -> None:
    width = max(len(name) for name, _, _ in rows) + 2
    print(f"{'step':<{width}}{'seconds':>9}{'cpu_s':>9}")
    for name, wall, cpu in rows:
        print(f"{name:<{width}}{wall:>9.3f}{cpu:>9.3f}")
    if total:
        print(f"{'total':<{width}}{sum(r[1] for r in rows):>9.3f}{sum(r[2] for r in rows):>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step; the median is shown")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument("--compare", action="store_true", help="also time the reference libraries")
    options = parser.parse_args()

    ratings, reference = audit_data()
    print(
        f"{ratings['recording'].nunique()} recordings, {ratings['rater'].nunique()} raters, "
        f"{ratings['item'].nunique()} items, {len(ratings)} ratings; median of {options.repeat} runs\n"
    )
    print_table(timed(audit_steps(ratings, reference, options.n_boot), options.repeat), total=True)
    if options.compare:
        print("\nreference libraries on the same inputs (not in the total)")
        print_table(timed(library_steps(ratings), 1), total=False)


if __name__ == "__main__":
    main()
