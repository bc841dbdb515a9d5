"""Batched against sequential decoding, dialogue by dialogue: is one more accurate, or do they differ by
the luck of each recording?

    python bench/decoders.py [--seeds 7 11 ...]

Each of twenty scripted two-voice therapy dialogues (two and a half minutes, `speechfixtures.long_script`
by seed) is transcribed by faster-whisper tiny.en both ways, with the coverage pass, and scored against its
script. A table gives each dialogue's WER, share of words missing and longest run missing for both; the
last lines, the paired difference in WER (batched minus sequential) with its standard error, on how many
dialogues each was better, and the pooled figures. The default seeds are the four of bench/transcribe.py,
eight used while tuning the coverage pass, and eight that were not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The repository root, for `transcription` and `speechfixtures`, however the script is started.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tables import table
from bench.transcribe import DIALOGUE_SECONDS, DIALOGUE_SEEDS
from speechfixtures.dialogue import mono_dialogue
from speechfixtures.long_script import long_script
from speechfixtures.scoring import deletions, wer
from transcription.engines import DecodeOptions, load_engine

# bench/transcribe.py's four, eight used while tuning the coverage pass, and eight that were not.
SEEDS = (*DIALOGUE_SEEDS, 3, 13, 5, 17, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79)
DECODINGS = {"batched": DecodeOptions(), "sequential": DecodeOptions(batch_size=0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dit-bench-") as scratch:
        dialogues = []
        for seed in args.seeds:
            path = Path(scratch) / f"dialogue-{seed}.wav"
            dialogues.append((seed, path, " ".join(line.text for line in mono_dialogue(
                path, long_script(DIALOGUE_SECONDS, seed=seed)))))
        scores: dict[str, list[tuple[float, float, int, int]]] = {}
        seconds: dict[str, float] = {}
        for name, options in DECODINGS.items():
            engine = load_engine(device="cpu", options=options)
            started = time.perf_counter()
            for _, path, script in dialogues:
                text = " ".join(s.text for s in engine.transcribe(path).segments if not s.inaudible)
                missing, longest = deletions(script, text)
                scores.setdefault(name, []).append((wer(script, text), missing, longest, len(script.split())))
            seconds[name] = time.perf_counter() - started
    rows = [[str(seed), *(f"{score[0]:.3f} / {score[1]:.1%} / {score[2]}" for score in by_decoding)]
            for (seed, _, _), *by_decoding in zip(dialogues, *scores.values(), strict=True)]
    print(table(["seed", *(f"{name}: WER / deleted / longest" for name in scores)], rows))
    difference = [b[0] - s[0] for b, s in zip(scores["batched"], scores["sequential"], strict=True)]
    error = statistics.stdev(difference) / len(difference) ** 0.5 if len(difference) > 1 else float("nan")
    print(f"\nbatched - sequential WER, paired over {len(difference)} dialogues: {statistics.mean(difference):+.4f}"
          f" ± {error:.4f} (standard error); batched better on {sum(d < 0 for d in difference)}, worse on "
          f"{sum(d > 0 for d in difference)}")
    audio = DIALOGUE_SECONDS * len(dialogues)
    for name, found in scores.items():
        words = sum(score[3] for score in found)
        pooled_wer = sum(score[0] * score[3] for score in found) / words
        pooled_missing = sum(score[1] * score[3] for score in found) / words
        print(f"{name}: WER {pooled_wer:.4f}, deleted {pooled_missing:.2%}, longest run "
              f"{max(score[2] for score in found)}, about {audio / seconds[name]:.0f}x real time on this machine")


if __name__ == "__main__":
    main()
