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

from tests.seed_model import with_seed_model

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
def service(request, tmp_path):
    """`dit serve` with demo accounts on a fresh data directory; yields (url, {username: password}) from
    the log-ins file it wrote (it prints where the file is, never a password). Multi-factor sign-in is
    left to the tests about it. The on-model classifier is the session's seed model (tests/conftest.py), loaded
    when first asked for, not at start, unless `@pytest.mark.service_env(DIT_WARM_CLASSIFIER="1")`:
    that marker's variables go to the service."""
    port = free_port()
    with_seed_model(request.getfixturevalue("seed_model_dir"), tmp_path / "data")
    marker = request.node.get_closest_marker("service_env")
    env = {**os.environ, "DIT_DATA_DIR": str(tmp_path / "data"), "PORT": str(port), "DIT_DEMO_ACCOUNTS": "1",
           "DIT_MFA_REQUIRED_ROLES": "", "DIT_WARM_CLASSIFIER": "0", **(marker.kwargs if marker else {})}
    env.pop("DIT_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    else:
        process.kill()
        raise AssertionError("the service did not start:\n" + "".join(lines))
    try:
        logins_file = tmp_path / "data" / "demo-logins.txt"
        assert logins_file.stat().st_mode & 0o777 == 0o600
        logins = {username: password for _, username, password in
                  (line.split() for line in logins_file.read_text().splitlines())}
        assert set(logins) == {"admin", "lead", "supervisor", "trainee"}
        assert not any(password in "".join(lines) for password in logins.values()), "a password was printed"
        yield f"http://127.0.0.1:{port}", logins
    finally:
        process.terminate()
        # Graceful: a request still being answered (a suggestion whose classifier is being trained) ends first.
        process.wait(timeout=30)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def accept_confirmations(page) -> list[str]:
    """Say yes to the page's confirmation dialogs (web/static/confirm.js), as a person would who read
    them; the messages asked, to check."""
    asked = []

    def accept(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(re.compile(r"/(cases|worklist|queue)$"))


def upload_on_case_page(page, number: int, path) -> None:
    """Upload a recording for a session from the case page, confirming the patient's consent as a trainee must."""
    row = f"#session-{number}"
    page.set_input_files(f"{row} input[type=file]", str(path))
    page.check(f"{row} input[name=consent_confirmed]")
    page.fill(f"{row} input[name=consent_date]", "2026-01-05")
    page.click(f"{row} button")
