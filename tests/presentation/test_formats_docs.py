"""docs/formats.md is generated from the schemas and its examples run."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "formats.md"


def test_docs_formats_md_is_not_stale():
    # A fresh process: registrations made by other tests must not leak into the generated tables.
    result = subprocess.run([sys.executable, "-m", "netstack.presentation.formats_docs", "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"{result.stdout}{result.stderr}\nregenerate with: python -m netstack.presentation.formats_docs")


def test_the_check_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "formats.md"
    stale.write_text(DOCS.read_text().replace("| 16 | `dst_port` |", "| 17 | `dst_port` |"))
    assert stale.read_text() != DOCS.read_text()
    result = subprocess.run([sys.executable, "-m", "netstack.presentation.formats_docs", "--check", "--output", str(stale)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "stale" in result.stdout


def test_docs_hold_a_field_table_for_every_schema():
    text = DOCS.read_text()
    for name in ("ethernet", "arp", "ipv4", "icmp", "udp", "tcp", "tcp_options", "pcap"):
        assert f"### `{name}`" in text, name
    assert "| 110 | 1 | &nbsp;&nbsp;`flags.syn` |" in text


def test_the_examples_in_docs_run():
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "formats_md_examples"}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["my_ttl_parser"] is not None


def test_the_readme_crafting_example_runs():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Crafting packets", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert len(namespace["data"]) == 74
