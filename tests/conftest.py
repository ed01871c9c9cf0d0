"""Shared test configuration.

Hypothesis profiles: ``dev`` (default, quick) and ``ci`` (more examples, derandomized so a CI run is
reproducible); pick one with HYPOTHESIS_PROFILE. Tests marked ``netns`` need root, /dev/net/tun and
iproute2; without them they skip with the reason, but CI has all three, and there they run.
"""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def netns_unavailable_reason() -> str | None:
    """Why tests with real kernel peers cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace and a TAP device"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    if shutil.which("ip") is None:
        return "needs iproute2 (the ip command)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = netns_unavailable_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "netns" in item.keywords:
            item.add_marker(skip)
