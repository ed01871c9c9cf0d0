"""``netstack diagram tcp|cc|arp``: a state machine's diagram, generated from its declaration.

mermaid and dot are text written to stdout; svg runs Graphviz's ``dot -Tsvg`` on the dot text.
``--view figure`` (default) draws the arrows of the RFC's figure, ``--view full`` adds the abnormal
arrows (RST, abort, timeouts) and the rows that answer without changing state.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from netstack.errors import NetstackError

HELP = "print a state machine diagram (tcp, cc, arp) as mermaid, dot or svg"

FORMATS = ("mermaid", "dot", "svg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from netstack.presentation.machine_diagram import DECLARATIONS, VIEWS

    parser.add_argument("machine", choices=sorted(DECLARATIONS), help="tcp connection, congestion control, arp neighbour")
    parser.add_argument("--format", choices=FORMATS, default="mermaid", help="output format (default mermaid)")
    parser.add_argument("--view", choices=VIEWS, default="figure",
                        help="figure: the RFC figure's arrows; full: every row (default figure)")
    parser.add_argument("--renderer", choices=("netstack", "transitions"), default="netstack",
                        help="mermaid writer: netstack's (RFC state names, actions on arrows, default) or "
                             "transitions' GraphMachine")
    parser.add_argument("--output", "-o", help="write to this file instead of stdout")


def render_svg(dot_text: str) -> str:
    """Render dot text to svg with Graphviz; NetstackError when dot is missing or fails."""
    dot_tool = shutil.which("dot")
    if dot_tool is None:
        raise NetstackError("svg needs Graphviz's dot tool (apt-get install graphviz), or use --format dot")
    result = subprocess.run([dot_tool, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise NetstackError(f"dot -Tsvg failed: {result.stderr.strip()}")
    return result.stdout


def run(args: argparse.Namespace) -> int:
    from netstack.presentation.machine_diagram import DECLARATIONS, dot, mermaid, transitions_mermaid

    declaration = DECLARATIONS[args.machine]
    if args.renderer == "transitions" and args.format != "mermaid":
        raise NetstackError("--renderer transitions writes mermaid only (its dot needs the graphviz pip package)")
    if args.format == "mermaid":
        render = transitions_mermaid if args.renderer == "transitions" else mermaid
        text = render(declaration, args.view)
    elif args.format == "dot":
        text = dot(declaration, args.view)
    else:
        text = render_svg(dot(declaration, args.view))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(text)
    else:
        sys.stdout.write(text)
    return 0
