"""Simulator runs are reproducible by seed (issue 10, item 7): every random input of a stack (ISN key,
ephemeral ports, timestamp offsets, ARP timers) comes from ``StackConfig.seed``, which the simulator
derives from the network's seed; the same seed gives byte-identical pcaps through the socket API and
through `netstack demo --sim --pcap`, a different seed different ISNs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netstack.drivers.sim import Network
from netstack.engine.config import ConfigError, StackConfig
from netstack.engine.stack import Stack
from netstack.formats.pcap import PcapReader

from tests.support.sim_hosts import socket_hosts


def _socket_session(seed: int, pcap_path) -> None:
    """A TCP exchange through the socket API over a lossy, reordering link, recorded to a pcap."""
    with socket_hosts(seed) as net:
        client_host, server_host = net.a, net.b
        net.ab.capture(str(pcap_path))  # from the first frame: the hosts' ARP comes on the first send
        net.ab.loss = net.ab.reorder = 0.02
        net.ab.jitter = 0.0005
        client, peer = client_host.connect_sockets(server_host, ("192.0.2.3", 8000))
        data = bytes(range(256)) * 400
        client.sendall(data)
        received = b""
        while len(received) < len(data):
            received += peer.recv(65536)
        assert received == data
        client.close()
        peer.close()
        net.run(5.0)


def _syn_sequence_numbers(pcap_path) -> list[int]:
    """The sequence numbers of the SYN segments (Ethernet, IPv4 with its IHL, TCP: RFC 9293 §3.1)."""
    numbers = []
    with open(pcap_path, "rb") as file:
        for _, data in PcapReader(file):
            if data[12:14] != b"\x08\x00" or data[23] != 6:
                continue
            tcp = data[14 + (data[14] & 0x0F) * 4:]
            if tcp[13] & 0x02:
                numbers.append(int.from_bytes(tcp[4:8], "big"))
    return numbers


def test_same_seed_same_pcap_bytes_through_the_socket_api(tmp_path):
    _socket_session(11, tmp_path / "first.pcap")
    _socket_session(11, tmp_path / "second.pcap")
    first = (tmp_path / "first.pcap").read_bytes()
    assert len(first) > 100_000
    assert first == (tmp_path / "second.pcap").read_bytes()


def test_different_seed_gives_different_isns(tmp_path):
    _socket_session(11, tmp_path / "a.pcap")
    _socket_session(12, tmp_path / "b.pcap")
    isns_a, isns_b = _syn_sequence_numbers(tmp_path / "a.pcap"), _syn_sequence_numbers(tmp_path / "b.pcap")
    assert len(isns_a) >= 2 and len(isns_b) >= 2  # the SYN and the SYN-ACK at least
    assert isns_a[0] != isns_b[0] and isns_a[-1] != isns_b[-1]


def test_demo_sim_pcap_is_byte_identical_for_one_seed(tmp_path):
    paths = []
    for run in range(2):
        path = tmp_path / f"demo{run}.pcap"
        result = subprocess.run([sys.executable, "-m", "netstack", "demo", "--sim", "--seed", "3", "--pcap",
                                 str(path)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        paths.append(path)
    first = paths[0].read_bytes()
    assert len(first) > 1_000_000  # the TCP echo is in it
    assert first == paths[1].read_bytes()


def test_hosts_get_seeds_from_the_network_seed_in_creation_order():
    one, two, other = Network(seed=5), Network(seed=5), Network(seed=6)
    seeds = [[net.host(f"192.0.2.{index}/24").stack.config.seed for index in (2, 3)] for net in (one, two, other)]
    assert seeds[0] == seeds[1]
    assert seeds[0][0] != seeds[0][1] and seeds[0] != seeds[2]
    assert all(isinstance(seed, int) for seed in seeds[0])
    # An explicit seed is kept; a config without one gets the network's.
    assert Network(seed=5).host("192.0.2.2/24", seed=99).stack.config.seed == 99
    assert Network(seed=5).host(config=StackConfig(ip="192.0.2.2/24")).stack.config.seed == seeds[0][0]


def test_seeded_stacks_share_every_secret_and_unseeded_ones_do_not():
    a, b = Stack(ip="192.0.2.2/24", seed=4), Stack(ip="192.0.2.2/24", seed=4)
    for purpose in ("tcp.isn", "tcp.ports", "tcp.timestamps"):
        assert a.secrets.key(purpose) == b.secrets.key(purpose)
    assert a.secrets.key("tcp.ports") != a.secrets.key("tcp.isn")
    assert a.arp.random.random() == b.arp.random.random()
    assert Stack(ip="192.0.2.2/24").secrets.key("tcp.isn") != Stack(ip="192.0.2.2/24").secrets.key("tcp.isn")


@pytest.mark.parametrize("seed", ["7", 1.5, True, b"x", [1]])
def test_stack_config_seed_must_be_an_integer_or_none(seed):
    with pytest.raises(ConfigError, match="seed"):
        StackConfig(ip="192.0.2.2/24", seed=seed)


@pytest.mark.parametrize("command", [["stats", "--sim", "--json"], ["ping", "--sim", "-c", "3", "192.0.2.1"]])
def test_sim_commands_run_in_a_fresh_interpreter_and_repeat(command):
    """Each command on its own (``netstack.drivers`` not imported by anything else first), twice: the
    same output, simulated from the same seed."""
    outputs = []
    for _ in range(2):
        result = subprocess.run([sys.executable, "-m", "netstack", *command], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
    assert outputs[0] and outputs[0] == outputs[1]
