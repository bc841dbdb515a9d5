"""Helpers for the tests that drive the real service in Debian's Chromium with Playwright."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# No sandbox (tests run as root in containers); no network chatter; sound muted, but allowed to play.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--mute-audio", "--autoplay-policy=no-user-gesture-required"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def service(tmp_path):
    """`dit serve` on a fresh data directory; yields (url, {username: password}) from what it printed."""
    port = free_port()
    env = {**os.environ, "DIT_DATA_DIR": str(tmp_path / "data"), "PORT": str(port)}
    env.pop("DIT_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    logins, lines = {}, []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if match := re.search(r"user: (\S+)\s+password: (\S+)", line):
            logins[match.group(1)] = match.group(2)
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    else:
        process.kill()
        raise AssertionError("the service did not start:\n" + "".join(lines))
    assert set(logins) == {"admin", "lead", "supervisor", "trainee"}, "".join(lines)
    yield f"http://127.0.0.1:{port}", logins
    process.terminate()
    process.wait(timeout=10)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(re.compile(r"/cases$"))
