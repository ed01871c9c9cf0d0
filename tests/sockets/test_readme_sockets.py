"""The README's six-line HTTP server runs: in a private namespace, curl (a kernel peer) gets its page."""

from __future__ import annotations

import pathlib
import re
import sys
import time

import pytest

from netstack.drivers.netns import NetworkNamespace, terminate

from tests.support.external_tools import require_tool


pytestmark = pytest.mark.netns
README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def _program() -> str:
    section = README.read_text().split("## Sockets", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_program_has_six_lines_of_stdlib_socket_idioms():
    lines = _program().strip().splitlines()
    assert len(lines) == 6
    assert "stack.socket(socket.AF_INET, socket.SOCK_STREAM)" in _program()


def test_readme_program_serves_http_to_curl(tmp_path):
    require_tool("curl")
    script = tmp_path / "serve.py"
    script.write_text(_program())
    with NetworkNamespace() as ns:
        server = ns.popen([sys.executable, str(script)])
        try:
            body = None
            for _ in range(100):
                result = ns.run(["curl", "-s", "-m", "2", "http://192.0.2.2/"], timeout=10)
                if result.returncode == 0:
                    body = result.stdout
                    break
                time.sleep(0.1)
            assert body == "hi\n"
            assert server.poll() is None  # still serving
        finally:
            terminate(server)
