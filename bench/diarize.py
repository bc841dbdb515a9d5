"""Speaker diarisation and roles beside transcription on a 10-minute two-voice dialogue, as one table.

    python bench/diarize.py [--minutes 10] [--threads N]

The dialogue is a scripted therapy session between two espeak-ng voices (speechfixtures/
long_script.py), so who speaks when is known to the sample: that gives the diarisation error rate
(with the usual 0.25 s collar, and without one) and role accuracy (the share of transcribed words
given the role of the line they were said in). It is made twice from the same lines: mono, which
is diarised by voice, and stereo with one voice per channel (AAC), which is diarised by channel;
the two share a timeline, so the mono transcript serves both. A second table scores the real two-person
recordings with published reference turns (speechfixtures.recorded: a telephone call, two meeting
excerpts): the error of the turns, of the transcript's lines, and of the lines joined into turns as a
rater reads them (a line ends at a pause and cannot overlap another), and its parts.

Each stage runs in a process of its own, so that its peak memory is its own; a model's load is
timed apart from its work. The diarisation time covers everything `label_speakers` does after the
transcript exists: decoding the audio, voice activity detection, speaker embeddings, clustering,
splitting segments at changes of speaker, voice prints, roles and the quality gates.
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

from bench.tables import table
from speechfixtures.dialogue import Line, mono_dialogue, stereo_dialogue
from speechfixtures.long_script import long_script
from speechfixtures.recorded import conversation, meetings
from speechfixtures.scoring import reference, role_accuracy
from transcription.diarize import diarisation_error
from transcription.diarize.error_rate import joined_lines
from transcription.transcript import Transcript

GAP = 0.3  # seconds between lines: brisk turn-taking


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_transcription(audio: str, out: str) -> dict:
    from transcription.engines import load_engine

    started = time.perf_counter()
    engine = load_engine(device="cpu")
    loaded = time.perf_counter()
    transcript = engine.transcribe(audio)
    done = time.perf_counter()
    Path(out).write_text(json.dumps(transcript.to_dict()))
    return {"load": loaded - started, "work": done - loaded, "peak_rss_mib": peak_rss_mib()}


def measure_diarisation(audio: str, transcript_json: str, out: str, threads: int | None) -> dict:
    from transcription.diarize import load_encoder
    from transcription.roles import label_speakers

    transcript = Transcript.from_dict(json.loads(Path(transcript_json).read_text()))
    started = time.perf_counter()
    encoder = load_encoder(threads=threads)
    loaded = time.perf_counter()
    labelling = label_speakers(audio, transcript, encoder=encoder)
    done = time.perf_counter()
    Path(out).write_text(json.dumps({
        "transcript": labelling.transcript.to_dict(),
        "turns": [[t.start, t.end, t.speaker] for t in labelling.diarisation.turns],
        "method": labelling.diarisation.method,
        "separation": labelling.diarisation.separation,
        "roles": labelling.roles.to_dict(),
        "gates": [g.to_dict() for g in labelling.gates],
    }))
    return {"load": loaded - started, "work": done - loaded, "peak_rss_mib": peak_rss_mib()}


def run_stage(*args: str) -> dict:
    child = subprocess.run([sys.executable, __file__, "--measure", *args], capture_output=True, text=True, check=True)
    return json.loads(child.stdout.splitlines()[-1])



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the speaker encoder")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        stage, *rest = args.measure
        if stage == "transcribe":
            print(json.dumps(measure_transcription(*rest)))
        else:
            audio, transcript_json, out, threads = rest
            print(json.dumps(measure_diarisation(audio, transcript_json, out, int(threads) or None)))
        return

    with tempfile.TemporaryDirectory(prefix="dit-bench-") as scratch:
        folder = Path(scratch)
        script = long_script(args.minutes * 60)
        started = time.perf_counter()
        mono, stereo = folder / "dialogue.wav", folder / "dialogue.m4a"
        lines: list[Line] = mono_dialogue(mono, script, gap=GAP)
        stereo_dialogue(stereo, script, gap=GAP)
        made = time.perf_counter() - started
        seconds = lines[-1].end + GAP
        transcript_json = folder / "transcript.json"
        transcription = run_stage("transcribe", str(mono), str(transcript_json))
        rows = [["transcription", "faster-whisper tiny.en int8", f"{transcription['load']:.1f}",
                 f"{transcription['work']:.1f}", f"{transcription['work'] / seconds:.3f}",
                 f"{transcription['peak_rss_mib']:.0f}", "", "", "", ""]]
        for audio, kind in ((mono, "mono"), (stereo, "stereo")):
            out = folder / f"labelled-{kind}.json"
            result = run_stage("diarise", str(audio), str(transcript_json), str(out), str(args.threads or 0))
            data = json.loads(out.read_text())
            hypothesis = [tuple(turn) for turn in data["turns"]]
            collared = diarisation_error(reference(lines), hypothesis).rate
            bare = diarisation_error(reference(lines), hypothesis, collar=0).rate
            accuracy = role_accuracy(Transcript.from_dict(data["transcript"]), lines)
            rows.append([f"diarisation + roles, {kind}", f"by {data['method']}", f"{result['load']:.1f}",
                         f"{result['work']:.1f}", f"{result['work'] / seconds:.3f}", f"{result['peak_rss_mib']:.0f}",
                         f"{collared:.3f}", f"{bare:.3f}", f"{accuracy:.3f}",
                         f"{data['roles']['confidence']:.3f}" if data["roles"]["confidence"] is not None else "-"])
            failed = [g["reason"] for g in data["gates"] if not g["passed"]]
            if failed:
                print(f"{kind}: quality gates failed: {' '.join(failed)}")

    import torch

    therapist = sum(line.end - line.start for line in lines if line.role == "therapist")
    speech = sum(line.end - line.start for line in lines)
    threads = args.threads or torch.get_num_threads()
    print(f"{seconds / 60:.1f} min two-voice espeak-ng dialogue ({int(seconds)} s, {len(lines)} lines, "
          f"therapist {therapist / speech:.0%} of speech; made in {made:.0f} s). CPU only: {os.cpu_count()} cores, "
          f"torch {torch.__version__} with {threads} thread{'s' if threads != 1 else ''} for the speaker encoder.")
    header = ["stage", "how", "load s", "run s", "RTF", "peak RSS MiB", "DER", "DER no collar", "role acc",
              "role conf"]
    print(table(header, rows))
    print()
    print(real_recordings())


def real_recordings() -> str:
    """Turns and lines of the real recordings against their references (0.25 s collar, overlap counted)."""
    from transcription.diarize import assign_speakers, diarise, load_encoder
    from transcription.engines import load_engine
    from transcription.media import load_channels

    encoder, engine = load_encoder(), load_engine(device="cpu")
    rows = []
    for path, reference_turns in [conversation(), *meetings()]:
        found = diarise(load_channels(path), 2, encoder)
        lines = assign_speakers(engine.transcribe(path), found.turns).segments
        spoken = [(s.start, s.end, s.speaker) for s in lines if s.end > s.start]
        for scored, hypothesis in (("turns", [(t.start, t.end, t.speaker) for t in found.turns]),
                                   ("lines", spoken), ("lines joined", joined_lines(spoken))):
            error = diarisation_error(reference_turns, hypothesis, collar=0.25)
            rows.append([path.parent.name + "/" + path.name, scored, f"{error.total:.1f}", f"{error.rate:.3f}",
                         f"{error.missed:.2f}", f"{error.false_alarm:.2f}", f"{error.confusion:.2f}"])
    return table(["recording", "scored", "speech s", "DER", "missed s", "false alarm s", "confusion s"], rows)


if __name__ == "__main__":
    main()
