"""``netstack get --tap`` in the current namespace gives the TAP's host side the URL host's address: for
an address outside the documentation ranges that would shadow a real /24 on this machine, so it is
refused before anything is created (no TAP, no traffic)."""

from __future__ import annotations

from netstack.cli import main


def test_get_with_tap_refuses_a_non_documentation_url_host(tmp_path, capsys):
    # 198.18.0.1 (RFC 2544 benchmarking range) is only an argument here: the command stops before any I/O
    status = main(["get", "http://198.18.0.1/file", "-o", str(tmp_path / "out"), "--tap", "nstsafety0"])
    assert status == 1
    error = capsys.readouterr().err
    assert "not in a documentation range" in error and "--host-ip" in error
    assert not (tmp_path / "out").exists()
