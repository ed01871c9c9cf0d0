"""External programs the tests drive (tshark, ping, curl, Graphviz ...): found, or the test is skipped
saying which package brings the program."""

from __future__ import annotations

import shutil

import pytest


def require_tool(name: str, package: str | None = None) -> str:
    """Path of the program ``name``, or skip the test naming the Debian ``package`` that installs it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"needs {name} (apt-get install {package or name}; .ci/run does)")
    return path
