"""The ``netstack`` command: one subcommand per module in ``netstack/commands/`` named in ``COMMANDS``
(a command too long for one module keeps its parts beside it: ``demo_sim``, ``demo_steps``).

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
The CLI holds no logic of its own; it only finds the commands, parses, and turns expected failures
(bad input, missing privilege) into a one-line message and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Order is the order of `netstack --help`.
COMMANDS = ("demo", "up", "ping", "get", "decode", "sniff", "explain", "diagram", "stats", "ss", "plot")


def _load(name: str):
    try:
        return importlib.import_module(f"netstack.commands.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"netstack.commands.{name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netstack", description="A declarative user-space TCP/IP stack."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        if module is None:
            continue
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from netstack.errors import NetstackError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (NetstackError, OSError) as error:
        print(f"netstack {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
