"""Helpers of the socket tests: a private namespace with a netstack TAP and kernel peers inside it.

The stack is 192.0.2.2 on TAP ``nstsock<N>``; its host side 192.0.2.1 and every kernel socket
(``ns.socket(...)``), kernel client thread and tshark live in the namespace, which is deleted after
the module even on failure (network safety rule of the project).
"""

from __future__ import annotations

import itertools
import shutil
import time
from contextlib import contextmanager

import pytest

import netstack
from netstack.drivers.netns import NetworkNamespace

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"
_taps = itertools.count()


@contextmanager
def namespace_stack(capture=None, **options):
    """Yield (namespace, running stack); with ``capture`` (a path) tshark records the TAP meanwhile."""
    tap = f"nstsock{next(_taps)}"
    with NetworkNamespace() as ns:
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        with netstack.run_tap(tap=tap, ip=f"{STACK_IP}/24", host_ip=f"{HOST_IP}/24", netns=ns.name,
                              **options) as running:
            tshark = None
            if capture is not None:
                tshark = ns.start_capture(tap, capture)
            try:
                yield ns, running, tshark
            finally:
                if tshark is not None:
                    from netstack.drivers.netns import terminate

                    time.sleep(0.5)
                    terminate(tshark)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"needs {name} (apt-get install it; .ci/run does)")
    return path
