"""The impairment model (netstack.drivers.impairment): the --impair spelling, and its statistics in the
simulator, where the same model drives every link."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import pytest

from netstack.drivers.impairment import Impairment, mark_congestion_experienced, parse_impairment
from netstack.drivers.sim import Network
from netstack.engine.config import ConfigError
from netstack.engine.icmp import Pinger
from netstack.engine.observability import Counters
from netstack.formats.fast import decode_ethernet, decode_ipv4, encode_ethernet, encode_ipv4
from netstack.formats.ipv4 import ECN_CE, ECN_ECT0, ECN_ECT1, ECN_NOT_ECT


# ----------------------------------------------------------------------------- parsing
def test_the_issue_spec_parses_to_the_model_arguments():
    options = parse_impairment("loss=2%,delay=10ms,jitter=1ms,dup=0.5%,reorder=1%,rate=50mbit,seed=7")
    assert options == pytest.approx({"loss": 0.02, "delay": 0.010, "jitter": 0.001, "duplicate": 0.005,
                                     "reorder": 0.01, "rate": 50e6, "seed": 7})
    model = Impairment.from_spec("loss=2%,delay=10ms,jitter=1ms,dup=0.5%,reorder=1%,rate=50mbit,seed=7")
    assert (model.loss, model.duplicate, model.rate) == (0.02, 0.005, 50e6)


@pytest.mark.parametrize("spec, expected", [
    ("loss=0.25", {"loss": 0.25}),
    ("corrupt=0.1%, queue=20", {"corrupt": 0.001, "queue": 20}),
    ("delay=1.5s,jitter=500us", {"delay": 1.5, "jitter": 0.0005}),
    ("delay=0", {"delay": 0.0}),
    ("rate=1gbit", {"rate": 1e9}),
    ("rate=100kbit", {"rate": 1e5}),
    ("rate=2mbps", {"rate": 16e6}),  # tc: "bps" is bytes per second
    ("reorder_delay=3ms,duplicate=100%", {"reorder_delay": 0.003, "duplicate": 1.0}),
])
def test_good_specs(spec, expected):
    assert parse_impairment(spec) == pytest.approx(expected)


@pytest.mark.parametrize("spec, message", [
    ("loss=101%", "more than 100"),
    ("loss=2", "more than 100"),
    ("loss=abc", "not a number"),
    ("loss=2ms", "percentage"),
    ("los=2%", "unknown key 'los'"),
    ("delay=10", "time unit"),
    ("delay=10parsecs", "time unit"),
    ("rate=50", "rate unit"),
    ("rate=0mbit", "positive"),
    ("seed=x", "not an integer"),
    ("queue=0", "below 1"),
    ("loss", "key=value"),
    ("loss=", "key=value"),
    ("loss=1%,loss=2%", "given twice"),
    ("", "empty"),
])
def test_bad_specs_are_config_errors_naming_the_culprit(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_impairment(spec)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="loss"):
        Impairment(loss=1.5)
    with pytest.raises(ValueError, match="delay"):
        Impairment(delay=-1)
    with pytest.raises(ValueError, match="rate"):
        Impairment(rate=0)


# ----------------------------------------------------------------------------- the model alone
def test_loss_fraction_by_seed_is_within_tolerance_and_reproducible():
    frames = 20_000
    for seed in (1, 2, 3):
        model = Impairment(loss=0.2, seed=seed)
        delivered = sum(len(model.transmit(b"x" * 60, index * 1e-3)) for index in range(frames))
        lost = frames - delivered
        # 20 % of 20,000: standard deviation ~57 frames; 5 sigma
        assert abs(lost - 0.2 * frames) < 5 * math.sqrt(frames * 0.2 * 0.8)
        assert model.counters["lost"] == lost and model.counters["frames"] == frames
        again = Impairment(loss=0.2, seed=seed)
        assert [len(again.transmit(b"x" * 60, index * 1e-3)) for index in range(frames)].count(0) == lost


def test_duplicate_reorder_corrupt_counts():
    model = Impairment(duplicate=0.1, reorder=0.1, corrupt=0.1, delay=0.01, seed=4)
    out = [model.transmit(bytes(100), 0.0) for _ in range(10_000)]
    copies = sum(len(pairs) for pairs in out)
    assert copies == 10_000 + model.counters["duplicated"]
    assert 800 < model.counters["duplicated"] < 1200
    held_back = sum(1 for pairs in out for when, _ in pairs if when > 0.01 + 1e-9)
    assert held_back == model.counters["reordered"] and 800 < held_back < 1400
    flipped = sum(1 for pairs in out for _, data in pairs if data != bytes(100))
    assert flipped == model.counters["corrupted"]
    assert all(sum(bin(byte).count("1") for byte in data) <= 1 for pairs in out for _, data in pairs)


def test_delay_and_jitter_bounds():
    model = Impairment(delay=0.05, jitter=0.002, seed=1)
    arrivals = [model.transmit(b"x", 10.0)[0][0] - 10.0 for _ in range(2000)]
    assert min(arrivals) >= 0.05 and max(arrivals) <= 0.052
    assert 0.0505 < sum(arrivals) / len(arrivals) < 0.0515  # uniform jitter: mean delay + jitter/2


def test_rate_serialises_and_the_queue_drops_tail():
    model = Impairment(rate=8e6, queue=10)  # 1 byte per microsecond
    departures = [model.transmit(bytes(1000), 0.0) for _ in range(12)]
    assert [pairs[0][0] for pairs in departures[:10]] == pytest.approx([(i + 1) * 1e-3 for i in range(10)])
    assert departures[10] == [] and departures[11] == []
    assert model.counters["drop.queue_full"] == 2
    # Once the queue drains the link takes frames again, starting from "now".
    assert model.transmit(bytes(1000), 1.0)[0][0] == pytest.approx(1.001)


def test_prefixed_counters_share_one_table():
    table = {}
    counters = Counters()
    Impairment(loss=1.0, counters=counters, prefix="impair.in.").transmit(b"x", 0.0)
    Impairment(counters=counters, prefix="impair.out.").transmit(b"x", 0.0)
    table.update(counters)
    assert table == {"impair.in.frames": 1, "impair.in.lost": 1, "impair.out.frames": 1}


# ----------------------------------------------------------------------------- in the simulator
def _two_hosts(seed: int, **impairments):
    net = Network(seed=seed)
    a = net.host("192.0.2.2/24")
    b = net.host("192.0.2.3/24")
    link = net.link(a, b, **impairments)
    return net, a, b, link


def test_sim_link_loss_matches_the_probability_over_many_frames():
    frames = 3000
    for seed in (1, 2):
        net, a, b, link = _two_hosts(seed, loss=0.1)
        net.run(1.0)
        endpoint = b.udp_bind(9)
        sender = a.udp_bind(0)
        received = 0
        for index in range(frames):
            a.call(sender.sendto, b"%d" % index, ("192.0.2.3", 9), net.clock)
            net.run(0.001)
            received += len(endpoint.queue)
            endpoint.queue.clear()
        net.run(1.0)
        received += len(endpoint.queue)
        sent = link.counters["frames_sent"]  # the datagrams, and a few ARP frames
        lost = link.counters["lost"]
        assert abs(lost / sent - 0.1) < 5 * math.sqrt(0.09 / sent)
        # What the receiver missed is what the link lost (bar ARP frames).
        assert abs((frames - received) - lost) <= 10, (frames, received, lost)


def test_sim_delay_shows_in_the_round_trip_time():
    net, a, b, _ = _two_hosts(1, delay=0.025)

    net.run(1.0)
    pinger = Pinger(a.stack, b.address, identifier=1)
    a.call(pinger.send, net.clock)
    assert net.run_until(lambda: pinger.replies, 5.0)  # first: ARP resolution plus the echo
    a.call(pinger.send, net.clock)
    assert net.run_until(lambda: len(pinger.replies) == 2, 5.0)
    rtt = pinger.replies[max(pinger.replies)][0]
    assert rtt == pytest.approx(0.050, abs=1e-6)  # two one-way delays, nothing else in virtual time


def test_sim_rate_limit_gives_its_throughput():
    """A TCP bulk transfer over a 10 Mbit/s link (benchmarks/loss.py's own transfer, so this also checks
    what the benchmark measures): goodput just under the rate, never above it."""
    transfer = _benchmark_module().sim_transfer(0.0, 3, 2_000_000, 30.0, delay=0.001, rate=10e6)
    assert transfer["finished"] and transfer["got"] == 2_000_000
    goodput = transfer["got"] * 8 / transfer["seconds"]
    assert 0.8 * 10e6 < goodput < 10e6  # headers and the slow-start ramp cost a little, the link caps it


def _benchmark_module():
    path = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "loss.py"
    spec = importlib.util.spec_from_file_location("loss_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ipv4_frame(ecn: int, vlan=None) -> bytes:
    datagram = encode_ipv4(bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), 6, bytes(40), 64, 7, 0b010, 0, ecn)
    return encode_ethernet(b"\x02" * 6, b"\x04" * 6, 0x0800, datagram, vlan=vlan)


@pytest.mark.parametrize("vlan", [None, (0, 0, 5)])
def test_ce_marks_ect_frames_with_a_valid_checksum_and_leaves_not_ect_alone_rfc3168_5(vlan):
    for codepoint in (ECN_ECT0, ECN_ECT1):
        marked = mark_congestion_experienced(_ipv4_frame(codepoint, vlan))
        ip = decode_ipv4(marked, decode_ethernet(marked).payload_offset)
        assert ip.tos & 3 == ECN_CE and ip.checksum_ok
    assert mark_congestion_experienced(_ipv4_frame(ECN_NOT_ECT, vlan)) is None
    assert mark_congestion_experienced(_ipv4_frame(ECN_CE, vlan)) is None
    assert mark_congestion_experienced(b"\x00" * 10) is None
    assert parse_impairment("ce=2%,seed=3") == {"ce": 0.02, "seed": 3}
    model = Impairment(ce=0.5, seed=4)
    frames = [model.transmit(_ipv4_frame(ECN_ECT0, vlan), 0.0)[0][1] for _ in range(400)]
    marked = sum(decode_ipv4(f, decode_ethernet(f).payload_offset).tos & 3 == ECN_CE for f in frames)
    assert 150 < marked < 250 and model.counters["ce_marked"] == marked
    plain = _ipv4_frame(ECN_NOT_ECT, vlan)
    assert all(model.transmit(plain, 0.0)[0][1] == plain for _ in range(50)), "Not-ECT frames are never marked"
