"""``--trace`` and ``--trace-format`` for the commands that run a stack (demo, up, ping, get).

Not a command itself (``netstack.cli.COMMANDS`` does not list it): the flags and their effect, shared.
"""

from __future__ import annotations

import sys


def add_trace_arguments(parser) -> None:
    parser.add_argument("--trace", action="store_true",
                        help="print the stack's trace events on stderr: time order, relative sequence "
                             "numbers, the RFC rule behind each decision")
    parser.add_argument("--trace-format", choices=("text", "json"), default=None,
                        help="text (coloured on a terminal, NO_COLOR respected) or JSON lines; implies --trace")
    parser.add_argument("--trace-connection", metavar="[IP:]PORT", default=None,
                        help="trace only the connections with this endpoint; implies --trace")


def start_trace(args, stream=None):
    """Install the trace view the flags ask for; returns it, or None when tracing is off."""
    from netstack.presentation.trace_view import enable_trace

    connection = getattr(args, "trace_connection", None)
    if not (getattr(args, "trace", False) or getattr(args, "trace_format", None) or connection):
        return None
    return enable_trace(stream if stream is not None else sys.stderr, format=args.trace_format or "text",
                        connection=connection)
