"""ARP neighbour entries (RFC 4861 §7.3.2 on RFC 826): the rules one by one, and random events
against an entry that queues packets, counting retries, with the invariants of issue 3 (FAILED drops
the queued packets and reports EHOSTUNREACH; retries and the queue are bounded)."""

from __future__ import annotations

import errno

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from netstack.machines.arp_neighbour import (
    DELAY_FIRST_PROBE_TIME,
    MAX_MULTICAST_SOLICIT,
    MAX_UNICAST_SOLICIT,
    NEIGHBOUR_ACTIONS,
    NEIGHBOUR_GUARDS,
    NEIGHBOUR_TABLE,
    REACHABLE_TIME,
    RETRANS_TIMER,
    TRANSITIONS,
    UNRESOLVED_QUEUE_LENGTH,
    NeighbourEvent,
    NeighbourModel,
    NeighbourState,
)

from tests.support.machine_models import RecordingModel

N = NeighbourState
E = NeighbourEvent


class NeighbourEntry:
    """A minimal engine-side entry: bounded queue, request/probe counters, timer and output logs."""

    def __init__(self, address=None):
        self.state = N.NONE
        self.address = address
        self.queue: list = []
        self.sent: list = []  # packets transmitted to the neighbour
        self.dropped: list = []  # (packet, errno)
        self.requests = 0
        self.probes = 0
        self.timer = None

    # guards
    def request_retries_remaining(self, *args):
        return self.requests < MAX_MULTICAST_SOLICIT

    def probe_retries_remaining(self, *args):
        return self.probes < MAX_UNICAST_SOLICIT

    def address_changed(self, packet=None, address=None):
        return address is not None and address != self.address

    # actions
    def queue_packet(self, packet=None, address=None):
        self.queue.append(packet)
        if len(self.queue) > UNRESOLVED_QUEUE_LENGTH:
            self.dropped.append((self.queue.pop(0), errno.ENOBUFS))

    def transmit_packet(self, packet=None, address=None):
        self.sent.append(packet)

    def reset_probe_count(self, *args):
        self.requests = self.probes = 0

    def send_request(self, *args):
        self.requests += 1

    def send_unicast_probe(self, *args):
        self.probes += 1

    def record_address(self, packet=None, address=None):
        if address is not None:
            self.address = address

    def flush_queue(self, *args):
        self.sent.extend(self.queue)
        self.queue.clear()

    def drop_queue_and_report_unreachable(self, *args):
        self.dropped.extend((packet, errno.EHOSTUNREACH) for packet in self.queue)
        self.queue.clear()

    def start_retransmit_timer(self, *args):
        self.timer = ("retransmit", RETRANS_TIMER)

    def start_reachable_timer(self, *args):
        self.timer = ("reachable", REACHABLE_TIME)

    def start_delay_timer(self, *args):
        self.timer = ("delay", DELAY_FIRST_PROBE_TIME)


def fire(state, event, **guards):
    model = RecordingModel(state, NEIGHBOUR_GUARDS, NEIGHBOUR_ACTIONS, guards)
    return NEIGHBOUR_TABLE.fire(model, event), model.actions


def test_constants_are_rfc4861_section_10_defaults():
    assert (MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT) == (3, 3)
    assert (REACHABLE_TIME, DELAY_FIRST_PROBE_TIME, RETRANS_TIMER) == (30.0, 5.0, 1.0)
    assert UNRESOLVED_QUEUE_LENGTH >= 1


def test_rows_cite_rfcs_and_the_entry_satisfies_the_protocol():
    for row in TRANSITIONS:
        assert row["rfc"].split()[0] in {"4861", "826"}
    for name in (*NEIGHBOUR_GUARDS, *NEIGHBOUR_ACTIONS):
        assert callable(getattr(NeighbourModel, name))
        assert callable(getattr(NeighbourEntry, name))


