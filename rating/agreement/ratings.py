"""Long-format ratings, one row per rating (`recording`, `item`, `rater`, `score`): reading them from a
CSV and the checks every agreement table makes before it trusts them."""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike

import numpy as np
import pandas as pd

RATING_COLUMNS = ("recording", "item", "rater", "score")


def read_ratings_csv(path: str | PathLike) -> pd.DataFrame:
    """Long-format ratings from a CSV with a header `recording,item,rater,score` (more columns are kept).

    Identifiers stay text; scores become floats; `submitted_at`, where present, becomes a timestamp.
    Raises ValueError naming the file and the offending lines for a missing column, an empty
    identifier, a score that is not a finite number, or a rating given twice.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: expected a header {','.join(RATING_COLUMNS)}.") from None
    frame.columns = frame.columns.str.strip()
    missing = [column for column in RATING_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {', '.join(missing)}: expected {','.join(RATING_COLUMNS)}, "
            f"found {','.join(frame.columns)}."
        )
    # The header is line 1.
    line = pd.Series(np.arange(len(frame)) + 2, index=frame.index)
    for column in ("recording", "item", "rater"):
        frame[column] = frame[column].str.strip()
        blank = frame[column] == ""
        if blank.any():
            raise ValueError(f"{path}: empty {column} on line(s) {_lines(line[blank])}.")
    text = frame["score"].str.strip()
    score = pd.to_numeric(text, errors="coerce")
    bad = ~np.isfinite(score.to_numpy(dtype=float))
    if bad.any():
        shown = ", ".join(f"line {n}: {value!r}" for n, value in zip(line[bad][:5], text[bad][:5]))
        raise ValueError(
            f"{path}: score is not a number ({shown}{', ...' if bad.sum() > 5 else ''}); "
            "leave a missing rating out rather than blank."
        )
    frame["score"] = score.astype(float)
    duplicated = frame.duplicated(["recording", "item", "rater"], keep=False)
    if duplicated.any():
        raise ValueError(
            f"{path}: the same recording, item and rater appear more than once, on lines {_lines(line[duplicated])}."
        )
    if "submitted_at" in frame.columns:
        try:
            frame["submitted_at"] = pd.to_datetime(frame["submitted_at"].str.strip(), format="ISO8601")
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: submitted_at is not an ISO 8601 date and time ({error}).") from None
    return frame


def require_columns(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """A ValueError naming the columns the ratings lack, if any."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"The ratings lack the column(s) {', '.join(missing)}; they have {', '.join(frame.columns)}.")


def forbid_duplicates(frame: pd.DataFrame, keys: list[str]) -> None:
    """A ValueError, with an example, where two rows share their `keys`."""
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        example = frame.loc[duplicated, keys].iloc[0].to_dict()
        raise ValueError(
            f"{int(duplicated.sum())} rows share their {', '.join(keys)} with another, e.g. {example}: "
            "give one score per " + " and ".join(keys) + " (select an item, or use total_scores)."
        )


def one_score_each(frame: pd.DataFrame, keys: list[str], score: str) -> pd.DataFrame:
    """The `keys` and `score` columns of the rows that have a score, checked to hold one score per key."""
    require_columns(frame, [*keys, score])
    frame = frame[[*keys, score]].dropna(subset=[score])
    forbid_duplicates(frame, keys)
    return frame


def coded_scores(
    frame: pd.DataFrame, target: str, rater: str, score: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """One score per target and rater as integer codes of both (in sorted order) and the scores,
    with the targets the codes stand for."""
    frame = one_score_each(frame, [target, rater], score)
    target_codes, targets = pd.factorize(frame[target], sort=True)
    rater_codes, _ = pd.factorize(frame[rater], sort=True)
    return target_codes, rater_codes, frame[score].to_numpy(dtype=float), targets


def _lines(lines: pd.Series) -> str:
    shown = ", ".join(str(n) for n in lines[:10])
    return shown + (", ..." if len(lines) > 10 else "")
