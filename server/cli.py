"""The `dit` command: serve, worker, migrate, users, transcribe, models and the rest."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import signal
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

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

    from server.web.app import create_app
    from server.web.metrics import multiprocess_directory

    # Forwarded headers are believed from the configured proxies only; without any, from no one.
    proxies = ({"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}
               if settings.trusted_proxies else {"proxy_headers": False})
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
        from server.services.storage_sweep import keep_swept

        loop = asyncio.get_running_loop()
        task = asyncio.create_task(run_worker(settings, asyncio.Event()))
        # What a crash left half-written (this machine's scratch directories, orphaned objects), swept
        # now and every ten minutes for as long as the worker runs.
        sweeper = asyncio.create_task(keep_swept(settings, asyncio.Event()))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        return 0

    _configure_logging(args.log_level)
    return _with_database(work)


def _configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _read_password(args: argparse.Namespace) -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise SystemExit("The passwords differ.")
    else:
        password = sys.stdin.readline().rstrip("\n")
    return password


def _with_database(work) -> int:
    """Run `work()` (a coroutine function) with the database open; its result is the exit status. A
    refusal from a service (no such supervisor, a name already taken) is printed, with status 1."""
    from server.db import MigrationFailed, database
    from server.errors import DomainError

    settings = Settings.from_env().prepare()

    async def main():
        async with database(settings):
            return await work()

    try:
        return asyncio.run(main())
    except MigrationFailed as exc:
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

    return _with_database(report)


def cmd_storage_sweep(args: argparse.Namespace) -> int:
    from server.services.storage_sweep import sweep

    async def run() -> int:
        print(f"Storage sweep: {await sweep(Settings.from_env())}.")
        return 0

    _configure_logging(args.log_level)
    return _with_database(run)


def cmd_users_add(args: argparse.Namespace) -> int:
    from server.models import Role
    from server.services.accounts import NewUser, add_user

    role = Role(args.role)
    new = NewUser(username=args.name, name=args.full_name or args.name, role=role, accredited=args.accredited,
                  accredited_on=date.fromisoformat(args.accredited_on) if args.accredited_on else None,
                  supervisor=args.supervisor, cohort=args.cohort)
    password = None if args.link else _read_password(args)

    async def add() -> int:
        user, secret = await add_user(None, new, password)
        print(f"Added {role.label.lower()} '{user.username}'.")
        if secret:
            print(_link_notice(secret))
        return 0

    return _with_database(add)


def _link_notice(secret: str) -> str:
    return (f"One-time set-password link (valid 72 hours), on this service's address: /password/{secret}")


def _on_user(username: str, action) -> int:
    """Run `action(user)` on the account named `username` (a coroutine function)."""
    from server.models import User

    async def run() -> int:
        user = await User.get_or_none(username=username)
        if user is None:
            print(f"No user named '{username}'.", file=sys.stderr)
            return 1
        return await action(user)

    return _with_database(run)


def cmd_users_deactivate(args: argparse.Namespace) -> int:
    from server.services.accounts import deactivate

    async def action(user) -> int:
        await deactivate(None, user)
        print(f"Deactivated '{user.username}': their sessions and tokens have ended.")
        return 0

    return _on_user(args.username, action)


def cmd_users_reset_link(args: argparse.Namespace) -> int:
    from server.services.accounts import password_link

    async def action(user) -> int:
        print(_link_notice(await password_link(None, user)))
        return 0

    return _on_user(args.username, action)


def cmd_users_mfa_reset(args: argparse.Namespace) -> int:
    from server.services.mfa import reset

    async def action(user) -> int:
        await reset(None, user)
        print(f"Multi-factor sign-in is off for '{user.username}'; they set it up again at their next sign-in.")
        return 0

    return _on_user(args.username, action)


def cmd_users_list(args: argparse.Namespace) -> int:
    from server.services.accounts import all_users

    async def listing() -> int:
        for user in await all_users():
            supervisors = ", ".join(s.username for s in user.supervisors)
            extra = f" supervised by {supervisors}" if supervisors else ""
            accredited = f" accredited {user.accredited_on}" if user.accredited else ""
            cohort = f" cohort {user.cohort}" if user.cohort else ""
            print(f"{user.role.value:12} {user.username:16} {user.name}{accredited}{cohort}{extra}")
        return 0

    return _with_database(listing)


def cmd_users_supervise(args: argparse.Namespace) -> int:
    from server.services.accounts import supervise

    async def link() -> int:
        supervisor, trainee = await supervise(args.supervisor, args.trainee)
        print(f"{supervisor.username} now supervises {trainee.username}.")
        return 0

    return _with_database(link)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from transcription import transcribe_file
    from transcription.formats import FORMATS
    from transcription.media import MediaError

    settings = Settings.from_env()
    with tqdm(total=100, unit="%", desc="Transcribing", file=sys.stderr, disable=args.quiet) as bar:

        def progress(fraction: float) -> None:
            bar.update(round(fraction * 100) - bar.n)

        try:
            transcript = transcribe_file(
                args.file,
                engine=args.engine or settings.engine,
                model=args.model or settings.model,
                progress=progress,
                models_dir=settings.models_dir,
            )
        except MediaError as exc:
            bar.close()
            print(f"{args.file}: {exc}", file=sys.stderr)
            return 2
        bar.update(100 - bar.n)
    if args.speakers:
        from transcription.quality import failures
        from transcription.roles import label_speakers

        labelling = label_speakers(args.file, transcript)
        transcript = labelling.transcript
        for gate in failures(labelling.gates):
            print(f"{args.file}: {gate.reason}", file=sys.stderr)
    output = FORMATS[args.format](transcript)
    if args.output:
        Path(args.output).write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return 0


def cmd_models_convert(args: argparse.Namespace) -> int:
    from transcription.convert import convert_ctranslate2_to_openai
    from transcription.engines import bundled_model_dir

    source = bundled_model_dir() if args.source == "bundled" else Path(args.source)
    out = Path(args.output) if args.output else Settings.from_env().prepare().models_dir / "tiny.en.pt"
    path = convert_ctranslate2_to_openai(source, out)
    print(f"Wrote openai-whisper checkpoint {path}")
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    import json

    from rating.agreement import agreement_report, read_ratings_csv

    try:
        ratings = read_ratings_csv(args.ratings)
        report = agreement_report(ratings, level=args.level, n_boot=args.bootstrap)
    except (ValueError, OSError) as exc:
        print(f"{args.ratings}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, allow_nan=False))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    import json

    from rating.classifier import classify_command
    from server.services.suggestions import classifier_dir

    try:
        result = classify_command(Path(args.transcript), Path(args.ipaf), args.phase,
                                  classifier_dir(Settings.from_env().prepare()))
    except (OSError, ValueError, KeyError) as exc:
        print(f"dit classify: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


def _supervisor_examples():
    from server.services.suggestions import supervisor_examples

    return _with_database(supervisor_examples)


def cmd_classifier_train(args: argparse.Namespace) -> int:
    import json

    from rating.classifier import train_command
    from server.services.suggestions import classifier_dir

    examples = _supervisor_examples()
    print(json.dumps(train_command(classifier_dir(Settings.from_env().prepare()), examples), indent=2))
    return 0


def cmd_classifier_evaluate(args: argparse.Namespace) -> int:
    from rating.classifier import evaluate_command

    print(evaluate_command(_supervisor_examples(), n_splits=args.folds))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from rating.agreement import LEVELS
    from rating.phases import Phase
    from server.models import Role
    from transcription.engines import ENGINES
    from transcription.formats import FORMATS

    parser = argparse.ArgumentParser(prog="dit", description="DIT supervision and adherence-rating platform.")
    commands = parser.add_subparsers(dest="command", required=True)

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

    users = commands.add_parser("users", help="manage accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add an account; the password is prompted for, read from stdin, or set by the user through a link (--link)")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--name", required=True, help="the log-in name")
    add.add_argument("--full-name", help="the name shown on pages (default: the log-in name)")
    add.add_argument("--accredited", action="store_true", help="a supervisor accredited to rate DIT tapes")
    add.add_argument("--accredited-on", help="accreditation date, YYYY-MM-DD")
    add.add_argument("--supervisor", help="for a trainee: the supervisor's log-in name")
    add.add_argument("--cohort", help="for a trainee: their training cohort, e.g. '2026 spring'")
    add.add_argument("--link", action="store_true",
                     help="no password: print a one-time link for the user to set their own")
    add.set_defaults(func=cmd_users_add)
    users.add_parser("list", help="list accounts").set_defaults(func=cmd_users_list)
    for name, func, text in (
        ("deactivate", cmd_users_deactivate, "deactivate an account; its sessions and tokens end at once"),
        ("reset-link", cmd_users_reset_link, "print a one-time set-password link for an account"),
        ("mfa-reset", cmd_users_mfa_reset, "turn off an account's multi-factor sign-in (a lost phone)"),
    ):
        command = users.add_parser(name, help=text)
        command.add_argument("username")
        command.set_defaults(func=func)
    supervise = users.add_parser("supervise", help="let a supervisor see a trainee's cases")
    supervise.add_argument("supervisor")
    supervise.add_argument("trainee")
    supervise.set_defaults(func=cmd_users_supervise)

    transcribe = commands.add_parser("transcribe", help="transcribe a recording from the command line")
    transcribe.add_argument("file")
    transcribe.add_argument("--engine", choices=ENGINES)
    transcribe.add_argument("--model", help="a model name, a CTranslate2 directory or an openai-whisper checkpoint")
    transcribe.add_argument("--format", choices=list(FORMATS), default="json")
    transcribe.add_argument("-o", "--output", help="write here instead of standard output")
    transcribe.add_argument("--speakers", action="store_true",
                            help="label therapist and patient turns, and report failed quality gates")
    transcribe.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    transcribe.set_defaults(func=cmd_transcribe)

    agreement = commands.add_parser("agreement", help="inter-rater agreement of long-format ratings")
    agreement.add_argument("ratings", help="CSV with columns recording,item,rater,score (a missing rating is a missing row)")
    agreement.add_argument("--level", choices=list(LEVELS), default="interval",
                           help="the measurement level for the headline Krippendorff's alpha")
    agreement.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for confidence intervals")
    agreement.set_defaults(func=cmd_agreement)

    classify = commands.add_parser("classify", help="suggest whether a session stayed on-model")
    classify.add_argument("transcript", help="transcript JSON (as `dit transcribe --format json` writes)")
    classify.add_argument("--ipaf", required=True, help='IPAF JSON: {"self", "other", "affect", "summary"}')
    classify.add_argument("--phase", choices=[phase.value for phase in Phase])
    classify.set_defaults(func=cmd_classify)

    classifier = commands.add_parser("classifier", help="train and evaluate the on-model classifier").add_subparsers(
        dest="classifier_command", required=True)
    classifier.add_parser("train", help="train on the seed corpus and supervisors' judgements; saves a new model").set_defaults(
        func=cmd_classifier_train)
    evaluate = classifier.add_parser("evaluate", help="grouped cross-validation by case, as a table")
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.set_defaults(func=cmd_classifier_evaluate)

    models = commands.add_parser("models", help="model files").add_subparsers(dest="models_command", required=True)
    convert = models.add_parser("convert", help="turn a CTranslate2 Whisper model into an openai-whisper checkpoint")
    convert.add_argument("source", help="a CTranslate2 model directory, or 'bundled' for the shipped tiny.en")
    convert.add_argument("output", nargs="?", help="checkpoint path (default: DATA_DIR/models/tiny.en.pt)")
    convert.set_defaults(func=cmd_models_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