def test_first_packet_creates_incomplete_entry_and_broadcasts_request_rfc4861_7_2_2():
    assert fire(N.NONE, E.resolve_request) == (
        N.INCOMPLETE, ["queue_packet", "reset_probe_count", "send_request", "start_retransmit_timer"])


def test_packets_while_incomplete_are_queued_rfc4861_7_2_2():
    assert fire(N.INCOMPLETE, E.resolve_request) == (N.INCOMPLETE, ["queue_packet"])


def test_retransmit_timeout_with_retries_left_sends_another_request_rfc4861_7_2_2():
    assert fire(N.INCOMPLETE, E.retransmit_timeout, request_retries_remaining=True) == (
        N.INCOMPLETE, ["send_request", "start_retransmit_timer"])


def test_retries_exhausted_fails_and_reports_host_unreachable_rfc4861_7_2_2():
    assert fire(N.INCOMPLETE, E.retransmit_timeout, request_retries_remaining=False) == (
        N.FAILED, ["drop_queue_and_report_unreachable"])


def test_reply_while_incomplete_records_address_and_flushes_queue_rfc4861_7_2_5():
    assert fire(N.INCOMPLETE, E.reply_received) == (
        N.REACHABLE, ["record_address", "flush_queue", "start_reachable_timer"])


def test_unsolicited_update_while_incomplete_goes_stale_and_flushes_rfc4861_7_2_3():
    assert fire(N.INCOMPLETE, E.unsolicited_update) == (N.STALE, ["record_address", "flush_queue"])


def test_unsolicited_update_without_entry_creates_stale_entry_rfc826_merge():
    assert fire(N.NONE, E.unsolicited_update) == (N.STALE, ["record_address"])


def test_reachable_time_expiry_goes_stale_rfc4861_7_3_3():
    assert fire(N.REACHABLE, E.reachable_timeout) == (N.STALE, [])


def test_first_packet_to_stale_neighbour_enters_delay_rfc4861_7_3_3():
    assert fire(N.STALE, E.resolve_request) == (N.DELAY, ["transmit_packet", "start_delay_timer"])


def test_delay_timeout_starts_unicast_probing_rfc4861_7_3_3():
    assert fire(N.DELAY, E.delay_timeout) == (
        N.PROBE, ["reset_probe_count", "send_unicast_probe", "start_retransmit_timer"])


def test_probe_retransmit_with_retries_left_rfc4861_7_3_3():
    assert fire(N.PROBE, E.retransmit_timeout, probe_retries_remaining=True) == (
        N.PROBE, ["send_unicast_probe", "start_retransmit_timer"])


def test_probe_retries_exhausted_fails_rfc4861_7_3_3():
    assert fire(N.PROBE, E.retransmit_timeout, probe_retries_remaining=False)[0] is N.FAILED


@pytest.mark.parametrize("state", [N.STALE, N.DELAY, N.PROBE, N.FAILED])
def test_reply_confirms_reachability_rfc4861_7_2_5(state):
    assert fire(state, E.reply_received) == (N.REACHABLE, ["record_address", "start_reachable_timer"])


@pytest.mark.parametrize("state", [N.STALE, N.DELAY, N.PROBE])
def test_upper_layer_confirmation_makes_reachable_rfc4861_7_3_1(state):
    assert fire(state, E.confirmed) == (N.REACHABLE, ["start_reachable_timer"])


@pytest.mark.parametrize("state", [N.REACHABLE, N.DELAY, N.PROBE, N.FAILED])
def test_new_address_in_unsolicited_update_goes_stale_rfc4861_7_2_3(state):
    assert fire(state, E.unsolicited_update, address_changed=True) == (N.STALE, ["record_address"])


@pytest.mark.parametrize("state", [N.REACHABLE, N.STALE, N.DELAY, N.PROBE])
def test_same_address_in_unsolicited_update_changes_nothing_rfc4861_7_2_3(state):
    assert fire(state, E.unsolicited_update, address_changed=False) == (state, [])


