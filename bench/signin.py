"""A signed-in user's API reads while others guess passwords, as one table.

    python bench/signin.py [--reads 300] [--guessers 4] [--path /api/me] [--max-seconds 15]

Starts a real `dit serve` (a fresh data directory, the demo accounts, no role needing a second factor),
takes a bearer token for the demo supervisor, and times `GET --path` with it, one request after another:

1. alone;
2. while `--guessers` clients post wrong passwords to `/api/token` as fast as they are answered, each
   guess with a user name of its own so that no account's limit of 5 failures is reached. Every guess
   costs an Argon2 hash (an unknown user is checked against a dummy hash), until
3. all guesses come from 127.0.0.1, so the address limit (20 failures in 15 minutes) is reached within
   seconds: from the first 429 on, guesses are refused after a few database reads, without a hash.

The guessers run in a process of their own, so that their client-side work does not delay the reader's
clock. Phase 2 lasts as long as the first 20-odd hashes (tens of reads: its p99 is nearly its maximum).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
UNAUTHORISED, THROTTLED, OTHER = 0, 1, 2  # indices of the guessers' shared answer counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(data_dir: Path, **variables: str) -> tuple[subprocess.Popen, str]:
    """`dit serve` as the browser tests start it, with `variables` added to its environment; its log goes to a
    file (a pipe nobody reads would fill)."""
    port = free_port()
    env = {**os.environ, "DIT_DATA_DIR": str(data_dir), "PORT": str(port), "DIT_DEMO_ACCOUNTS": "1",
           "DIT_MFA_REQUIRED_ROLES": "", **variables}
    env.pop("DIT_DATABASE_URL", None)
    log = (data_dir.parent / "serve.log").open("w")
    # Warnings only: an access-log line per request would be timed too.
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--log-level", "warning"], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not start:\n" + (data_dir.parent / "serve.log").read_text())


def demo_password(data_dir: Path, username: str) -> str:
    for line in (data_dir / "demo-logins.txt").read_text().splitlines():
        _, name, password = line.split()
        if name == username:
            return password
    raise SystemExit(f"no demo account '{username}'")


# --- the guessers (a process of their own) --------------------------------------------------------


async def guess_until(url: str, guessers: int, started, stop, counts) -> None:
    async def guesser(number: int, client: httpx.AsyncClient) -> None:
        attempt = 0
        while not stop.is_set():
            answer = await client.post("/api/token", json={"username": f"guesser{number}-{attempt}",
                                                           "password": f"guess {attempt}"})
            index = {401: UNAUTHORISED, 429: THROTTLED}.get(answer.status_code, OTHER)
            with counts.get_lock():
                counts[index] += 1
            attempt += 1

    clients = [httpx.AsyncClient(base_url=url, timeout=30) for _ in range(guessers)]
    started.set()
    await asyncio.gather(*(guesser(number, client) for number, client in enumerate(clients)))
    for client in clients:
        await client.aclose()


def guess(url: str, guessers: int, started, stop, counts) -> None:
    asyncio.run(guess_until(url, guessers, started, stop, counts))


# --- the reader ------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    seconds: float
    latencies: list[float]
    unauthorised: int = 0
    throttled: int = 0
    other: int = 0


async def timed_reads(client: httpx.AsyncClient, path: str, until) -> tuple[list[float], float]:
    """Reads one after another while `until(count)` is false; their latencies and the time taken."""
    latencies = []
    began = time.perf_counter()
    while not until(len(latencies)):
        started = time.perf_counter()
        response = await client.get(path)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {response.text}")
    return latencies, time.perf_counter() - began


async def measure(url: str, token: str, args: argparse.Namespace) -> list[Phase]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as reader:
        await timed_reads(reader, args.path, lambda n: n >= 20)  # warm-up: connection, caches
        latencies, seconds = await timed_reads(reader, args.path, lambda n: n >= args.reads)
        phases = [Phase("alone", seconds, latencies)]

        context = multiprocessing.get_context("spawn")
        started, stop = context.Event(), context.Event()
        counts = context.Array("q", 3)
        process = context.Process(target=guess, args=(url, args.guessers, started, stop, counts))
        process.start()
        try:
            started.wait(30)
            limit = time.perf_counter() + args.max_seconds
            latencies, seconds = await timed_reads(
                reader, args.path, lambda n: counts[THROTTLED] > 0 or time.perf_counter() > limit)
            hashed = list(counts)
            phases.append(Phase("guessing: Argon2", seconds, latencies, *hashed))
            limit = time.perf_counter() + args.max_seconds
            latencies, seconds = await timed_reads(
                reader, args.path, lambda n: n >= args.reads or time.perf_counter() > limit)
            phases.append(Phase("guessing: throttled", seconds, latencies,
                                *(total - before for total, before in zip(counts, hashed))))
        finally:
            stop.set()
            process.join(30)
    return phases


def percentile(latencies: list[float], p: int) -> float:
    if len(latencies) < 2:
        return latencies[0] if latencies else float("nan")
    return statistics.quantiles(latencies, n=100, method="inclusive")[p - 1]


def table(phases: list[Phase], path: str) -> str:
    header = (f"{'phase':<20} {'seconds':>7} {'reads':>6} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'guesses 401':>11} {'429':>6} {'other':>5} {'guesses/s':>9}")
    rows = [f"GET {path}, one reader", header, "-" * len(header)]
    for phase in phases:
        guesses = phase.unauthorised + phase.throttled + phase.other
        rows.append(f"{phase.name:<20} {phase.seconds:>7.1f} {len(phase.latencies):>6} "
                    f"{percentile(phase.latencies, 50) * 1000:>7.1f} {percentile(phase.latencies, 99) * 1000:>7.1f} "
                    f"{phase.unauthorised:>11} {phase.throttled:>6} {phase.other:>5} "
                    f"{guesses / phase.seconds if phase.seconds else 0:>9.0f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=300, help="timed reads alone and while throttled (300)")
    parser.add_argument("--guessers", type=int, default=4, help="concurrent password-guessing clients (4)")
    parser.add_argument("--path", default="/api/me", choices=["/api/me", "/api/cases"],
                        help="the authenticated read to time (/api/me)")
    parser.add_argument("--max-seconds", type=float, default=15,
                        help="longest each guessing phase may last (15)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dit-signin-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        process, url = start_service(data_dir)
        try:
            answer = httpx.post(f"{url}/api/token", json={"username": "supervisor",
                                                           "password": demo_password(data_dir, "supervisor")})
            answer.raise_for_status()
            phases = asyncio.run(measure(url, answer.json()["token"], args))
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(table(phases, args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
