"""A whole therapy session through the worker's pipeline, at 10, 50 and 180 minutes, as one table.

    python bench/long_session.py [--minutes 10 50 180] [--threads N] [--format m4a]

Each recording is a two-voice espeak-ng dialogue (speechfixtures/long_script.py): ten minutes made once,
repeated to the length asked, and encoded as a trainee's upload would be (AAC in .m4a by default). Each
length runs in a process of its own through what a worker does with a recording: decode it to 16 kHz
mono (`normalise`), transcribe it (faster-whisper tiny.en) while finding who speaks when (`find_voices`:
diarisation and voice prints), then give the lines their speakers (`label_voices`). The table gives, per
length, the wall time and times real time, the peak resident memory of the process (ffmpeg's own, decoding
a 50-minute m4a, is 58 MiB: `/usr/bin/time -v`; the kernel's figure for the children of a process counts
the pages they share with it until they run ffmpeg, so it is not given), the average number of cores at
work (CPU time over wall time: 2.0 is two cores busy throughout), and, against the script, the word error
rate and the share of words given the role of the line they were said in.
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

import numpy as np

# The repository root, for `transcription` and `speechfixtures`, however the script is started.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tables import table
from speechfixtures.dialogue import Line, mono_dialogue
from speechfixtures.long_script import long_script
from speechfixtures.scoring import role_accuracy, wer
from speechfixtures.wavfile import read_wav, write_wav
from transcription.transcript import Transcript

GAP = 0.3  # seconds between lines: brisk turn-taking
UNIT_MINUTES = 10.0


def measure(upload: str, out: str, threads: int) -> dict:
    """The worker's pipeline on one upload, in this process: what it costs."""
    from concurrent.futures import ThreadPoolExecutor

    from transcription.diarize import load_encoder
    from transcription.engines import load_engine
    from transcription.media import normalise
    from transcription.roles import find_voices, label_voices

    engine = load_engine(device="cpu", threads=threads)
    encoder = load_encoder(threads=threads)
    started, cpu = time.perf_counter(), _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="dit-bench-") as scratch, ThreadPoolExecutor(1) as pool:
        audio = Path(scratch) / "audio.wav"
        normalise(upload, audio)
        # As the worker does (server/jobs/recogniser.py): the voices found while the words are.
        voices = pool.submit(find_voices, upload, encoder=encoder, scratch=Path(scratch))
        transcript = engine.transcribe(audio)
        labelled = label_voices(transcript, voices.result()).transcript
    wall = time.perf_counter() - started
    Path(out).write_text(json.dumps(labelled.to_dict()))
    return {"wall": wall, "cores": (_cpu_seconds() - cpu) / wall,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # Linux: KiB


def _cpu_seconds() -> float:
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def recording(folder: Path, unit: Path, unit_lines: list[Line], minutes: float, fmt: str) -> tuple[Path, list[Line]]:
    """`unit` repeated to `minutes`, encoded as `fmt`, and its lines' timeline."""
    repeats = max(1, round(minutes / UNIT_MINUTES))
    length = len(read_wav(unit)) / 16_000
    path = folder / f"session-{minutes:g}min.{fmt}"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", str(repeats - 1),
                    "-i", str(unit), "-ac", "1", *(["-b:a", "64k"] if fmt != "wav" else []), str(path)], check=True)
    lines = [Line(line.role, line.text, line.start + k * length, line.end + k * length)
             for k in range(repeats) for line in unit_lines]
    return path, lines



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 50.0, 180.0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="cores for recognition and speakers")
    parser.add_argument("--format", default="m4a", help="the upload's container: m4a, mp3, wav...")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        upload, out, threads = args.measure
        print(json.dumps(measure(upload, out, int(threads))))
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="dit-bench-") as scratch:
        folder = Path(scratch)
        unit = folder / "unit.wav"
        unit_lines = mono_dialogue(unit, long_script(UNIT_MINUTES * 60), gap=GAP)
        # Exactly ten minutes, so that the repeats keep the dialogue's pace: cut after the last line that ends
        # in time (a line cut in half would be heard but not in the script) and padded with silence.
        length = int(UNIT_MINUTES * 60 * 16_000)
        unit_lines = [line for line in unit_lines if line.end <= UNIT_MINUTES * 60]
        samples = read_wav(unit)[:int(unit_lines[-1].end * 16_000)]
        write_wav(unit, np.pad(samples, (0, length - len(samples))))
        for minutes in args.minutes:
            upload, lines = recording(folder, unit, unit_lines, minutes, args.format)
            out = folder / "labelled.json"
            child = subprocess.run([sys.executable, __file__, "--measure", str(upload), str(out), str(args.threads)],
                                   capture_output=True, text=True)
            if child.returncode != 0:
                rows.append([f"{minutes:g}", "failed", "", "", "", "", "", child.stderr.strip()[-200:]])
                continue
            result = json.loads(child.stdout.splitlines()[-1])
            transcript = Transcript.from_dict(json.loads(out.read_text()))
            seconds = lines[-1].end
            said = " ".join(line.text for line in lines)
            heard = " ".join(segment.text for segment in transcript.segments)
            rows.append([f"{minutes:g}", f"{result['wall']:.0f}", f"{seconds / result['wall']:.1f}x",
                         f"{result['peak_rss_mib']:.0f}",
                         f"{result['cores']:.2f}", f"{wer(said, heard):.3f}",
                         f"{role_accuracy(transcript, lines):.3f}", ""])
    print(f"Two-voice espeak-ng dialogue, {args.format} upload; normalise, faster-whisper tiny.en int8, speakers; "
          f"{args.threads} threads on {os.cpu_count()} cores.")
    print(table(["minutes", "wall s", "real time", "peak RSS MiB", "cores busy", "WER",
                 "role acc", "note"], rows))


if __name__ == "__main__":
    main()
