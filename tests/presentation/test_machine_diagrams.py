"""Diagrams generated from the declarations: mermaid text checked line by line against the
stateDiagram-v2 grammar we emit, dot rendered by Graphviz, the CLI command, and docs/machines.md
kept in step with the declarations."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netstack.cli import main
from netstack.presentation import machine_docs as docs
from netstack.presentation.machine_diagram import (
    DECLARATIONS,
    VIEWS,
    arrows,
    dot,
    markdown_table,
    mermaid,
    transitions_mermaid,
)
from netstack.machines.tcp_connection import TcpState

from tests.support.external_tools import require_tool

STATE_LINE = re.compile(r'^    state "(?P<label>[A-Za-z0-9 .-]+)" as (?P<id>[A-Za-z][A-Za-z0-9_]*)$')
START_LINE = re.compile(r"^    \[\*\] --> (?P<id>[A-Za-z][A-Za-z0-9_]*)$")
# Transition text: mermaid ends it at a newline; keep out characters that its lexer treats specially.
ARROW_LINE = re.compile(r"^    (?P<src>[A-Za-z][A-Za-z0-9_]*) --> (?P<dst>[A-Za-z][A-Za-z0-9_]*): (?P<label>[^:;#{}\"<>%]+)$")

FIGURE_5 = {
    ("CLOSED", "LISTEN", "passive_open"), ("CLOSED", "SYN_SENT", "active_open"),
    ("LISTEN", "SYN_RECEIVED", "rcv_syn"), ("LISTEN", "SYN_SENT", "send"), ("LISTEN", "CLOSED", "close"),
    ("SYN_SENT", "SYN_RECEIVED", "rcv_syn"), ("SYN_SENT", "ESTABLISHED", "rcv_syn_ack"),
    ("SYN_SENT", "CLOSED", "close"), ("SYN_RECEIVED", "ESTABLISHED", "rcv_ack_of_syn"),
    ("SYN_RECEIVED", "FIN_WAIT_1", "close"), ("SYN_RECEIVED", "LISTEN", "rcv_rst"),
    ("ESTABLISHED", "FIN_WAIT_1", "close"), ("ESTABLISHED", "CLOSE_WAIT", "rcv_fin"),
    ("FIN_WAIT_1", "FIN_WAIT_2", "rcv_ack_of_fin"), ("FIN_WAIT_1", "CLOSING", "rcv_fin"),
    ("FIN_WAIT_2", "TIME_WAIT", "rcv_fin"), ("CLOSE_WAIT", "LAST_ACK", "close"),
    ("CLOSING", "TIME_WAIT", "rcv_ack_of_fin"), ("LAST_ACK", "CLOSED", "rcv_ack_of_fin"),
    ("TIME_WAIT", "CLOSED", "time_wait_timeout"),
}


def parse_mermaid(text: str):
    """(states {id: label}, start id, arrows [(src, dst, label)]); AssertionError on any bad line."""
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    states, start, found = {}, None, []
    for line in lines[1:]:
        if match := STATE_LINE.match(line):
            assert match["id"] not in states, f"state declared twice: {line}"
            states[match["id"]] = match["label"]
        elif match := START_LINE.match(line):
            assert start is None
            start = match["id"]
        elif match := ARROW_LINE.match(line):
            found.append((match["src"], match["dst"], match["label"]))
        else:
            raise AssertionError(f"not a stateDiagram-v2 line we emit: {line!r}")
    assert start in states
    for src, dst, _ in found:
        assert src in states and dst in states, (src, dst)
    return states, start, found


@pytest.mark.parametrize("key", sorted(DECLARATIONS))
@pytest.mark.parametrize("view", VIEWS)
def test_mermaid_is_well_formed_state_diagram(key, view):
    states, start, found = parse_mermaid(mermaid(DECLARATIONS[key], view))
    assert start == DECLARATIONS[key].initial.name
    assert len(found) == len(arrows(DECLARATIONS[key], view)) > 0


def test_mermaid_check_rejects_broken_text():
    good = mermaid(DECLARATIONS["tcp"])
    for broken in (good.replace("stateDiagram-v2", "stateDiagram-v9"),
                   good.replace(" --> ", " -> ", 1),
                   good + "    CLOSED --> NOWHERE: close\n",
                   good + "    CLOSED --> LISTEN: a; b\n"):
        with pytest.raises(AssertionError):
            parse_mermaid(broken)


def test_tcp_figure_view_is_rfc9293_figure_5():
    states, start, found = parse_mermaid(mermaid(DECLARATIONS["tcp"], "figure"))
    assert start == "CLOSED"
    assert set(states.values()) == {state.value for state in TcpState}
    drawn = {(src, dst, label.split()[0]) for src, dst, label in found}
    assert FIGURE_5 <= drawn, FIGURE_5 - drawn
    # Beyond Figure 5 only: FIN+ACK in FIN-WAIT-1, SYN,ACK in SYN-RECEIVED, active OPEN in LISTEN.
    assert drawn - FIGURE_5 == {("FIN_WAIT_1", "TIME_WAIT", "rcv_fin_ack_of_fin"),
                                ("SYN_RECEIVED", "ESTABLISHED", "rcv_syn_ack"),
                                ("LISTEN", "SYN_SENT", "active_open")}


def test_full_view_adds_abnormal_arrows_and_self_loops():
    figure = arrows(DECLARATIONS["tcp"], "figure")
    full = arrows(DECLARATIONS["tcp"], "full")
    assert len(full) > len(figure)
    assert any(a.trigger == "abort" for a in full) and not any(a.trigger == "abort" for a in figure)
    assert any(a.internal for a in full)


def test_unknown_view_is_rejected():
    with pytest.raises(ValueError):
        arrows(DECLARATIONS["tcp"], "sideways")


@pytest.mark.parametrize("key", sorted(DECLARATIONS))
@pytest.mark.parametrize("view", VIEWS)
def test_dot_renders_with_graphviz(key, view):
    dot_tool = require_tool("dot", "graphviz")
    result = subprocess.run([dot_tool, "-Tsvg"], input=dot(DECLARATIONS[key], view), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout
    for arrow in arrows(DECLARATIONS[key], view):
        assert arrow.dest.value in result.stdout.replace("&#45;", "-")


def test_markdown_table_lists_every_row_with_its_rfc_section():
    table = markdown_table(DECLARATIONS["tcp"])
    rows = table.splitlines()[2:]
    assert len(rows) == len(arrows(DECLARATIONS["tcp"], "full"))
    assert all(row.count("| RFC ") == 1 for row in rows)
    assert "| SYN-SENT | `rcv_rst` | `rst_acknowledges_our_syn` | CLOSED |" in table


def test_cli_prints_mermaid(capsys):
    assert main(["diagram", "tcp"]) == 0
    assert capsys.readouterr().out == mermaid(DECLARATIONS["tcp"], "figure")


def test_cli_prints_dot_full_view(capsys):
    assert main(["diagram", "arp", "--format", "dot", "--view", "full"]) == 0
    assert capsys.readouterr().out == dot(DECLARATIONS["arp"], "full")


def test_cli_writes_svg(tmp_path):
    require_tool("dot", "graphviz")
    output = tmp_path / "cc.svg"
    assert main(["diagram", "cc", "--format", "svg", "--output", str(output)]) == 0
    assert "<svg" in output.read_text()


def test_cli_svg_without_graphviz_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["diagram", "tcp", "--format", "svg"]) == 1
    assert "dot" in capsys.readouterr().err


def test_cli_rejects_unknown_machine(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["diagram", "ospf"])
    assert exit_info.value.code == 2


def test_committed_docs_machines_md_is_not_stale():
    committed = docs.DOCS_PATH.read_text(encoding="utf-8")
    assert committed == docs.render(), "docs/machines.md is stale: run python -m netstack.presentation.machine_docs"


def test_docs_page_has_each_machine_diagram_and_table():
    page = docs.render()
    assert page.count("```mermaid") == len(DECLARATIONS)
    for declaration in DECLARATIONS.values():
        assert declaration.title in page
        assert markdown_table(declaration) in page


def test_docs_writer_writes_the_page(tmp_path):
    target = tmp_path / "machines.md"
    assert docs.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == docs.render()


def test_transitions_graphmachine_draws_the_same_figure_arrows():
    text = transitions_mermaid(DECLARATIONS["tcp"], "figure")
    assert "stateDiagram-v2" in text and "[*] --> CLOSED" in text
    edges = {}
    for line in text.splitlines():
        if " --> " in line and ": " in line:
            pair, labels = line.strip().split(": ", 1)
            src, dst = pair.split(" --> ")
            edges[src, dst] = {label.split()[0] for label in labels.split(" | ")}
    for src, dst, trigger in FIGURE_5:
        assert trigger in edges[src, dst], (src, dst, trigger)


def test_cli_transitions_renderer_is_mermaid_only(capsys):
    assert main(["diagram", "cc", "--renderer", "transitions"]) == 0
    assert "stateDiagram-v2" in capsys.readouterr().out
    assert main(["diagram", "cc", "--renderer", "transitions", "--format", "dot"]) == 1


def test_mermaid_parser_accepts_every_diagram(tmp_path):
    """mermaid's own parser (optional: NETSTACK_MERMAID_MODULES names a directory where
    ``npm install mermaid@10 jsdom`` was run); a broken file must fail, to prove the check checks."""
    modules = os.environ.get("NETSTACK_MERMAID_MODULES")
    node = shutil.which("node")
    if not modules or node is None:
        pytest.skip("needs node and NETSTACK_MERMAID_MODULES (a directory with npm install mermaid@10 jsdom); "
                    "the structural checks above run everywhere")
    files = []
    for key, declaration in DECLARATIONS.items():
        for view in VIEWS:
            files.append(tmp_path / f"{key}-{view}.mmd")
            files[-1].write_text(mermaid(declaration, view))
    files.append(tmp_path / "tcp-transitions.mmd")
    files[-1].write_text(transitions_mermaid(DECLARATIONS["tcp"]))
    script = Path(__file__).with_name("mermaid_parse.mjs")
    result = subprocess.run([node, str(script), modules, *map(str, files)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok ") == len(files)
    broken = tmp_path / "broken.mmd"
    broken.write_text("stateDiagram-v2\n    A --> B: x\n    B --> : broken\n")
    result = subprocess.run([node, str(script), modules, str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "FAIL" in result.stdout
