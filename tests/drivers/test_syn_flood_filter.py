"""The kernel-side SYN filter (``netstack.drivers.syn_flood_filter``): the classic BPF program the TAP's
queue runs (tested in the kernel itself, frames sent from the host side of a TAP in a namespace), and
the policy that attaches, tightens and detaches it from what the intake shed. Under a real flood:
tests/engine/tcp/test_syn_flood_kernel.py."""

from __future__ import annotations

import os
import socket
import time

import pytest

import netstack

from netstack.drivers import intake as intake_module
from netstack.drivers import syn_flood_filter
from netstack.drivers.intake import FrameIntake
from netstack.drivers.netns import NetworkNamespace, call_in_namespace
from netstack.drivers.syn_flood_filter import FIRST_KEEP, MAX_KEEP, SynFloodFilter, filter_program
from netstack.drivers.tap_device import create_tap
from netstack.engine.observability import Counters
from netstack.formats.tcp import ACK, SYN

from tests.drivers.test_intake import CLIENT, SPOOFED, syn, tcp_frame

FLOODER = SPOOFED[0]


def test_the_program_is_refused_without_sources_or_with_a_keep_that_is_no_power_of_two():
    for sources, keep in (([], 16), ([FLOODER] * 5, 16), ([FLOODER], 1), ([FLOODER], 24)):
        with pytest.raises(ValueError):
            filter_program(sources, keep)
    last = filter_program([FLOODER, CLIENT], 16)
    assert last[-1] == (0x06, 0, 0, 0xFFFFFFFF) and last[-2] == (0x06, 0, 0, 0)  # accept last, drop before


# ------------------------------------------------------------------ the program, run by the kernel
def _read_all(fd: int, wanted: set[bytes], settle: float = 0.3) -> list[bytes]:
    """Frames of ``wanted`` the TAP gave us until it stayed empty for ``settle`` seconds."""
    got, quiet_since = [], time.monotonic()
    while time.monotonic() - quiet_since < settle:
        try:
            frame = os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.005)
            continue
        quiet_since = time.monotonic()
        if frame in wanted:
            got.append(frame)
    return got


@pytest.mark.netns
def test_the_kernel_drops_the_flooding_sources_bare_syns_and_passes_everything_else():
    with NetworkNamespace() as ns:
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        fd = call_in_namespace(ns.name, create_tap, "nsflt0", "192.0.2.1/24", 1500, False, 8192)
        try:
            os.set_blocking(fd, False)
            with ns.socket(socket.AF_PACKET, socket.SOCK_RAW) as sender:
                sender.bind(("nsflt0", 0))

                def send(frames):
                    for frame in frames:
                        sender.send(frame)
                    return _read_all(fd, set(frames))

                counters = Counters()
                flt = SynFloodFilter(fd, FrameIntake(counters), counters)
                flt._attach([SPOOFED[5], FLOODER], MAX_KEEP)
                flooded = [syn(FLOODER, seq) for seq in range(1, 301)]
                with_options = [tcp_frame(FLOODER, SYN, seq=seq, ihl_options=b"\x01\x01\x01\x00")
                                for seq in range(1, 41)]  # flags found behind IP options too
                others = ([syn(CLIENT, seq) for seq in range(1, 51)]
                          + [tcp_frame(FLOODER, ACK, seq=seq) for seq in range(1, 51)]
                          + [tcp_frame(FLOODER, SYN | ACK, seq=seq) for seq in range(1, 51)])
                assert len(send(flooded + with_options)) <= 4  # 1 in 4,096 passes
                assert sorted(send(others)) == sorted(others)
                assert len(send([syn(SPOOFED[5], seq) for seq in range(1, 101)])) <= 4  # the second source

                flt._attach([FLOODER], 2)  # a fair coin: about half pass
                coin = [syn(FLOODER, seq) for seq in range(1000, 1600)]
                assert 180 <= len(send(coin)) <= 420

                flt.detach()
                plain = [syn(FLOODER, seq) for seq in range(2000, 2050)]
                assert sorted(send(plain)) == sorted(plain)
                assert counters["tap.syn_filter.attached"] == 1 and counters["tap.syn_filter.detached"] == 1
        finally:
            os.close(fd)


@pytest.mark.netns
def test_the_loop_lets_a_finished_floods_filter_go_even_when_nothing_arrives():
    with NetworkNamespace() as ns:
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])  # (its solicitations wake the loop)
        ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        with netstack.run_tap(tap="nsflt1", netns=ns.name, host_ip=None) as running:
            flt = running._syn_filter

            def a_flood_was_shed():  # as the intake counts it, then the filter's look
                flt.intake.shed_by_source = {FLOODER: 5000}
                flt.review(running.clock())
                return flt.active

            assert running.call(a_flood_was_shed)
            deadline = time.monotonic() + 5
            while flt.active and time.monotonic() < deadline:
                time.sleep(0.05)  # (read from here: a call, like a frame, would wake the loop)
            assert not flt.active
            assert running.call(lambda: running.stack.counters["tap.syn_filter.detached"]) == 1


