"""The `dit` command, run as a user would run it."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from speechfixtures.recorded import jfk_wav


def dit(*args: str, data_dir, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIT_DATA_DIR": str(data_dir)}
    env.pop("DIT_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "server.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_users_add_list_and_supervise(tmp_path):
    added = dit("users", "add", "--role", "supervisor", "--name", "sue", "--full-name", "Sue Smith",
                "--accredited-on", "2026-01-15", data_dir=tmp_path, stdin="violet canal orbit lantern\n")
    assert added.returncode == 0, added.stderr
    assert dit("users", "add", "--role", "trainee", "--name", "tia", "--supervisor", "sue", "--cohort", "2026 spring",
               data_dir=tmp_path, stdin="quiet meadow ferry copper\n").returncode == 0
    short = dit("users", "add", "--role", "admin", "--name", "ad", data_dir=tmp_path, stdin="short\n")
    assert short.returncode != 0 and "at least 12 characters" in short.stderr
    common = dit("users", "add", "--role", "admin", "--name", "ad", data_dir=tmp_path, stdin="password1234\n")
    assert common.returncode != 0 and "ad" not in dit("users", "list", data_dir=tmp_path).stdout.split()
    again = dit("users", "add", "--role", "admin", "--name", "sue", data_dir=tmp_path, stdin="violet canal orbit lantern\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    listing = dit("users", "list", data_dir=tmp_path).stdout
    assert "supervisor   sue" in listing and "accredited 2026-01-15" in listing
    assert "tia" in listing and "cohort 2026 spring supervised by sue" in listing
    unknown = dit("users", "add", "--role", "trainee", "--name", "tom", "--supervisor", "nobody",
                  data_dir=tmp_path, stdin="quiet meadow ferry copper\n")
    assert unknown.returncode == 1 and "tom" not in dit("users", "list", data_dir=tmp_path).stdout
    assert "ad " not in listing
    # What the commands did is on the audit trail, as the operating-system user who ran them; the trail holds.
    with sqlite3.connect(tmp_path / "dit.sqlite3") as db:
        rows = db.execute("SELECT username, action, route FROM audit_event ORDER BY id").fetchall()
    assert rows[:2] == [(f"cli:{getpass.getuser()}", "create", "dit users add")] * 2
    assert (f"cli:{getpass.getuser()}", "view", "dit users list") in rows
    verified = dit("audit", "verify", data_dir=tmp_path)
    assert verified.returncode == 0 and f"holds: {len(rows)} rows" in verified.stdout


@pytest.mark.slow
def test_transcribe_prints_each_format(tmp_path):
    result = dit("transcribe", str(jfk_wav()), "--format", "json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    transcript = json.loads(result.stdout)
    assert transcript["engine"] == "faster-whisper" and transcript["model"] == "tiny.en"
    assert transcript["duration"] == pytest.approx(11.0, abs=0.1)
    assert "country" in " ".join(s["text"] for s in transcript["segments"]).lower()
    assert "100%" in result.stderr  # the progress bar finished
    vtt = dit("transcribe", str(jfk_wav()), "--format", "vtt", "-o", str(tmp_path / "out.vtt"), "-q", data_dir=tmp_path)
    assert vtt.returncode == 0 and (tmp_path / "out.vtt").read_text().startswith("WEBVTT")
    labelled = dit("transcribe", str(jfk_wav()), "--format", "txt", "--speakers", "-q", data_dir=tmp_path)
    assert labelled.returncode == 0, labelled.stderr
    lines = labelled.stdout.splitlines()
    assert lines and all(line.split("] ", 1)[1][:3] in ("T: ", "P: ") for line in lines)
    assert "The recording is only 0:11 long" in labelled.stderr  # a failed quality gate
    not_media = tmp_path / "notes.mp3"
    not_media.write_text("hello")
    refused = dit("transcribe", str(not_media), data_dir=tmp_path)
    assert refused.returncode == 2 and "not a recognisable audio or video recording" in refused.stderr


def test_agreement_reads_long_format_ratings_and_prints_json(tmp_path):
    # Shrout & Fleiss (1979): six targets rated by four judges, one item.
    data = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    rows = ["recording,item,rater,score"] + [
        f"t{t},overall,j{j},{score}" for t, scores in enumerate(data) for j, score in enumerate(scores)]
    csv_file = tmp_path / "ratings.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    result = dit("agreement", str(csv_file), "--level", "interval", "--bootstrap", "200", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    published = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}
    for form, value in published.items():
        assert report[form]["value"] == pytest.approx(value, abs=0.005), form
        assert len(report[form]["ci95"]) == 2
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert f"alpha_{level}" in report
    assert (report["n_recordings"], report["n_raters"]) == (6, 4)
    assert "overall" in report["items"]

    # An item every rater scored the same on every recording has no ICC: null, not a crash.
    uniform = tmp_path / "uniform.csv"
    uniform.write_text("recording,item,rater,score\n" + "".join(
        f"r{r},same,j{j},3\n" for r in range(4) for j in range(3)))
    flat = dit("agreement", str(uniform), "--bootstrap", "50", data_dir=tmp_path)
    assert flat.returncode == 0, flat.stderr
    assert json.loads(flat.stdout)["ICC2"]["reading"] is None

    broken = tmp_path / "broken.csv"
    broken.write_text("recording,rater,score\n1,a,3\n")
    refused = dit("agreement", str(broken), data_dir=tmp_path)
    assert refused.returncode == 2 and "item" in refused.stderr
