import subprocess
import sys

import pytest

from netstack import FormatError, NetstackError
from netstack.cli import build_parser, main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "usage: netstack" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "netstack", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "netstack" in result.stdout


def test_format_error_names_layer_field_offset():
    error = FormatError("ipv4", "ihl", 14, "header length 4 words is below the minimum 5")
    assert isinstance(error, ValueError) and isinstance(error, NetstackError)
    assert str(error) == "ipv4.ihl at offset 14: header length 4 words is below the minimum 5"
    assert (error.layer, error.field, error.offset) == ("ipv4", "ihl", 14)


def test_parser_builds_without_error():
    assert build_parser().prog == "netstack"
