"""Fixtures of the engine tests: tools, namespaces with a netstack TAP inside."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def need_tool():
    def need(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            pytest.skip(f"needs {name} (apt-get install it; .ci/run does)")
        return path

    return need
