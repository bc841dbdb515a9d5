"""Encryption at rest, what it costs: upload, playback Range reads and transcription, with and without a
master key, side by side in one table.

    python bench/encryption.py [--minutes 20] [--uploads 3] [--reads 200] [--speech-seconds 60]
                               [--transcriptions 3]

Starts two real `dit serve` services (a fresh data directory each, the local storage folder), one with
DIT_ENCRYPTION_KEY_FILE set, and for each, one service at a time:

1. uploads a `--minutes` WAV (16 kHz mono noise: what is timed is moving and sealing bytes) `--uploads`
   times, as the demo trainee, timing each whole request (receive, probe, seal, store, commit);
2. reads `--reads` random 256 KiB ranges of it as a player seeking does, and the whole file once;
3. deletes those uploads (their jobs end unrun), starts a `dit worker` beside the service (none ran until
   then: recognising the noise would take the CPU from what is timed), and transcribes `--speech-seconds`
   of real speech, timed from upload until the transcript is ready, after one warm-up job that loads the
   models, `--transcriptions` times (the median is shown: recognition's time varies by more than the
   opening costs, which is milliseconds; the worker opens a sealed original in its scratch directory).

The target is under 10% slower with the key. Plain files on the local backend are sent with sendfile;
sealed ones are opened in the web process, 64 KiB chunks at a time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from signin import demo_password, start_service

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.security.keyring import generate_file  # noqa: E402
from speechfixtures.mixes import varied_speech  # noqa: E402

CONSENT = {"consent_confirmed": "true", "consent_date": "2026-01-05"}
RANGE = 256 * 1024


def noise_wav(path: Path, minutes: float) -> Path:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"anoisesrc=r=16000:a=0.05:d={minutes * 60}", "-ac", "1", str(path)], check=True)
    return path


def upload(client: httpx.Client, case_id: int, number: int, path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open("rb") as fh:
        answer = client.post(f"/api/cases/{case_id}/sessions/{number}/recording", data=CONSENT,
                             files={"file": (path.name, fh, "audio/wav")})
    answer.raise_for_status()
    return time.perf_counter() - started, answer.json()["id"]


def transcribed(client: httpx.Client, case_id: int, number: int, path: Path) -> float:
    took, recording_id = upload(client, case_id, number, path)
    started = time.perf_counter() - took
    while (status := client.get(f"/api/recordings/{recording_id}").json()["status"]) not in ("done", "failed"):
        time.sleep(0.1)
    if status != "done":
        raise SystemExit(f"transcription failed: {client.get(f'/api/recordings/{recording_id}').json()['error']}")
    return time.perf_counter() - started


def start_worker(data_dir: Path, variables: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "DIT_DATA_DIR": str(data_dir), **variables}
    env.pop("DIT_DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "server.cli", "worker", "--log-level", "warning"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(url: str, token: str, args: argparse.Namespace, noise: Path, speech: Path,
            worker: Callable[[], subprocess.Popen]) -> dict[str, float]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
        case_id = client.get("/api/cases").json()["cases"][0]["id"]
        uploads = [upload(client, case_id, number, noise) for number in range(1, args.uploads + 1)]
        recording_id = uploads[-1][1]
        size = noise.stat().st_size
        rng = random.Random(7)
        latencies = []
        for _ in range(args.reads):
            start = rng.randrange(0, size - RANGE)
            began = time.perf_counter()
            part = client.get(f"/api/recordings/{recording_id}/media",
                              headers={"Range": f"bytes={start}-{start + RANGE - 1}"})
            latencies.append(time.perf_counter() - began)
            assert part.status_code == 206 and len(part.content) == RANGE
        began = time.perf_counter()
        assert len(client.get(f"/api/recordings/{recording_id}/media").content) == size
        whole = time.perf_counter() - began
        for _, uploaded in uploads:
            client.request("DELETE", f"/api/recordings/{uploaded}", json={}).raise_for_status()
        process = worker()
        try:
            transcribed(client, case_id, 16 - args.transcriptions - 1, speech)  # loads the models
            transcription = statistics.median(transcribed(client, case_id, number, speech)
                                              for number in range(16 - args.transcriptions, 16))
        finally:
            process.terminate()
            process.wait(30)
        return {
            "upload (s, median)": statistics.median(took for took, _ in uploads),
            "range read p50 (ms)": 1000 * statistics.median(latencies),
            "range read p95 (ms)": 1000 * statistics.quantiles(latencies, n=20)[-1],
            "whole file (MB/s)": size / whole / 1e6,
            "transcription (s)": transcription,
        }


def table(results: dict[str, dict[str, float]], args: argparse.Namespace, size: int) -> str:
    clear, sealed = results["clear"], results["sealed"]
    lines = [f"{args.minutes:g} min WAV ({size / 1e6:.1f} MB) x {args.uploads} uploads, {args.reads} reads of "
             f"{RANGE // 1024} KiB, {args.speech_seconds:g} s of speech x {args.transcriptions}", "",
             f"| {'':<22} | {'in the clear':>12} | {'encrypted':>10} | {'slower by':>9} |",
             f"|{'-' * 24}|{'-' * 14}|{'-' * 12}|{'-' * 11}|"]
    for name in clear:
        # Throughput: higher is better; the rest are times.
        change = clear[name] / sealed[name] - 1 if "MB/s" in name else sealed[name] / clear[name] - 1
        lines.append(f"| {name:<22} | {clear[name]:>12.3f} | {sealed[name]:>10.3f} | {change:>+9.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--uploads", type=int, default=3)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--speech-seconds", type=float, default=60)
    parser.add_argument("--transcriptions", type=int, default=3, choices=range(1, 10))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        noise = noise_wav(scratch / "noise.wav", args.minutes)
        speech, _ = varied_speech(scratch / "speech.wav", args.speech_seconds)
        key_file = scratch / "keys" / "master.key"
        key_file.parent.mkdir(mode=0o700)
        generate_file(key_file)
        results = {}
        for mode, variables in (("clear", {}), ("sealed", {"DIT_ENCRYPTION_KEY_FILE": str(key_file)})):
            data_dir = scratch / mode / "data"
            data_dir.parent.mkdir()
            variables = {**variables, "DIT_IN_PROCESS_WORKER": "0"}
            process, url = start_service(data_dir, **variables)
            try:
                token = httpx.post(f"{url}/api/token", json={"username": "trainee",
                                                             "password": demo_password(data_dir, "trainee")})
                results[mode] = measure(url, token.json()["token"], args, noise, speech,
                                        lambda: start_worker(data_dir, variables))
            finally:
                process.terminate()
                process.wait(30)
        print(table(results, args, noise.stat().st_size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
