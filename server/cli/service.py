"""`dit serve`, `dit worker`, `dit migrate`, `dit storage sweep` and `dit audit verify`: running the service,
and the helpers every command that opens the database uses."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from dataclasses import replace

from server.config import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    processes = settings.web_concurrency
    if processes > 1 and settings.in_process_worker:
        # Each web process would load its own Whisper model and take jobs: workers belong in `dit worker`s.
        raise SystemExit(f"WEB_CONCURRENCY={processes} runs {processes} web processes, and each would start a "
                         "transcription worker: set DIT_IN_PROCESS_WORKER=0 and run `dit worker` beside them.")
    import uvicorn

    from server.security.keyring import KeyringError
    from server.services.encryption import check_keyring
    from server.web.app import create_app
    from server.web.metrics import multiprocess_directory

    # Forwarded headers are believed from the configured proxies only; without any, from no one.
    proxies = ({"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}
               if settings.trusted_proxies else {"proxy_headers": False})
    try:
        check_keyring(settings)
    except KeyringError as exc:
        print(exc, file=sys.stderr)
        return 2
    options = {"host": settings.host, "port": settings.port, "log_level": args.log_level, "server_header": False,
               **proxies}
    if processes == 1:
        uvicorn.run(create_app(settings), **options)
        return 0
    # uvicorn starts each process from the factory, which reads the same environment; their HTTP metrics are
    # added up through PROMETHEUS_MULTIPROC_DIR.
    with multiprocess_directory():
        uvicorn.run("server.web.app:create_app", factory=True, workers=processes, **options)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from server.jobs import run_worker

    settings = Settings.from_env().prepare()

    async def work() -> int:
        from server.services.encryption import check_keyring
        from server.services.reminders import keep_reminding
        from server.services.storage_sweep import keep_swept

        check_keyring(settings)
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(run_worker(settings, asyncio.Event()))
        # What a crash left half-written (this machine's scratch directories, orphaned objects), swept
        # now and every ten minutes for as long as the worker runs.
        sweeper = asyncio.create_task(keep_swept(settings, asyncio.Event()))
        reminder = asyncio.create_task(keep_reminding(settings, asyncio.Event()))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sweeper.cancel()
        reminder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        return 0

    configure_logging(args.log_level)
    return with_database(work)


def configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def with_database(work) -> int:
    """Run `work()` (a coroutine function) with the database open; its result is the exit status. A
    refusal from a service (no such supervisor, a name already taken) is printed, with status 1."""
    from server.db import MigrationFailed, database
    from server.errors import DomainError
    from server.security.keyring import KeyringError

    settings = Settings.from_env().prepare()

    async def main():
        async with database(settings):
            return await work()

    try:
        return asyncio.run(main())
    except (MigrationFailed, KeyringError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except DomainError as exc:
        print(exc.detail, file=sys.stderr)
        return 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from tortoise.connection import get_connection
    from tortoise.migrations.executor import MigrationExecutor

    from server.db import APPS

    async def report() -> int:
        applied = await MigrationExecutor(get_connection("default"), APPS).recorder.applied_migrations()
        print(f"The database is up to date ({len(applied)} migrations applied, the last {applied[-1].name}).")
        return 0

    return with_database(report)


def cmd_storage_sweep(args: argparse.Namespace) -> int:
    from server.services.storage_sweep import sweep

    async def run() -> int:
        print(f"Storage sweep: {await sweep(Settings.from_env())}.")
        return 0

    configure_logging(args.log_level)
    return with_database(run)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from server.audit_trail import verify

    async def check() -> int:
        count, broken = await verify()
        if broken is None:
            print(f"The audit trail holds: {count} rows, each chained to the one before.")
            return 0
        print(f"The audit trail is broken at row {broken.event_id}: {broken.reason}. "
              f"The {count} rows before it hold.", file=sys.stderr)
        return 1

    return with_database(check)


def cmd_retention_run(args: argparse.Namespace) -> int:
    from server.services.retention import run

    async def apply() -> int:
        removals = await run(Settings.from_env().prepare(), dry_run=args.dry_run)
        verb = "Would delete" if args.dry_run else "Deleted"
        for removal in removals:
            print(f"{verb} {removal.line()}")
        print(f"{verb} {len(removals)} item{'s' if len(removals) != 1 else ''}.")
        return 0

    configure_logging(args.log_level)
    return with_database(apply)


def add_commands(commands) -> None:
    serve = commands.add_parser("serve", help="run the web service (WEB_CONCURRENCY processes) with its in-process "
                                "transcription worker (unless DIT_IN_PROCESS_WORKER=0)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="run a transcription worker alone")
    worker.add_argument("--log-level", default="info")
    worker.set_defaults(func=cmd_worker)

    storage = commands.add_parser("storage", help="recordings storage").add_subparsers(dest="storage_command",
                                                                                      required=True)
    sweep = storage.add_parser("sweep", help="remove what a crash left half-written: abandoned staging and "
                               "scratch directories, stored objects no recording points to (stored over an hour ago)")
    sweep.add_argument("--log-level", default="warning")
    sweep.set_defaults(func=cmd_storage_sweep)

    commands.add_parser("migrate", help="bring the database up to date (every command does it on opening the database)"
                        ).set_defaults(func=cmd_migrate)

    retention = commands.add_parser("retention", help="the retention schedule").add_subparsers(
        dest="retention_command", required=True)
    retention_run = retention.add_parser("run", help="delete the media and transcripts that are due (as every worker "
                                         "does daily), listing each and why")
    retention_run.add_argument("--dry-run", action="store_true", help="list what is due; delete nothing")
    retention_run.add_argument("--log-level", default="warning")
    retention_run.set_defaults(func=cmd_retention_run)

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="check every row's hash and its link to the row before; report the first "
                     "broken link (exit status 1)").set_defaults(func=cmd_audit_verify)
