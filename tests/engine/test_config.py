"""StackConfig: defaults, derived values, and errors that name the option."""

from __future__ import annotations

import pytest

from netstack import Stack, StackConfig
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
