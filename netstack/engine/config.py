"""Typed configuration of one netstack host (one interface, one IPv4 address).

``StackConfig`` is a frozen dataclass: every knob of the engine with its default, its unit and the
rule it comes from. It is validated when built; a wrong value raises ``ConfigError`` (a ``ValueError``)
whose message starts with the option's name, so ``netstack up --mtu 20`` says ``mtu: 20 is below the
IPv4 minimum of 68 bytes (RFC 791)`` instead of failing somewhere inside the stack.

Addresses are accepted the way people write them (``"192.0.2.2/24"``, ``"02:00:5e:00:53:01"``) and
kept as both text and packed bytes; the hot path only ever uses the bytes.

Memory bounds (ARCHITECTURE.md "memory is bounded by configuration"): ``arp_queue_limit`` packets per
unresolved neighbour, ``arp_table_limit`` neighbours, ``reassembly_max_datagrams`` and
``reassembly_max_bytes`` for fragments held, ``pmtu_cache_limit`` learned path MTUs,
``udp_queue_limit`` datagrams per UDP endpoint.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re

from netstack.errors import NetstackError

_MAC_TEXT = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class ConfigError(NetstackError, ValueError):
    """A configuration value that is out of range or malformed; ``option`` names the culprit."""

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


def mac_to_bytes(text: str | bytes, option: str = "mac") -> bytes:
    """``"02:00:5e:00:53:01"`` -> 6 bytes; 6 bytes pass through."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 6:
            raise ConfigError(option, f"a MAC address has 6 bytes, got {len(text)}")
        return bytes(text)
    if not isinstance(text, str) or not _MAC_TEXT.match(text):
        raise ConfigError(option, f"{text!r} is not a MAC address like 02:00:5e:00:53:01")
    return bytes.fromhex(text.replace(":", ""))


def mac_to_text(mac: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in mac)


def ip_to_text(address: bytes) -> str:
    return ".".join(str(byte) for byte in address)


def ip_to_bytes(text: str | bytes, option: str = "address") -> bytes:
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 4:
            raise ConfigError(option, f"an IPv4 address has 4 bytes, got {len(text)}")
        return bytes(text)
    try:
        return ipaddress.IPv4Address(text).packed
    except (ipaddress.AddressValueError, ValueError):
        raise ConfigError(option, f"{text!r} is not an IPv4 address") from None


