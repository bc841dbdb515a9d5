"""Both engines, and faster-whisper's two decodings, on the same speech: speed, memory, accuracy and
speech lost, as one table.

    python bench/transcribe.py

Two recordings with known text:
- "varied": the speech of `speechfixtures` (LibriVox readings, JFK, a synthesised three-voice dialogue)
  joined with one-second pauses and repeated until it lasts at least five minutes;
- "dialogues": four scripted two-voice therapy dialogues of two and a half minutes (long patient turns,
  short questions: where Whisper drops a turn), one after the other.

Each row is one engine, model and decoding: faster-whisper batched (`BatchedInferencePipeline`) as the
default decodes, in two streams side by side of one stretch at a time ("2x1"), and as one stream of four
("1x4"); sequential (one 30-second window after another); openai-whisper; and faster-whisper batched with
the multilingual `base` when the `base` extra is installed; all
with beam 5, VAD, word timestamps and the coverage pass (transcription/coverage.py). Besides the WER,
"deleted" is the share of the known words missing from the transcript and "longest" the longest run of
them missing together (targets on the dialogues: at most 2% and 5 words). Each run is a process of its
own, so that its peak memory is its own, and the model's load is timed apart from the transcription.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The repository root, for `transcription` and `speechfixtures`, however the script is started.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechfixtures.dialogue import mono_dialogue
from speechfixtures.long_script import long_script
from speechfixtures.mixes import varied_speech
from speechfixtures.recorded import jfk_wav
from speechfixtures.scoring import deletions, wer
from speechfixtures.wavfile import seconds as wav_seconds
from transcription.engines import DEFAULT_MODEL, DecodeOptions, bundled_model_dir, load_engine
from transcription.split_models import split_model_dir

MINIMUM_SECONDS = 300
DIALOGUE_SECONDS = 150
DIALOGUE_SEEDS = (7, 11, 23, 29)
# (engine, model, decoding, batch size, streams): the default (two streams of one stretch), one stream of four
# (the default until two streams were measured faster), one window after another (batch size 0),
# openai-whisper, and base (only when the `base` extra is installed).
RUNS = [("faster-whisper", DEFAULT_MODEL, "batched 2x1", 1, 2), ("faster-whisper", DEFAULT_MODEL, "batched 1x4", 4, 1),
        ("faster-whisper", DEFAULT_MODEL, "sequential", 0, 1), ("openai-whisper", DEFAULT_MODEL, "-", 0, 1),
        ("faster-whisper", "base", "batched 2x1", 1, 2)]


def dialogues(folder: Path) -> tuple[Path, str]:
    """Four scripted dialogues joined one after another, and what is said in them. Seed 23's has a patient
    turn that batched decoding was seen to drop ten words of, where the coverage pass did not look."""
    texts, parts = [], []
    for seed in DIALOGUE_SEEDS:
        part = folder / f"dialogue-{seed}.wav"
        texts += [line.text for line in mono_dialogue(part, long_script(DIALOGUE_SECONDS, seed=seed))]
        parts.append(str(part))
    joined = folder / "dialogues.wav"
    subprocess.run(["sox", "-D", *parts, str(joined)], check=True)
    return joined, " ".join(texts)


def measure(engine: str, model: str, audio: str, batch_size: str, streams: str, models_dir: str) -> dict:
    """Run in the engine's own process: times, the transcript's text and this process's peak RSS.

    A first, short transcription is timed apart: openai-whisper compiles its word-timing kernels
    (numba) on first use, a cost a worker pays once, not once per recording.
    """
    started = time.perf_counter()
    recogniser = load_engine(engine, model, device="cpu", models_dir=Path(models_dir),
                             options=DecodeOptions(batch_size=int(batch_size), streams=int(streams)))
    loaded = time.perf_counter()
    recogniser.transcribe(jfk_wav())
    warm = time.perf_counter()
    transcript = recogniser.transcribe(audio)
    done = time.perf_counter()
    return {
        "load": loaded - started,
        "first": warm - loaded,
        "transcribe": done - warm,
        "text": " ".join(segment.text for segment in transcript.segments if not segment.inaudible),
        "inaudible": sum(segment.inaudible for segment in transcript.segments),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", nargs=6, metavar=("ENGINE", "MODEL", "AUDIO", "BATCH", "STREAMS", "MODELS_DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return

    # Here only: the engines' processes need not carry torch for the conversion.
    from transcription.convert import convert_ctranslate2_to_openai

    with tempfile.TemporaryDirectory(prefix="dit-bench-") as scratch:
        folder = Path(scratch)
        recordings = {"varied": varied_speech(folder / "speech.wav", MINIMUM_SECONDS),
                      "dialogues": dialogues(folder)}
        checkpoint = convert_ctranslate2_to_openai(bundled_model_dir(), folder / f"{DEFAULT_MODEL}.pt")
        runs = [run for run in RUNS if run[1] == DEFAULT_MODEL or split_model_dir(run[1], folder) is not None]
        rows = []
        for name, (speech, reference) in recordings.items():
            seconds = wav_seconds(speech)
            for engine, model, decoding, batch_size, streams in runs:
                loaded = str(checkpoint) if engine == "openai-whisper" else model
                child = subprocess.run([sys.executable, __file__, "--measure", engine, loaded, str(speech),
                                        str(batch_size), str(streams), str(folder)], capture_output=True, text=True, check=True)
                result = json.loads(child.stdout.splitlines()[-1])
                missing, longest = deletions(reference, result["text"])
                rows.append([name, f"{seconds / 60:.1f}", engine, model, decoding, f"{result['load']:.1f}",
                             f"{result['transcribe']:.1f}", f"{seconds / result['transcribe']:.1f}x",
                             f"{result['peak_rss_mib']:.0f}", f"{wer(reference, result['text']):.3f}",
                             f"{missing:.1%}", str(longest), str(result["inaudible"])])

    import torch

    print(f"CPU only: {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads; "
          "faster-whisper int8, openai-whisper float32; beam 5, VAD, word timestamps, coverage pass")
    header = ["audio", "min", "engine", "model", "decoding", "load s", "transcribe s", "speed", "peak RSS MiB", "WER",
              "deleted", "longest", "inaudible"]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * width for width in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