@pytest.mark.parametrize("state", [N.REACHABLE, N.DELAY, N.PROBE])
def test_packets_to_known_address_are_transmitted(state):
    assert fire(state, E.resolve_request) == (state, ["transmit_packet"])


def test_packet_for_failed_entry_resolves_again_like_linux():
    assert fire(N.FAILED, E.resolve_request)[0] is N.INCOMPLETE


@pytest.mark.parametrize("event", [E.reachable_timeout, E.delay_timeout, E.retransmit_timeout])
def test_stale_timers_in_other_states_are_ignored(event):
    assert fire(N.STALE, event) == (N.STALE, [])


def test_resolution_failure_end_to_end_drops_every_queued_packet_with_ehostunreach():
    entry = NeighbourEntry()
    for packet in range(5):
        NEIGHBOUR_TABLE.fire(entry, E.resolve_request, packet)
    for _ in range(MAX_MULTICAST_SOLICIT):
        NEIGHBOUR_TABLE.fire(entry, E.retransmit_timeout)
    assert entry.state is N.FAILED
    assert entry.requests == MAX_MULTICAST_SOLICIT
    assert entry.dropped == [(packet, errno.EHOSTUNREACH) for packet in range(5)]
    assert entry.queue == [] and entry.sent == []


def test_resolution_success_end_to_end_sends_queued_packets_in_order():
    entry = NeighbourEntry()
    for packet in range(3):
        NEIGHBOUR_TABLE.fire(entry, E.resolve_request, packet)
    NEIGHBOUR_TABLE.fire(entry, E.reply_received, None, "02:00:00:00:00:01")
    assert (entry.state, entry.sent, entry.address) == (N.REACHABLE, [0, 1, 2], "02:00:00:00:00:01")


class NeighbourRandomEvents(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.entry = NeighbourEntry()
        self.next_packet = 0
        self.reported: set = set()

    @rule()
    def packet_to_send(self):
        NEIGHBOUR_TABLE.fire(self.entry, E.resolve_request, self.next_packet)
        self.next_packet += 1

    @rule(address=st.sampled_from([None, "02:00:00:00:00:01", "02:00:00:00:00:02"]),
          event=st.sampled_from([E.reply_received, E.unsolicited_update, E.confirmed]))
    def message(self, address, event):
        NEIGHBOUR_TABLE.fire(self.entry, event, None, address)

    @rule(event=st.sampled_from([E.reachable_timeout, E.delay_timeout, E.retransmit_timeout]))
    def timer(self, event):
        before = self.entry.state
        queued = list(self.entry.queue)
        NEIGHBOUR_TABLE.fire(self.entry, event)
        if self.entry.state is N.FAILED and before is not N.FAILED:
            # FAILED drops what was queued and reports EHOSTUNREACH for each packet.
            assert self.entry.queue == []
            assert [(p, errno.EHOSTUNREACH) for p in queued] == self.entry.dropped[len(self.entry.dropped) - len(queued):]
            if before is N.INCOMPLETE:
                assert self.entry.requests == MAX_MULTICAST_SOLICIT
            else:
                assert self.entry.probes == MAX_UNICAST_SOLICIT

    @invariant()
    def queue_only_while_incomplete_and_bounded(self):
        assert len(self.entry.queue) <= UNRESOLVED_QUEUE_LENGTH
        if self.entry.state is not N.INCOMPLETE:
            assert self.entry.queue == []

    @invariant()
    def retries_bounded(self):
        assert self.entry.requests <= MAX_MULTICAST_SOLICIT
        assert self.entry.probes <= MAX_UNICAST_SOLICIT

    @invariant()
    def no_packet_lost_silently(self):
        accounted = len(self.entry.queue) + len(self.entry.sent) + len(self.entry.dropped)
        assert accounted == self.next_packet


TestNeighbourRandomEvents = NeighbourRandomEvents.TestCase
