"""Diagrams and transition tables generated from the machine declarations (mermaid, Graphviz dot,
markdown).

Each machine's ``TRANSITIONS`` rows are the only input: an arrow per (source, row), labelled the
way RFC 9293 Figure 5 labels its arrows, ``event [guards] / actions``. The *figure* view keeps the
rows declared with ``figure=True`` that change state (for TCP: RFC 9293 Figure 5, plus FIN+ACK in
FIN-WAIT-1); the *full* view adds the abnormal arrows (RST, abort, timeouts) and draws internal rows
as self-loops. Text only: no I/O here (``netstack diagram`` renders svg with Graphviz, and
``python -m netstack.presentation.machine_docs`` writes docs/machines.md).

Why our own writer rather than `transitions`' GraphMachine: its mermaid writer labels states by
their Python names (``SYN_RECEIVED``, not the RFC's ``SYN-RECEIVED``), draws every internal row, and
its dot writer needs the ``graphviz`` pip package; the arrows here are the same rows the Machine is
built from.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Iterable, Mapping, NamedTuple

from netstack.machines import arp_neighbour, congestion, tcp_connection
from netstack.machines.table import expand_rows


class Declaration(NamedTuple):
    """A declared machine, as the diagram and docs writers need it."""

    key: str  # CLI name: tcp, cc, arp
    title: str
    source: str  # the module that declares it
    states: type[Enum]
    initial: Enum
    rows: list[Mapping[str, Any]]


DECLARATIONS: dict[str, Declaration] = {
    "tcp": Declaration("tcp", "TCP connection (RFC 9293 §3.3.2 Figure 5)", "netstack.machines.tcp_connection",
                       tcp_connection.TcpState, tcp_connection.TcpState.CLOSED, tcp_connection.TRANSITIONS),
    "cc": Declaration("cc", "Congestion control phases (RFC 5681, RFC 6582, RFC 6298 §5)",
                      "netstack.machines.congestion", congestion.CongestionPhase,
                      congestion.CongestionPhase.SLOW_START, congestion.TRANSITIONS),
    "arp": Declaration("arp", "ARP neighbour entry (RFC 4861 §7.3.2 on RFC 826)", "netstack.machines.arp_neighbour",
                       arp_neighbour.NeighbourState, arp_neighbour.NeighbourState.NONE, arp_neighbour.TRANSITIONS),
}

VIEWS = ("figure", "full")


class Arrow(NamedTuple):
    source: Enum
    dest: Enum  # the source itself for an internal row
    trigger: str
    guard: str  # "" or "a, not b"
    actions: tuple[str, ...]
    rfc: str
    internal: bool


def guard_text(row: Mapping[str, Any]) -> str:
    """``a, not b`` for conditions a and unless b; empty when the row has no guard."""
    return ", ".join([*row.get("conditions", ()), *(f"not {name}" for name in row.get("unless", ()))])


def arrows(declaration: Declaration, view: str = "full") -> list[Arrow]:
    """The arrows of a view, in declaration order."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    result = []
    for source, row in expand_rows(declaration.rows):
        internal = row["dest"] is None
        if view == "figure" and (internal or not row.get("figure", True)):
            continue
        result.append(Arrow(source, source if internal else row["dest"], str(row["trigger"]), guard_text(row),
                            tuple(row.get("after", ())), row["rfc"], internal))
    return result


def arrow_label(arrow: Arrow) -> str:
    label = arrow.trigger
    if arrow.guard:
        label += f" [{arrow.guard}]"
    if arrow.actions:
        label += " / " + ", ".join(arrow.actions)
    return label


def _node_id(state: Enum) -> str:
    return state.name


def _states_in(declaration: Declaration, view_arrows: Iterable[Arrow]) -> list[Enum]:
    used = {declaration.initial}
    for arrow in view_arrows:
        used.update((arrow.source, arrow.dest))
    return [state for state in declaration.states if state in used]


def mermaid(declaration: Declaration, view: str = "figure") -> str:
    """A mermaid ``stateDiagram-v2``: states labelled with their RFC spelling, one line per arrow."""
    view_arrows = arrows(declaration, view)
    lines = ["stateDiagram-v2"]
    for state in _states_in(declaration, view_arrows):
        lines.append(f'    state "{state.value}" as {_node_id(state)}')
    lines.append(f"    [*] --> {_node_id(declaration.initial)}")
    for arrow in view_arrows:
        lines.append(f"    {_node_id(arrow.source)} --> {_node_id(arrow.dest)}: {arrow_label(arrow)}")
    return "\n".join(lines) + "\n"


def transitions_mermaid(declaration: Declaration, view: str = "figure") -> str:
    """The same view drawn by `transitions`' own ``GraphMachine(graph_engine="mermaid")``.

    Built from the same rows, for readers who want transitions' styling (current-state classes);
    its states carry Python names (``SYN_SENT``) and its arrows no actions.
    """
    from transitions.extensions import GraphMachine

    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    rows = [
        {key: value for key, value in row.items() if key not in ("rfc", "figure")}
        for row in declaration.rows
        if view == "full" or (row.get("figure", True) and row["dest"] is not None)
    ]
    machine = GraphMachine(states=declaration.states, transitions=rows, initial=declaration.initial,
                           auto_transitions=False, graph_engine="mermaid", show_conditions=True,
                           title=declaration.title)
    return machine.get_graph().source + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(declaration: Declaration, view: str = "figure") -> str:
    """Graphviz dot text; arrows between the same two states share one edge with one label per line."""
    view_arrows = arrows(declaration, view)
    lines = [
        f"digraph {declaration.key} {{",
        f"    label={_dot_quote(declaration.title)};",
        "    labelloc=t;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        "    start [shape=point];",
    ]
    for state in _states_in(declaration, view_arrows):
        lines.append(f"    {_node_id(state)} [label={_dot_quote(state.value)}];")
    lines.append(f"    start -> {_node_id(declaration.initial)};")
    grouped: dict[tuple[Enum, Enum], list[str]] = {}
    for arrow in view_arrows:
        grouped.setdefault((arrow.source, arrow.dest), []).append(arrow_label(arrow))
    for (source, dest), labels in grouped.items():
        label = "\\n".join(label.replace("\\", "\\\\").replace('"', '\\"') for label in labels)
        lines.append(f'    {_node_id(source)} -> {_node_id(dest)} [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def markdown_table(declaration: Declaration) -> str:
    """Every arrow (full view): from, event, guard, to, actions, RFC section."""
    lines = ["| from | event | guard | to | actions | RFC |", "|---|---|---|---|---|---|"]
    for arrow in arrows(declaration, "full"):
        to = "(stays)" if arrow.internal else arrow.dest.value
        lines.append(
            f"| {arrow.source.value} | `{arrow.trigger}` | {arrow.guard and f'`{arrow.guard}`'} | {to} "
            f"| {', '.join(f'`{a}`' for a in arrow.actions)} | RFC {arrow.rfc} |"
        )
    return "\n".join(lines) + "\n"
