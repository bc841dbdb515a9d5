"""Speech recognition in a child process that the worker can kill.

Cancelling `asyncio.to_thread` does not stop faster-whisper (its C++ threads run on, and a process
waiting for them ignores SIGTERM), so recognition runs in a child process: killed when the job is
cancelled, runs out of time, loses its lease, or the worker stops. The child is kept warm between
jobs, with its models loaded (loading costs seconds); a killed child is replaced on the next job, which
pays that loading again. Requests go down a pipe and progress and the result come back up it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from server.config import Settings
from server.models import Recording
from server.services.recordings import working_audio
from transcription.media import MediaError

log = logging.getLogger("dit.jobs")

# Children are forked from a server process that imported this module (and with it the engines) once,
# so a new child starts in a fraction of a second; forking the worker itself would copy its event loop
# and database threads.
CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload([__name__])
# The child reports progress at most this often: each report is a message and a database write.
PROGRESS_SECONDS = 0.5


@dataclass(frozen=True)
class Request:
    settings: Settings
    recording: Recording
    engine: str
    model: str
    # The trainee's voice print from their other recordings, or None (numpy array).
    voiceprint: Any
    # CPU threads for recognition and the speaker encoder (`Settings.recognition_threads`).
    threads: int = 1


class RecognitionFailed(Exception):
    """Recognition did not produce a transcript; the message is for the trainee."""


def readable_failure(exc: BaseException) -> str:
    """A reason a trainee can act on; exception text from the engines never carries transcript text."""
    if isinstance(exc, MediaError):
        return str(exc)
    if isinstance(exc, FileNotFoundError) or type(exc).__name__ == "NotFoundError":  # obstore's, on S3
        return "The audio for this recording is missing from storage; upload it again."
    if isinstance(exc, MemoryError):
        return "The transcription ran out of memory; try a smaller model."
    # Only the type: other errors' text can hold a storage client's whole configuration (obstore's
    # does, credentials' names and endpoints included), a path or a database row.
    return f"Transcription failed ({type(exc).__name__}); retry it, and tell the course team if it fails again."


class Recogniser:
    """The worker's side of one child process: at most one request at a time."""

    def __init__(self) -> None:
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def submit(self, request: Request) -> None:
        if self._process is None or not self._process.is_alive():
            self._start()
        self._connection.send(request)

    def _start(self) -> None:
        self.kill()
        parent_end, child_end = CONTEXT.Pipe()
        self._process = CONTEXT.Process(target=_serve, args=(child_end, os.getpid()), name="dit-recogniser",
                                        daemon=True)
        self._process.start()
        child_end.close()
        self._connection = parent_end

    async def receive(self, timeout: float) -> tuple | None:
        """The child's next message, ("progress", fraction) or ("done", transcript, speakers), or None
        if none came within `timeout` seconds. A failure in the child raises RecognitionFailed."""
        if not self._connection.poll() and not await self._readable(timeout):
            return None
        try:
            message = self._connection.recv()
        except (EOFError, OSError):
            self._process.join(1)
            code = self._process.exitcode
            self.kill()
            raise RecognitionFailed("The transcription process stopped unexpectedly"
                                    f"{f' (exit status {code})' if code is not None else ''}; "
                                    "it may have run out of memory.") from None
        if message[0] == "failed":
            raise RecognitionFailed(message[1])
        return message

    async def _readable(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        fd = self._connection.fileno()
        loop.add_reader(fd, ready.set)
        try:
            await asyncio.wait_for(ready.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)

    def kill(self) -> None:
        """Stop the child at once (SIGKILL: recognition in native threads heeds nothing gentler), and
        reap it."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
            self._process = None


# --- the child ---------------------------------------------------------------------------------------


def _die_with(worker: int) -> None:
    """Kill this process as soon as the worker that started it is gone. A worker killed outright (SIGKILL,
    the kernel's OOM killer) cannot kill its child, and the child's parent is the forkserver, which lives
    on as long as any child does: the child would run on, a whole recognition or diarisation for nobody,
    until it next wrote to the closed pipe. Its scratch directory is left to the storage sweep, as the
    worker's own would be. Needs pidfd_open (Linux 5.3); elsewhere the child stops at its next report."""
    try:
        watched = os.pidfd_open(worker)
    except (AttributeError, OSError):
        return

    def watch() -> None:
        select.select([watched], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="worker watch", daemon=True).start()


def _serve(connection, worker: int) -> None:
    """Answer requests until the worker closes the pipe, keeping loaded models between them."""
    _die_with(worker)
    # Ctrl-C in a terminal reaches the whole process group: the worker decides when its child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engines: dict = {}
    while True:
        try:
            request: Request = connection.recv()
        except (EOFError, OSError):
            return
        try:
            transcript, speakers = _recognise(request, engines, _progress_sender(connection))
        except Exception as exc:
            connection.send(("failed", readable_failure(exc)))
        else:
            connection.send(("done", transcript, speakers))


def _progress_sender(connection):
    last = {"at": 0.0}

    def send(fraction: float) -> None:
        if time.monotonic() - last["at"] >= PROGRESS_SECONDS:
            last["at"] = time.monotonic()
            connection.send(("progress", fraction))

    return send


def _recognise(request: Request, engines: dict, progress):
    from transcription.engines import DecodeOptions, load_engine

    settings = request.settings
    with working_audio(settings, request.recording) as files, ThreadPoolExecutor(1, "dit-speakers") as pool:
        key = (request.engine, request.model, settings.device, settings.models_dir, settings.batch_size,
               request.threads)
        if key not in engines:
            batch = None if settings.batch_size is None else max(settings.batch_size, 0)
            engines[key] = load_engine(request.engine, request.model, device=settings.device,
                                       models_dir=settings.models_dir, options=DecodeOptions(batch_size=batch),
                                       threads=request.threads)
        # Who speaks when needs the audio and not the words: it is worked out on another thread while the
        # words are, so that a second core is not left idle (recognition alone keeps about one busy).
        voices = pool.submit(_find_voices, request, files, engines)
        transcript = engines[key].transcribe(files.audio, progress)
        return _label_speakers(request, transcript, voices)


def _encoder(request: Request, engines: dict):
    from transcription.diarize import load_encoder

    # Half the threads: the speaker encoder runs beside recognition, which has them all, and a small
    # network given more threads than are free runs several times slower (see ResemblyzerEncoder).
    threads = max(1, request.threads // 2)
    key = ("encoder", request.settings.speaker_encoder, threads)
    if key not in engines:
        engines[key] = load_encoder(request.settings.speaker_encoder, threads=threads)
    return engines[key]


def _find_voices(request: Request, files, engines: dict):
    """Diarisation and voice prints, on the original upload so that a stereo recording's channels are seen."""
    from transcription.roles import find_voices

    return find_voices(files.original, encoder=_encoder(request, engines), scratch=files.original.parent)


def _label_speakers(request: Request, transcript, voices: Future):
    """Who is speaking, line by line. A transcript without speakers is still worth having, so a failure
    here is reported with the transcript rather than failing the job."""
    from transcription.roles import CorrectionKind, label_voices

    # Only the swaps of roles: who spoke a stretch is set again when the transcript is saved, in time order
    # with the corrections of its text (server/services/transcript_edits.py).
    swaps = [c for c in request.recording.speaker_corrections if c["kind"] == CorrectionKind.THERAPIST_AT.value]
    try:
        labelling = label_voices(transcript, voices.result(), therapist_voiceprint=request.voiceprint,
                                 corrections=swaps)
    except Exception as exc:
        log.warning("recording %d: speakers not labelled (%s)", request.recording.id, type(exc).__name__)
        return transcript, {"flag": "Who is speaking could not be worked out for this recording."}
    return labelling.transcript, {**labelling.to_dict(), "encoder": request.settings.speaker_encoder}
