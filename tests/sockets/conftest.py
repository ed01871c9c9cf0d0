"""Fixtures of the socket tests."""

from __future__ import annotations

import pytest

from tests.support.kernel_peers import stack_in_namespace


@pytest.fixture(scope="module")
def kernel_session():
    """A private namespace with netstack on a TAP (192.0.2.2) and the host side 192.0.2.1, per module."""
    with stack_in_namespace() as (ns, running, _):
        yield ns, running
