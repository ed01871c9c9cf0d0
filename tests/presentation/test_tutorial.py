"""Every snippet of docs/tutorial/ runs, and prints what the page says it prints.

Per chapter: the Python blocks run in order in one namespace, in a temporary directory; shell blocks
marked ``run: shell`` run there too (``netstack`` is this checkout's, through a shim on PATH); blocks
marked ``run: namespace`` run, in order, inside one network namespace this test creates and deletes
(root; CI is root). An ``output`` block must equal what the block before it printed (trailing spaces
ignored). Chapter 6's output varies (ports, pids), so its key lines are checked instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netstack.formats import register_ethertype, register_ip_protocol, unregister_ethertype, unregister_ip_protocol
from netstack.formats.registry import ethertype_schemas, ip_protocol_schemas
from netstack.presentation.ladder import ladder_arrows, ladder_svg
from netstack.presentation.sim_transfer import record_transfer
from netstack.presentation.tcp_series import read_segments

from tests.support.external_tools import require_tool
from tests.support.tutorial_blocks import blocks, unaccounted

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial"
CHAPTERS = sorted(path.name for path in TUTORIAL.glob("[0-9][0-9]-*.md"))

# Lines a chapter's namespace run must print (its sample output varies from run to run).
EXPECTED = {
    "06-curl-against-netstack.md": [
        r"^ready nst0 192\.0\.2\.2 02:00:c0:00:02:02$",
        r"^<title>netstack status</title>$",
        r"^ESTABLISHED\s+0\s+0\s+192\.0\.2\.2:7\s+192\.0\.2\.1:\d+$",
        r"mss:\d+ rtt:[\d.]+/[\d.]+ rto:\d+ cwnd:\d+",
        r"^tcp\.state 192\.0\.2\.2:80-192\.0\.2\.1:\d+ LISTEN -> SYN-RECEIVED on rcv_syn \[RFC 9293 §3\.10\.7\.2",
        r"^sequenceDiagram$",
        r"A->>B: 0\.000000 SYN seq=0",
    ],
}


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _shell_environment(tmp_path: Path) -> dict:
    shim_directory = tmp_path / ".bin"
    shim_directory.mkdir(exist_ok=True)
    shim = shim_directory / "netstack"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m netstack "$@"\n')
    shim.chmod(0o755)
    environment = dict(os.environ)
    environment["PATH"] = f"{shim_directory}:{environment.get('PATH', '')}"
    environment["PYTHONPATH"] = f"{ROOT}:{environment.get('PYTHONPATH', '')}".rstrip(":")
    environment.pop("NO_COLOR", None)
    return environment


def _chapter_params():
    for chapter in CHAPTERS:
        text = (TUTORIAL / chapter).read_text()
        in_namespace = any(block.marker == "run: namespace" for block in blocks(text))
        yield pytest.param(chapter, marks=[pytest.mark.netns] if in_namespace else [], id=chapter)


def test_the_tutorial_has_its_chapters():
    assert len(CHAPTERS) == 8 and (TUTORIAL / "index.md").exists()
    index = (TUTORIAL / "index.md").read_text()
    for chapter in CHAPTERS:
        assert f"({chapter})" in index, f"index.md does not link {chapter}"


@pytest.fixture
def registries_restored():
    """A chapter may register protocols (chapter 8 does): this process's other tests must not see them."""
    ethertypes, ip_protocols = ethertype_schemas(), ip_protocol_schemas()
    yield
    for number, registration in ip_protocol_schemas().items():
        if ip_protocols.get(number) != registration:
            unregister_ip_protocol(number)
            if number in ip_protocols:
                register_ip_protocol(number, ip_protocols[number].name, ip_protocols[number].schema)
    for number, registration in ethertype_schemas().items():
        if ethertypes.get(number) != registration:
            unregister_ethertype(number)
            if number in ethertypes:
                register_ethertype(number, ethertypes[number].name, ethertypes[number].schema)


@pytest.mark.parametrize("chapter", _chapter_params())
def test_chapter_snippets_run(chapter, tmp_path, monkeypatch, registries_restored):
    text = (TUTORIAL / chapter).read_text()
    if "netstack plot" in text:
        pytest.importorskip("matplotlib", reason="the plot extra (pip install 'netstack[plot]') is missing")
    for tool in ("curl", "socat"):
        if re.search(rf"^{tool} |\| {tool} ", text, re.M):
            require_tool(tool)
    chapter_blocks = blocks(text)
    assert not unaccounted(chapter_blocks), unaccounted(chapter_blocks)
    assert any(block.runs for block in chapter_blocks), f"{chapter} runs nothing"
    monkeypatch.chdir(tmp_path)
    environment = _shell_environment(tmp_path)
    namespace_blocks = [block for block in chapter_blocks if block.marker == "run: namespace"]
    printed_by = {}
    python_globals: dict = {"__name__": f"tutorial_{chapter[:2]}"}
    for block in chapter_blocks:
        if not block.runs or block.marker == "run: namespace":
            continue
        if block.language == "python":
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                exec(compile(block.code, f"{chapter}:{block.line}", "exec"), python_globals)
            printed_by[block.line] = stdout.getvalue()
        else:
            result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=tmp_path,
                                    env=environment, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"{chapter}:{block.line} failed:\n{result.stdout}\n{result.stderr}"
            printed_by[block.line] = result.stdout
    namespace_output = ""
    if namespace_blocks:
        from netstack.drivers.netns import NetworkNamespace

        with NetworkNamespace() as namespace:
            for block in namespace_blocks:
                result = namespace.run(["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=tmp_path,
                                       env=environment, timeout=120)
                assert result.returncode == 0, f"{chapter}:{block.line} failed:\n{result.stdout}\n{result.stderr}"
                printed_by[block.line] = result.stdout
                namespace_output += result.stdout
    previous = None
    for block in chapter_blocks:
        if block.marker == "output":
            assert previous is not None, f"{chapter}:{block.line}: an output block after nothing that runs"
            assert _lines(printed_by[previous.line]) == _lines(block.code), (
                f"{chapter}:{block.line}: the page says\n{block.code}\nthe snippet at line {previous.line} printed\n"
                f"{printed_by[previous.line]}")
        elif block.runs:
            previous = block
    for pattern in EXPECTED.get(chapter, ()):
        assert re.search(pattern, namespace_output, re.M), f"{chapter}: no line matches {pattern}:\n{namespace_output}"


def test_the_tutorials_ladder_picture_is_current(tmp_path):
    """docs/tutorial/img/ladder.svg is written by netstack (no matplotlib): byte for byte what
    `netstack plot --sim --out-dir docs/tutorial/img --format png` draws today (same seed, same file)."""
    recorded = record_transfer(tmp_path, seed=4, loss=0.02)
    arrows = ladder_arrows(read_segments(str(recorded.pcap)), limit=40)
    current = ladder_svg(arrows, arrows[0].src, arrows[0].dst)
    assert (TUTORIAL / "img" / "ladder.svg").read_text() == current, (
        "docs/tutorial/img is stale: run `netstack plot --sim --out-dir docs/tutorial/img --format png` and "
        "delete its transfer.pcap, transfer.jsonl and ladder.mmd")


def test_chapters_leave_no_protocol_registered():
    """Runs after the chapters (file order): heartbeat (chapter 8) is gone from the registry again."""
    assert 253 not in ip_protocol_schemas()
