"""The S3 server for the tests: the one DIT_TEST_S3_URL and the AWS_* variables name, or SeaweedFS's
`weed mini` that `scripts/services` runs (started when it is not running, and stopped at the end by the
run that started it). Shared by the storage tests and the cluster test through conftest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.config import S3_VARIABLES
from tests.postgres import ROOT


def services(action: str) -> subprocess.CompletedProcess:
    # `weed` is found beside this interpreter when the checkout has no .venv of its own (a worktree).
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(ROOT / "scripts" / "services"), action, "s3"], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """The S3 server's variables (as `scripts/services up s3` prints them): the one DIT_TEST_S3_URL and
    the AWS_* variables name, or the throwaway one, started here when it is not running and then
    stopped at the end."""
    if os.environ.get("DIT_TEST_S3_URL"):
        yield {name: os.environ[name] for name in (*S3_VARIABLES, "DIT_TEST_S3_URL") if name in os.environ}
        return
    status = services("status")
    started = status.returncode != 0
    answer = services("up") if started else status
    assert answer.returncode == 0, f"scripts/services up s3 failed:\n{answer.stderr}"
    try:
        yield dict(re.findall(r"^export (\w+)=(\S+)$", answer.stdout, re.MULTILINE))
    finally:
        if started:
            services("down")
