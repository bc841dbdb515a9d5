"""`dit keys`: the master keys of encryption at rest (server/security/keyring.py).

    dit keys generate PATH   a new key file (then set DIT_ENCRYPTION_KEY_FILE=PATH)
    dit keys status          the keys in DIT_ENCRYPTION_KEY_FILE and how many data keys each wraps
    dit keys rotate          a new active key; every data key re-wrapped under it (media is not rewritten)
    dit keys retire          drop the earlier keys from the file, once nothing is wrapped under them

Running services read the key file again when it changes: a rotation needs no restart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.cli.service import with_database
from server.config import Settings


def cmd_generate(args: argparse.Namespace) -> int:
    from server.security.keyring import KeyringError, generate_file

    path = Path(args.path)
    try:
        key = generate_file(path)
    except (KeyringError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Wrote master key {key.id} to {path} (readable by you alone). Keep a copy where the data's backups "
          f"are not: without it nothing encrypted can be read. Set DIT_ENCRYPTION_KEY_FILE={path.resolve()} to "
          "encrypt what is stored from then on.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from server.services.encryption import key_uses

    async def show() -> int:
        uses, clear = await key_uses(Settings.from_env().prepare())
        for use in uses:
            print(f"{use.key_id}  {'active  ' if use.active else 'previous'}  wraps {use.data_keys} data key"
                  f"{'s' if use.data_keys != 1 else ''}")
        print(f"{clear} recording{'s' if clear != 1 else ''} stored in the clear (uploaded before a key was set).")
        return 0

    return with_database(show)


def cmd_rotate(args: argparse.Namespace) -> int:
    from server.services.encryption import rotate

    async def run() -> int:
        key, rewrapped = await rotate(Settings.from_env().prepare())
        print(f"New active master key {key.id}; {rewrapped} data key{'s' if rewrapped != 1 else ''} re-wrapped "
              "under it. The earlier keys stay in the file, for reading only, until `dit keys retire`.")
        return 0

    return with_database(run)


def cmd_retire(args: argparse.Namespace) -> int:
    from server.services.encryption import retire

    async def run() -> int:
        retired = await retire(Settings.from_env().prepare())
        print(f"Retired {', '.join(retired)}: the key file now holds the active key alone." if retired
              else "Nothing to retire: the key file holds the active key alone.")
        return 0

    return with_database(run)


def add_commands(commands) -> None:
    keys = commands.add_parser("keys", help="master keys of encryption at rest").add_subparsers(
        dest="keys_command", required=True)
    generate = keys.add_parser("generate", help="write a new key file (owner-only); never overwrites one")
    generate.add_argument("path")
    generate.set_defaults(func=cmd_generate)
    keys.add_parser("status", help="the keys in DIT_ENCRYPTION_KEY_FILE and how many data keys each wraps"
                    ).set_defaults(func=cmd_status)
    keys.add_parser("rotate", help="add a new active key and re-wrap every data key under it (media is not "
                    "rewritten)").set_defaults(func=cmd_rotate)
    keys.add_parser("retire", help="remove the earlier keys from the key file, re-wrapping what is still under "
                    "them").set_defaults(func=cmd_retire)
