"""RFC 5227 on simulated stacks: probe before use (§2.1), defend once per DEFEND_INTERVAL or retreat
(§2.4, the three policies), and the warning line of ``netstack up``."""

from __future__ import annotations

import errno

import pytest

import netstack.sim as sim
from netstack.commands.up import warn_conflicts
from netstack.engine.config import ConfigError, StackConfig
from netstack.formats.fast import ETHERTYPE_ARP, encode_arp, encode_ethernet

OURS = bytes([192, 0, 2, 2])
INTRUDER_MAC = bytes.fromhex("02aabbccddee")


def _world(**options):
    net = sim.Network(seed=9)
    ours = net.host("192.0.2.2/24", **options)
    other = net.host("192.0.2.9/24")
    net.link(ours, other, delay=0.001)
    net.run(10 if options.get("arp_probe") else 0.1)
    sent = []
    keep = ours._transmit
    ours._transmit = lambda frames: (sent.extend(frames), keep(frames))
    return net, ours, other, sent


def _claim(net, other, sender_ip=OURS, target_ip=OURS):
    """The other host sends an ARP request from INTRUDER_MAC claiming ``sender_ip``."""
    frame = encode_ethernet(b"\xff" * 6, INTRUDER_MAC, ETHERTYPE_ARP, encode_arp(1, INTRUDER_MAC, sender_ip, target_ip))
    other.call(other.stack.emit, frame + bytes(60 - len(frame)))
    net.run(0.01)


def _announcements(sent):
    # ARP request whose sender and target address are ours (RFC 5227 §2.3)
    return [f for f in sent if f[12:14] == b"\x08\x06" and f[28:32] == OURS and f[38:42] == OURS]


def _udp_send(net, host):
    endpoint = host.call(host.stack.udp_bind, 0)
    return host.call(endpoint.sendto, b"x", ("192.0.2.9", 7), net.clock)


def test_rfc5227_2_4_b_first_conflict_is_defended_with_one_announcement():
    net, ours, other, sent = _world()
    _claim(net, other)
    conflicts = ours.stack.arp.conflicts
    assert conflicts.standing == "usable" and len(_announcements(sent)) == 1
    assert ours.stack.counters["arp.address_defended"] == 1
    assert _udp_send(net, ours) == 1


def test_rfc5227_2_4_b_second_conflict_inside_defend_interval_retreats():
    net, ours, other, sent = _world()
    _claim(net, other)
    net.run(5)
    _claim(net, other)
    assert ours.stack.arp.conflicts.standing == "lost"
    assert ours.stack.counters["arp.address_retreated"] == 1 and len(_announcements(sent)) == 1
    with pytest.raises(OSError) as error:
        _udp_send(net, ours)
    assert error.value.errno == errno.EADDRNOTAVAIL
    # requests for the address are no longer answered by us: the other host has it now
    before = len(sent)
    _claim(net, other, sender_ip=bytes([192, 0, 2, 9]), target_ip=OURS)
    assert not [f for f in sent[before:] if f[12:14] == b"\x08\x06"]


def test_a_conflict_after_defend_interval_is_defended_again():
    net, ours, other, sent = _world()
    _claim(net, other)
    net.run(10.5)
    _claim(net, other)
    assert ours.stack.arp.conflicts.standing == "usable" and len(_announcements(sent)) == 2


def test_retreat_policy_gives_the_address_up_at_the_first_conflict():
    net, ours, other, sent = _world(arp_conflict_policy="retreat")
    _claim(net, other)
    assert ours.stack.arp.conflicts.standing == "lost" and not _announcements(sent)


def test_keep_policy_never_retreats_and_defends_once_per_interval():
    net, ours, other, sent = _world(arp_conflict_policy="keep")
    for _ in range(5):
        _claim(net, other)
        net.run(1)
    assert ours.stack.arp.conflicts.standing == "usable"
    assert len(_announcements(sent)) == 1 and ours.stack.counters["arp.address_conflict"] == 5


def test_rfc5227_2_1_probing_is_off_by_default_and_the_address_is_usable_at_once():
    net = sim.Network(seed=9)
    ours = net.host("192.0.2.2/24")
    assert StackConfig().arp_probe is False
    assert ours.stack.arp.conflicts.standing == "usable"


def test_rfc5227_2_1_three_probes_then_an_announcement_then_the_address_is_used():
    net = sim.Network(seed=9)
    ours = net.host("192.0.2.2/24", arp_probe=True)
    other = net.host("192.0.2.9/24")
    sent = []
    keep = ours._transmit
    ours._transmit = lambda frames: (sent.extend(frames), keep(frames))
    net.link(ours, other, delay=0.001)
    assert ours.stack.arp.conflicts.standing == "tentative"
    with pytest.raises(OSError) as error:
        _udp_send(net, ours)
    assert error.value.errno == errno.EADDRNOTAVAIL
    net.run(10)  # PROBE_WAIT + 2 x PROBE_MAX + ANNOUNCE_WAIT at most 7 s
    probes = [f for f in sent if f[12:14] == b"\x08\x06" and f[28:32] == b"\0\0\0\0" and f[38:42] == OURS]
    assert len(probes) == 3
    assert ours.stack.arp.conflicts.standing == "usable" and len(_announcements(sent)) == 1
    assert _udp_send(net, ours) == 1


def test_rfc5227_2_1_1_a_probe_answered_by_the_owner_means_the_address_is_never_used():
    net = sim.Network(seed=9)
    owner = net.host("192.0.2.2/24")
    ours = net.host("192.0.2.2/24", mac="02:00:00:00:00:99", arp_probe=True)
    net.link(owner, ours, delay=0.001)
    net.run(10)
    assert ours.stack.arp.conflicts.standing == "lost"
    assert ours.stack.arp.conflicts.events[-1][2] == "abandoned"
    assert owner.stack.arp.conflicts.standing == "usable"  # the owner was never disturbed


def test_netstack_up_prints_one_warning_line_per_conflict(capsys):
    net, ours, other, sent = _world()
    _claim(net, other)
    seen = warn_conflicts(ours, 0)
    assert seen == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["netstack up: warning: address conflict: 192.0.2.2 is also claimed by 02:aa:bb:cc:dd:ee "
                   "(defended; the address is now usable)"]
    assert warn_conflicts(ours, seen) == 1 and capsys.readouterr().err == ""


def test_policy_and_probe_options_are_validated():
    with pytest.raises(ConfigError, match="arp_conflict_policy"):
        StackConfig(arp_conflict_policy="fight")
    with pytest.raises(ConfigError, match="arp_probe"):
        StackConfig(arp_probe="yes")