# ------------------------------------------------------------------ the policy
class _RecordedIoctl:
    def __init__(self, fails: bool = False):
        self.calls, self.fails = [], fails

    def __call__(self, fd, request, argument):
        if self.fails:
            raise OSError(25, "Inappropriate ioctl for device")
        self.calls.append(request)


def _policy(monkeypatch, fails=False):
    ioctl = _RecordedIoctl(fails)
    monkeypatch.setattr(syn_flood_filter.fcntl, "ioctl", ioctl)
    counters = Counters()
    intake = FrameIntake(counters)
    return SynFloodFilter(-1, intake, counters), intake, ioctl, counters


def test_a_source_shedding_a_flood_is_filtered_then_thinned_harder_then_let_go(monkeypatch):
    flt, intake, ioctl, counters = _policy(monkeypatch)
    intake.shed_by_source = {CLIENT: 10, FLOODER: 999}
    flt.review(0.0)
    assert not flt.active and ioctl.calls == []  # below a flood's count: nothing
    intake.shed_by_source = {CLIENT: 10, FLOODER: 5000}
    flt.review(0.1)
    assert not flt.active  # not yet the next look
    flt.review(0.2)
    assert flt.sources == [FLOODER] and flt.keep == FIRST_KEEP and intake.watched == {FLOODER}
    assert intake.shed_by_source == {} and ioctl.calls == [syn_flood_filter.TUNATTACHFILTER]
    # still shedding with the filter on: four times thinner, up to MAX_KEEP
    keeps = []
    for step in range(1, 8):
        intake.shed_by_source = {FLOODER: 1}
        intake.syns_by_source = {FLOODER: 3000}
        flt.review(0.2 + 0.2 * step)
        keeps.append(flt.keep)
    assert keeps == [64, 256, 1024, 4096, 4096, 4096, 4096]
    # no longer shedding, the flood still on (SYNs passing x keep): unchanged
    intake.syns_by_source = {FLOODER: 30}
    flt.review(2.0)
    assert flt.sources == [FLOODER] and flt.keep == MAX_KEEP
    # the flood over: detached
    intake.syns_by_source = {}
    flt.review(2.2)
    assert not flt.active and intake.watched == frozenset()
    assert ioctl.calls[-1] == syn_flood_filter.TUNDETACHFILTER
    assert counters["tap.syn_filter.attached"] == 1 and counters["tap.syn_filter.detached"] == 1


def test_a_second_flooding_source_joins_and_a_quiet_one_leaves(monkeypatch):
    flt, intake, ioctl, counters = _policy(monkeypatch)
    intake.shed_by_source = {FLOODER: 5000}
    flt.review(0.0)
    intake.syns_by_source = {FLOODER: 500}
    intake.shed_by_source = {SPOOFED[1]: 2000}
    flt.review(0.2)
    assert flt.sources == [FLOODER, SPOOFED[1]] and flt.keep == FIRST_KEEP
    intake.syns_by_source = {SPOOFED[1]: 500}  # the first one stopped
    flt.review(0.4)
    assert flt.sources == [SPOOFED[1]]
    assert counters["tap.syn_filter.attached"] == 1


def test_a_refused_ioctl_leaves_the_flood_to_the_intake_and_says_so(monkeypatch, caplog):
    flt, intake, ioctl, counters = _policy(monkeypatch, fails=True)
    intake.shed_by_source = {FLOODER: 5000}
    flt.review(0.0)
    assert not flt.active and not flt.available and counters["tap.syn_filter.unavailable"] == 1
    assert "cannot attach a SYN filter" in caplog.text
    intake.shed_by_source = {FLOODER: 5000}
    flt.review(0.2)
    assert counters["tap.syn_filter.unavailable"] == 1  # tried once


def test_the_intake_counts_what_the_filter_reads_and_stays_bounded(monkeypatch):
    monkeypatch.setattr(intake_module, "SHED_SOURCES", 2)
    counters = Counters()
    intake = FrameIntake(counters, syn_limit=4)
    intake.pressure = True
    intake.watched = frozenset({FLOODER})
    for seq in range(1, 21):
        intake.add(syn(FLOODER, seq))
    for source in SPOOFED[1:4]:
        for seq in range(1, 4):
            intake.add(syn(source, seq))
    assert intake.syns_by_source == {FLOODER: 20}  # only the watched sources are counted
    assert intake.shed_by_source[FLOODER] >= 16
    assert len(intake.shed_by_source) == 2  # SHED_SOURCES addresses at most, however many are spoofed
    assert sum(intake.shed_by_source.values()) < counters["tap.drop.syn_queue_full"]
