"""Fixtures of the socket tests (helpers in ``socket_namespace``, a name no other test directory uses)."""

from __future__ import annotations

import pytest

from tests.support.socket_namespace import namespace_stack


@pytest.fixture(scope="module")
def kernel_session():
    """A private namespace with netstack on a TAP (192.0.2.2) and the host side 192.0.2.1, per module."""
    with namespace_stack() as (ns, running, _):
        yield ns, running
