"""``netstack get``: the progress bar, one-line errors for bad arguments (no traceback, nothing
created), and a download with progress from a kernel http.server in a namespace this test creates
(HTTP errors give exit status 1 with the status line). With ``--tap`` in the current namespace the
TAP's host side gets the URL host's address: outside the documentation ranges that would shadow a
real /24 on this machine, so it is refused before anything is created (no TAP, no traffic)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time

import pytest

from netstack.cli import main
from netstack.commands import get as get_command
from netstack.drivers.netns import NetworkNamespace


def _netstack(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "netstack", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_progress_bar_with_and_without_a_known_length(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(get_command.sys, "stderr", err)
    get_command._progress(25_000_000, 100_000_000, time.monotonic() - 1.0)
    line = err.getvalue()
    assert line.startswith("\r[" + "#" * 7 + "-" * 23 + "]") and " 25.0%" in line and "25.0 MB" in line
    assert not line.endswith("\n")  # redrawn in place
    err.truncate(0), err.seek(0)
    get_command._progress(3_000_000, None, time.monotonic() - 1.0, final=True)
    line = err.getvalue()
    assert "[" not in line and "3.0 MB" in line and line.endswith("\n")


@pytest.mark.parametrize(
    "url, message",
    [
        ("notaurl", "only http:// URLs are supported"),
        ("https://198.51.100.1/", "only http:// URLs are supported"),
        ("http://198.51.100.1:99999/x", "Port out of range"),
        ("http://example.org/", "is not an IPv4 address"),
    ],
)
def test_bad_urls_give_one_line_errors(tmp_path, url, message):
    out = tmp_path / "out"
    result = _netstack("get", url, "-o", str(out))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netstack get: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_missing_output_is_a_usage_error():
    result = _netstack("get", "http://198.51.100.1/")
    assert result.returncode == 2 and "-o/--output" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.netns
def test_download_with_progress_and_http_error_status(tmp_path):
    if not os.path.exists("/usr/sbin/ip") and not os.path.exists("/sbin/ip"):
        pytest.skip("needs iproute2")
    source = tmp_path / "www"
    source.mkdir()
    blob = source / "blob.bin"
    blob.write_bytes(os.urandom(3 * 1024 * 1024))
    out = tmp_path / "out.bin"
    with NetworkNamespace() as ns:
        ns.run(["ip", "link", "set", "lo", "up"])
        server = ns.popen([sys.executable, "-m", "http.server", "--bind", "0.0.0.0", "8000", "--directory",
                           str(source)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            common = ["--netns", ns.name, "--tap", "nstaudget0", "--timeout", "60"]
            good = _netstack("get", "http://198.51.100.1:8000/blob.bin", "-o", str(out), *common, timeout=120)
            missing = _netstack("get", "http://198.51.100.1:8000/nothing", "-o", str(tmp_path / "x"),
                                "--no-progress", *common, timeout=120)
        finally:
            server.terminate()
            server.wait(10)
    assert good.returncode == 0, good.stderr
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(blob.read_bytes()).digest()
    frames = [frame for frame in good.stderr.replace("\n", "\r").split("\r") if frame.strip()]
    assert frames and all(frame.startswith("[") for frame in frames), good.stderr[-500:]
    last = frames[-1]
    assert last.startswith("[" + "#" * 30 + "]") and "100.0%" in last and "3.1 MB" in last, last
    assert missing.returncode == 1 and missing.stderr.strip() == "netstack get: HTTP 404 File not found"


def test_get_with_tap_refuses_a_non_documentation_url_host(tmp_path, capsys):
    # 198.18.0.1 (RFC 2544 benchmarking range) is only an argument here: the command stops before any I/O
    status = main(["get", "http://198.18.0.1/file", "-o", str(tmp_path / "out"), "--tap", "nstsafety0"])
    assert status == 1
    error = capsys.readouterr().err
    assert "not in a documentation range" in error and "--host-ip" in error
    assert not (tmp_path / "out").exists()
