"""StackConfig: defaults, derived values, and errors that name the option; addresses that cannot work
are refused up front, before any TAP is made (`netstack up` would otherwise start a stack that never
answers)."""

from __future__ import annotations

import sys

import pytest

from netstack import Stack, StackConfig
from netstack.drivers.netns import NetworkNamespace
from netstack.engine.config import ConfigError


def test_defaults_and_derived_values():
    config = StackConfig()
    assert config.address == bytes([192, 0, 2, 2])
    assert config.prefix_length == 24
    assert config.broadcast == bytes([192, 0, 2, 255])
    assert config.mac_address == bytes.fromhex("0200c0000202")
    assert config.mtu == 1500 and config.reassembly_timeout == 30.0


@pytest.mark.parametrize(
    "options, option",
    [
        ({"ip": "192.0.2.300/24"}, "ip"),
        ({"ip": "192.0.2.2"}, "ip"),
        ({"ip": "224.0.0.1/24"}, "ip"),
        ({"mac": "02:00:00:00:00"}, "mac"),
        ({"mac": "01:00:5e:00:00:01"}, "mac"),
        ({"gateway": "198.51.100.1"}, "gateway"),
        ({"gateway": "not-an-ip"}, "gateway"),
        ({"mtu": 67}, "mtu"),
        ({"mtu": 70000}, "mtu"),
        ({"mtu": "1500"}, "mtu"),
        ({"ttl": 0}, "ttl"),
        ({"arp_retries": 0}, "arp_retries"),
        ({"arp_retry_interval": -1}, "arp_retry_interval"),
        ({"reassembly_timeout": 0}, "reassembly_timeout"),
        ({"reassembly_max_bytes": -5}, "reassembly_max_bytes"),
        ({"icmp_error_burst": 1.5}, "icmp_error_burst"),
        ({"gratuitous_arp": "yes"}, "gratuitous_arp"),
    ],
)
def test_a_wrong_value_names_the_option(options, option):
    with pytest.raises(ConfigError) as error:
        StackConfig(**options)
    assert error.value.option == option
    assert str(error.value).startswith(f"{option}: ")
    assert isinstance(error.value, ValueError)


def test_unknown_option_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError) as error:
        Stack(ip="192.0.2.2/24", mtuu=1400)
    assert error.value.option == "mtuu" and "mtu" in str(error.value)


def test_config_is_immutable():
    config = StackConfig()
    with pytest.raises(AttributeError):
        config.mtu = 9000


# ------------------------------------- addresses that cannot work are refused before any TAP is made
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
