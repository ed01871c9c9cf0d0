"""Audit of issue 4 item 1 (typed configuration): addresses that cannot work are refused up front,
naming the option, before any TAP is made (`netstack up` would otherwise start a stack that never
answers)."""

from __future__ import annotations

import sys

import pytest

from netstack import StackConfig
from netstack.engine.config import ConfigError
from netstack.drivers.netns import NetworkNamespace


@pytest.mark.parametrize("options, option, words", [
    ({"ip": "192.0.2.0/24"}, "ip", "address of the network"),  # RFC 1122 §3.2.1.3
    ({"ip": "198.51.100.0/25"}, "ip", "address of the network"),
    ({"gateway": "192.0.2.2"}, "gateway", "own address"),
    ({"gateway": "192.0.2.255"}, "gateway", "broadcast"),
    ({"gateway": "192.0.2.0"}, "gateway", "network"),
])
def test_unusable_addresses_are_refused_naming_the_option(options, option, words):
    with pytest.raises(ConfigError) as error:
        StackConfig(**options)
    assert error.value.option == option and words in str(error.value)


@pytest.mark.parametrize("ip", ["192.0.2.0/31", "192.0.2.1/31", "192.0.2.7/32"])
def test_point_to_point_prefixes_use_every_address_rfc3021(ip):
    assert StackConfig(ip=ip).prefix_length in (31, 32)


@pytest.mark.netns
def test_up_refuses_its_own_address_as_gateway_before_creating_anything():
    # In a namespace of its own: should validation ever break, the TAP would appear there, not here.
    with NetworkNamespace() as ns:
        result = ns.run([sys.executable, "-m", "netstack", "up", "--tap", "audcfg0", "--ip", "192.0.2.2/24",
                         "--gateway", "192.0.2.2"], timeout=30)
        assert ns.run(["ip", "link", "show", "audcfg0"]).returncode != 0
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "netstack up: gateway: 192.0.2.2 is the stack's own address"
