"""The `dit` command: serve, worker, migrate, users, transcribe, models and the rest.

Each module adds its commands to the parser and imports what a command needs only when it runs: every
`dit` starts in a fraction of a second, whatever the heavy libraries its other commands use.
"""

from __future__ import annotations

import argparse

from server.cli import accounts, keys, service, tools


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dit", description="DIT supervision and adherence-rating platform.")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (service, accounts, keys, tools):
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
