"""Every example runs as a program (root: it creates its own namespace, TAP and kernel peers)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.netns

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_echo_server_echoes_kernel_client_lines():
    assert run_example("echo_server.py").splitlines() == ["echoed: hello", "echoed: netstack"]


def test_http_client_fetches_from_kernel_http_server():
    assert "200 text/plain hello from the kernel's http.server" in run_example("http_client.py")


def test_chat_server_relays_a_line_to_the_other_kernel_clients():
    assert run_example("chat_server.py").splitlines() == ["received: hello from client 0"] * 2


def test_asyncio_server_echoes_kernel_asyncio_clients():
    lines = run_example("asyncio_server.py").splitlines()
    assert lines == [f"echoed: client {n}" for n in range(10)]