@dataclasses.dataclass(frozen=True)
class StackConfig:
    """Everything one stack needs to know; see the module docstring for the validation contract."""

    # Addressing.
    ip: str = "192.0.2.2/24"  # our address and prefix length, "A.B.C.D/N"
    mac: str | None = None  # None: 02:00 + our IPv4 address (locally administered, deterministic)
    gateway: str | None = None  # default router, must be inside the connected subnet
    mtu: int = 1500  # link MTU in bytes (IP datagram size), RFC 894 Ethernet default
    ttl: int = 64  # RFC 1700 / Linux default TTL of datagrams we originate

    # ARP (RFC 826) with the neighbour unreachability model of RFC 4861 §7.3 as Linux applies it.
    arp_retries: int = 3  # requests sent before INCOMPLETE/PROBE gives up (Linux mcast_solicit 3)
    arp_retry_interval: float = 1.0  # seconds between requests (RFC 4861 RETRANS_TIMER)
    arp_reachable_time: float = 30.0  # seconds a confirmed entry stays REACHABLE (RFC 4861)
    arp_delay_first_probe: float = 5.0  # seconds in DELAY before probing (RFC 4861)
    arp_stale_time: float = 60.0  # seconds an unused STALE or FAILED entry is kept before aging out
    arp_queue_limit: int = 101  # packets held per unresolved neighbour (Linux unres_qlen default)
    arp_table_limit: int = 1024  # neighbour entries; beyond it the oldest unused one is evicted
    gratuitous_arp: bool = True  # announce our address when the interface comes up (RFC 5227 §2.3)
    arp_probe: bool = False  # RFC 5227 §2.1: probe the address (about 4-7 s) before using it
    arp_conflict_policy: str = "defend"  # RFC 5227 §2.4: "defend" (once per 10 s), "retreat" or "keep"

    # IPv4 reassembly (RFC 791, RFC 815, RFC 1122 §3.3.2).
    reassembly_timeout: float = 30.0  # seconds, RFC 1122 §3.3.2 recommends 60-120; Linux uses 30
    reassembly_max_datagrams: int = 64  # datagrams being reassembled at once
    reassembly_max_bytes: int = 4 * 1024 * 1024  # payload bytes held (Linux ipfrag_high_thresh)

    # ICMP (RFC 792, RFC 1122 §3.2.2, RFC 1812 §4.3.2.8 rate limiting).
    icmp_error_rate: float = 100.0  # ICMP errors per second we may send (token refill rate)
    icmp_error_burst: int = 50  # token bucket depth (Linux icmp_msgs_burst)
    pmtu_timeout: float = 600.0  # seconds a learned path MTU is trusted (RFC 1191 §6.3: 10 minutes)
    pmtu_cache_limit: int = 1024  # destinations with a learned path MTU; the oldest is forgotten first

    # UDP (RFC 768).
    udp_queue_limit: int = 256  # datagrams queued per endpoint before new ones are dropped
    udp_checksum: bool = True  # send checksums (RFC 1122 §4.1.3.4: MUST default to on)

    # ---- secrets
    seed: int | None = None  # None: secrets from os.urandom; an int makes every choice reproducible (sim)

    def __post_init__(self):
        try:
            network = ipaddress.IPv4Interface(self.ip)
        except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError):
            raise ConfigError("ip", f"{self.ip!r} is not an IPv4 address with prefix like 192.0.2.2/24") from None
        if "/" not in str(self.ip):
            raise ConfigError("ip", f"{self.ip!r} needs a prefix length, like 192.0.2.2/24")
        if network.ip.is_multicast or network.ip == network.network.broadcast_address and network.network.prefixlen < 31:
            raise ConfigError("ip", f"{network.ip} is a multicast or broadcast address")
        if network.ip == network.network.network_address and network.network.prefixlen < 31:
            # RFC 1122 §3.2.1.3: {<Network-number>, 0} names the network (and is an old broadcast form).
            raise ConfigError("ip", f"{network.ip} is the address of the network {network.network}, not of a host")
        if self.mac is not None:
            mac = mac_to_bytes(self.mac)
            if mac[0] & 1:
                raise ConfigError("mac", f"{self.mac} is a multicast address (lowest bit of the first byte set)")
        if self.gateway is not None:
            gateway = ipaddress.IPv4Address(ip_to_bytes(self.gateway, "gateway"))
            if gateway not in network.network:
                raise ConfigError("gateway", f"{gateway} is not inside the connected subnet {network.network}")
            if gateway == network.ip:
                raise ConfigError("gateway", f"{gateway} is the stack's own address")
            if network.network.prefixlen < 31 and gateway in (network.network.network_address,
                                                              network.network.broadcast_address):
                raise ConfigError("gateway", f"{gateway} is the network or broadcast address of {network.network}")
        _integer(self, "mtu", 68, 65535, "68 is the IPv4 minimum (RFC 791)")
        _integer(self, "ttl", 1, 255)
        _integer(self, "arp_retries", 1, 100)
        _seconds(self, "arp_retry_interval", 0.001, 3600)
        _seconds(self, "arp_reachable_time", 0.001, 86400)
        _seconds(self, "arp_delay_first_probe", 0.0, 3600)
        _seconds(self, "arp_stale_time", 0.001, 86400)
        _integer(self, "arp_queue_limit", 0, 1_000_000)
        _integer(self, "arp_table_limit", 1, 10_000_000)
        _seconds(self, "reassembly_timeout", 0.001, 3600)
        _integer(self, "reassembly_max_datagrams", 0, 1_000_000)
        _integer(self, "reassembly_max_bytes", 0, 1 << 34)
        _seconds(self, "icmp_error_rate", 0.0, 1e9)
        _integer(self, "icmp_error_burst", 0, 1_000_000)
        _seconds(self, "pmtu_timeout", 0.001, 86400 * 7)
        _integer(self, "pmtu_cache_limit", 1, 10_000_000)
        _integer(self, "udp_queue_limit", 1, 10_000_000)
        if not isinstance(self.gratuitous_arp, bool):
            raise ConfigError("gratuitous_arp", f"must be True or False, got {self.gratuitous_arp!r}")
        if not isinstance(self.arp_probe, bool):
            raise ConfigError("arp_probe", f"must be True or False, got {self.arp_probe!r}")
        if self.arp_conflict_policy not in ("defend", "retreat", "keep"):
            raise ConfigError("arp_conflict_policy", f"must be 'defend', 'retreat' or 'keep', got {self.arp_conflict_policy!r}")
        if not isinstance(self.udp_checksum, bool):
            raise ConfigError("udp_checksum", f"must be True or False, got {self.udp_checksum!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ConfigError("seed", f"must be an integer (reproducible secrets) or None (random), got {self.seed!r}")

    # Derived values, packed once (the hot path compares bytes, never text).
    @property
    def interface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(self.ip)

    @property
    def address(self) -> bytes:
        return self.interface.ip.packed

    @property
    def prefix_length(self) -> int:
        return self.interface.network.prefixlen

    @property
    def netmask(self) -> bytes:
        return self.interface.network.netmask.packed

    @property
    def broadcast(self) -> bytes:
        return self.interface.network.broadcast_address.packed

    @property
    def mac_address(self) -> bytes:
        if self.mac is not None:
            return mac_to_bytes(self.mac)
        return b"\x02\x00" + self.address

    @property
    def gateway_address(self) -> bytes | None:
        return None if self.gateway is None else ip_to_bytes(self.gateway, "gateway")

    @classmethod
    def from_options(cls, **options) -> "StackConfig":
        """Build from keyword options, refusing unknown names with the list of known ones."""
        known = {field.name for field in dataclasses.fields(cls)}
        for name in options:
            if name not in known:
                raise ConfigError(name, f"unknown option; known options: {', '.join(sorted(known))}")
        return cls(**options)


def _integer(config: StackConfig, name: str, low: int, high: int, why: str = "") -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        because = f" ({why})" if why else ""
        raise ConfigError(name, f"{value} is outside {low}..{high}{because}")


def _seconds(config: StackConfig, name: str, low: float, high: float) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(name, f"must be a number of seconds, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(name, f"{value} is outside {low}..{high}")
