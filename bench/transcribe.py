"""Both engines on the same five-odd minutes of speech: speed, memory and accuracy, as one table.

    python bench/transcribe.py

The speech is that of `speechfixtures` (LibriVox readings, JFK, a synthesised three-voice dialogue) joined
with one-second pauses and repeated until it lasts at least five minutes; the known text of each
piece gives the word error rate. Each engine runs in a process of its own, so that its peak
memory is its own, and the load of the model is timed apart from the transcription.
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

from speechfixtures.mixes import varied_speech
from speechfixtures.recorded import jfk_wav
from speechfixtures.scoring import wer
from speechfixtures.wavfile import seconds as wav_seconds
from transcription.engines import DEFAULT_MODEL, ENGINES, bundled_model_dir, load_engine

MINIMUM_SECONDS = 300


def measure(engine: str, model: str, audio: str) -> dict:
    """Run in the engine's own process: times, the transcript's text and this process's peak RSS.

    A first, short transcription is timed apart: openai-whisper compiles its word-timing kernels
    (numba) on first use, a cost a worker pays once, not once per recording.
    """
    started = time.perf_counter()
    recogniser = load_engine(engine, model, device="cpu")
    loaded = time.perf_counter()
    recogniser.transcribe(jfk_wav())
    warm = time.perf_counter()
    transcript = recogniser.transcribe(audio)
    done = time.perf_counter()
    return {
        "load": loaded - started,
        "first": warm - loaded,
        "transcribe": done - warm,
        "text": " ".join(segment.text for segment in transcript.segments),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", nargs=3, metavar=("ENGINE", "MODEL", "AUDIO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return

    # Here only: the engines' processes need not carry torch for the conversion.
    from transcription.convert import convert_ctranslate2_to_openai

    with tempfile.TemporaryDirectory(prefix="dit-bench-") as scratch:
        folder = Path(scratch)
        speech, reference = varied_speech(folder / "speech.wav", MINIMUM_SECONDS)
        seconds = wav_seconds(speech)
        checkpoint = convert_ctranslate2_to_openai(bundled_model_dir(), folder / f"{DEFAULT_MODEL}.pt")
        models = {"faster-whisper": DEFAULT_MODEL, "openai-whisper": str(checkpoint)}
        rows = []
        for engine in ENGINES:
            child = subprocess.run([sys.executable, __file__, "--measure", engine, models[engine], str(speech)],
                                   capture_output=True, text=True, check=True)
            result = json.loads(child.stdout.splitlines()[-1])
            rows.append([engine, DEFAULT_MODEL, f"{result['load']:.1f}", f"{result['first']:.1f}",
                         f"{result['transcribe']:.1f}",
                         f"{result['transcribe'] / seconds:.3f}", f"{result['peak_rss_mib']:.0f}",
                         f"{wer(reference, result['text']):.3f}"])

    import torch

    print(f"{seconds / 60:.1f} min of speech ({int(seconds)} s), CPU only: {os.cpu_count()} cores, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads; faster-whisper int8, "
          f"openai-whisper float32; both beam 5, VAD, word timestamps")
    header = ["engine", "model", "load s", "first 11 s clip s", "transcribe s", "RTF", "peak RSS MiB", "WER"]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * width for width in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
