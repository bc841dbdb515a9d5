"""Time `dit classify` on a 50-minute session: 600 segments of 5 seconds, therapist and patient taking
turns, the therapist's lines drawn from the seed corpus.

Each run is a fresh Python process that does what `dit classify` does: import the classifier, load
the newest good model from disk and its sentence encoder, score the therapist's segments and give the
session's verdict. The target is classify + verdict under 1 second on 2 cores, once loaded. The imports
(NumPy, SciPy, pandas, scikit-learn) and the loads are timed apart: the service pays them once when it
starts, not per session.

    python bench/classify.py [--repeat 5] [--segments 600] [--models-dir DIR]

Without --models-dir the seed model is trained into a temporary directory first (not timed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEGMENT_SECONDS = 5.0
PATIENT_LINES = [
    "I don't know, it was just a normal week really.",
    "Yeah. I suppose so.",
    "He didn't even look up when I came in.",
    "I went to my mum's on Saturday and it was fine, mostly.",
    "It's hard to say. I just felt flat all week.",
    "Maybe. I hadn't thought of it like that.",
]


def session(n_segments: int) -> tuple[dict, dict]:
    """A transcript of `n_segments` alternating turns and the IPAF of the seed corpus's first case."""
    from rating.classifier_corpus import load_seed_corpus

    examples = load_seed_corpus()
    segments = []
    for i in range(n_segments):
        therapist = i % 2 == 0
        text = examples[(i // 2) * 7 % len(examples)].utterance if therapist else PATIENT_LINES[i % len(PATIENT_LINES)]
        segments.append({"start": i * SEGMENT_SECONDS, "end": (i + 1) * SEGMENT_SECONDS,
                         "speaker": "therapist" if therapist else "patient", "text": text, "words": []})
    transcript = {"language": "en", "engine": "faster-whisper", "model": "tiny.en",
                  "duration": n_segments * SEGMENT_SECONDS, "segments": segments}
    return transcript, examples[0].ipaf.to_dict()


def child(models_dir: str, transcript_path: str, ipaf_path: str) -> None:
    """One timed run, as `dit classify` does it; prints its timings as JSON."""
    clocks = [(time.perf_counter(), time.process_time())]

    def lap():
        clocks.append((time.perf_counter(), time.process_time()))

    from rating.classifier import load_newest_good
    from rating.classifier_corpus import Ipaf
    from rating.classifier_session import session_verdict

    lap()
    model = load_newest_good(Path(models_dir))
    lap()
    model.load_encoders()
    lap()
    transcript = json.loads(Path(transcript_path).read_text())
    ipaf = Ipaf.from_dict(json.loads(Path(ipaf_path).read_text()))
    scores = model.predict_segments(transcript, ipaf)
    lap()
    verdict = session_verdict(transcript, scores, "middle")
    lap()
    steps = ["imports", "load model", "load sentence encoder", "classify", "verdict"]
    print(json.dumps({
        "steps": {name: [clocks[i + 1][0] - clocks[i][0], clocks[i + 1][1] - clocks[i][1]]
                  for i, name in enumerate(steps)},
        "scored": sum(score["ipaf_reference"] is not None for score in scores),
        "verdict": verdict["verdict"],
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes to run; the median is shown")
    parser.add_argument("--segments", type=int, default=600, help="segments in the session")
    parser.add_argument("--models-dir", type=Path, help="where the model is (default: train one into a temp dir)")
    parser.add_argument("--child", nargs=3, metavar=("MODELS", "TRANSCRIPT", "IPAF"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(*options.child)
        return

    from rating.classifier import default_model

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        models_dir = options.models_dir or scratch / "models"
        started = time.perf_counter()
        model = default_model(models_dir)
        print(f"model {model.version} in {models_dir} ({time.perf_counter() - started:.1f} s to load or train)")
        transcript, ipaf = session(options.segments)
        transcript_path, ipaf_path = scratch / "session.json", scratch / "ipaf.json"
        transcript_path.write_text(json.dumps(transcript))
        ipaf_path.write_text(json.dumps(ipaf))

        runs = []
        for _ in range(options.repeat):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(models_dir), str(transcript_path), str(ipaf_path)],
                capture_output=True, text=True, check=True,
            )
            runs.append((time.perf_counter() - started, json.loads(done.stdout)))

    first = runs[0][1]
    print(f"{options.segments} segments ({options.segments * SEGMENT_SECONDS / 60:.0f} minutes), "
          f"{first['scored']} scored, verdict {first['verdict']}; median of {options.repeat} fresh processes\n")
    steps = list(first["steps"])
    target = ["classify", "verdict"]

    def median(seconds) -> float:
        return statistics.median(seconds(run) for _, run in runs)

    def step(name: str, clock: int):
        return lambda run: run["steps"][name][clock]

    def total(clock: int):
        return lambda run: sum(run["steps"][name][clock] for name in target)

    rows = [(name, median(step(name, 0)), median(step(name, 1))) for name in steps]
    rows.append(("classify + verdict (target < 1 s)", median(total(0)), median(total(1))))
    rows.append(("whole process, interpreter start included",
                 statistics.median(wall for wall, _ in runs), float("nan")))
    width = max(len(name) for name, _, _ in rows) + 2
    print(f"{'step':<{width}}{'seconds':>9}{'cpu_s':>9}")
    for name, wall, cpu in rows:
        print(f"{name:<{width}}{wall:>9.3f}{cpu:>9.3f}")

if __name__ == "__main__":
    main()
