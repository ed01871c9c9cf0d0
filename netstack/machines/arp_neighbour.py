"""The ARP neighbour entry: RFC 4861 §7.3.2's reachability states, as Linux applies them to ARP.

Read first: RFC 826 (the ARP messages and the merge rule), RFC 4861 §7.3.2-§7.3.3 (states and
what moves them), §7.2.2 (queueing while resolving), §10 (constants) and Appendix C (the state
table this declaration follows, with NS/NA read as ARP request/reply); Linux net/core/neighbour.c.

The machine decides states and actions; the engine owns the entry (the model), its pending-packet
queue and its timers, and implements the guards and actions below as methods.

Runtime API
-----------
- ``NeighbourState``: NONE (no entry yet: Appendix C's "-"), INCOMPLETE, REACHABLE, STALE, DELAY,
  PROBE, FAILED.
- ``NeighbourEvent`` (StrEnum):
  ``resolve_request`` (a packet must go to this neighbour; fired for *every* such packet),
  ``reply_received`` (an ARP reply from it: a solicited confirmation, RFC 4861 App. C "NA, S=1"),
  ``confirmed`` (upper-layer reachability confirmation, RFC 4861 §7.3.1, e.g. TCP progress),
  ``unsolicited_update`` (a request or gratuitous ARP carrying its address, the RFC 826 merge),
  ``reachable_timeout``, ``delay_timeout``, ``retransmit_timeout``.
- ``NEIGHBOUR_TABLE.fire(entry, event, *args) -> NeighbourState``: the rules of
  ``netstack.machines.table`` (no user calls here: an event without a row is ignored). Extra
  ``args`` (e.g. the packet, the sender's hardware address) reach every guard and action.
- ``NEIGHBOUR_GUARDS``, ``NEIGHBOUR_ACTIONS``, ``NeighbourModel`` (typing.Protocol): what the entry
  implements.

Packets queued while INCOMPLETE (RFC 4861 §7.2.2): ``queue_packet`` appends to a bounded queue of
``UNRESOLVED_QUEUE_LENGTH`` packets, dropping the oldest when full (Linux unres_qlen); a reply (or
an unsolicited update) sends them all (``flush_queue``); when the retries run out the entry goes
FAILED and ``drop_queue_and_report_unreachable`` drops them and reports EHOSTUNREACH (ICMP
destination unreachable, code host unreachable, for forwarded packets; the error to local senders).
A packet for a FAILED entry starts resolution again (Linux), so FAILED is not forever.

Timers (the engine runs them; the actions say when to start them): the retransmit timer
(``RETRANS_TIMER``) while INCOMPLETE or PROBE, the reachable timer (``REACHABLE_TIME``, randomised
by the engine between ``MIN_RANDOM_FACTOR`` and ``MAX_RANDOM_FACTOR``) in REACHABLE, the delay timer
(``DELAY_FIRST_PROBE_TIME``) in DELAY. Starting a timer replaces the one running for the entry.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any, Protocol

from netstack.machines.table import TransitionTable, declare_machine, transition

# RFC 4861 §10 protocol constants (Linux net.ipv4.neigh.default.* has the same defaults).
MAX_MULTICAST_SOLICIT = 3  # broadcast requests before INCOMPLETE fails (Linux mcast_solicit = 3)
MAX_UNICAST_SOLICIT = 3  # unicast probes before PROBE fails (Linux ucast_solicit = 3)
REACHABLE_TIME = 30.0  # seconds a confirmation is trusted (Linux base_reachable_time_ms = 30000)
MIN_RANDOM_FACTOR = 0.5  # RFC 4861 §6.3.2: ReachableTime is randomised in [0.5, 1.5) x base
MAX_RANDOM_FACTOR = 1.5
DELAY_FIRST_PROBE_TIME = 5.0  # seconds in DELAY before probing (Linux delay_first_probe_time = 5)
RETRANS_TIMER = 1.0  # seconds between requests / probes (Linux retrans_time_ms = 1000)
# RFC 4861 §7.2.2 asks for at least one queued packet and a bound; Linux's default arp unres_qlen
# is 101 packets (derived from unres_qlen_bytes).
UNRESOLVED_QUEUE_LENGTH = 101


class NeighbourState(Enum):
    """RFC 4861 §7.3.2 reachability states (NONE: no entry yet)."""

    NONE = "NONE"
    INCOMPLETE = "INCOMPLETE"
    REACHABLE = "REACHABLE"
    STALE = "STALE"
    DELAY = "DELAY"
    PROBE = "PROBE"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value

    # Members are singletons, so identity is the right hash; Enum's own hashes the name in Python,
    # which costs the table ~60 ns per lookup.
    __hash__ = object.__hash__


class NeighbourEvent(StrEnum):
    """What happens to a neighbour entry (see the module docstring)."""

    resolve_request = "resolve_request"
    reply_received = "reply_received"
    confirmed = "confirmed"
    unsolicited_update = "unsolicited_update"
    reachable_timeout = "reachable_timeout"
    delay_timeout = "delay_timeout"
    retransmit_timeout = "retransmit_timeout"


N = NeighbourState
E = NeighbourEvent

_RESOLVE = ["queue_packet", "reset_probe_count", "send_request", "start_retransmit_timer"]

TRANSITIONS = [
    transition(E.resolve_request, N.NONE, N.INCOMPLETE, after=_RESOLVE,
               rfc="4861 §7.2.2, App. C: create entry, send request, start retransmit timer"),
    transition(E.resolve_request, N.FAILED, N.INCOMPLETE, after=_RESOLVE,
               rfc="4861 §7.2.2 (entry was discarded; Linux keeps it FAILED and resolves again)"),
    transition(E.resolve_request, N.INCOMPLETE, None, after=["queue_packet"],
               rfc="4861 §7.2.2: queue while resolving (bounded)"),
    transition(E.retransmit_timeout, N.INCOMPLETE, None, conditions=["request_retries_remaining"],
               after=["send_request", "start_retransmit_timer"],
               rfc="4861 §7.2.2: retransmit every RetransTimer"),
    transition(E.retransmit_timeout, N.INCOMPLETE, N.FAILED, unless=["request_retries_remaining"],
               after=["drop_queue_and_report_unreachable"],
               rfc="4861 §7.2.2, App. C: MAX_MULTICAST_SOLICIT reached, ICMP host unreachable"),
    transition(E.reply_received, N.INCOMPLETE, N.REACHABLE,
               after=["record_address", "flush_queue", "start_reachable_timer"],
               rfc="4861 §7.2.5, App. C: solicited reply, send queued packets"),
    transition(E.unsolicited_update, N.INCOMPLETE, N.STALE, after=["record_address", "flush_queue"],
               rfc="4861 §7.2.3, App. C: address learnt unsolicited, send queued packets"),
    transition(E.unsolicited_update, N.NONE, N.STALE, after=["record_address"],
               rfc="826 merge (we are the target), 4861 §7.2.3: create entry STALE"),
    transition(E.reachable_timeout, N.REACHABLE, N.STALE,
               rfc="4861 §7.3.3: ReachableTime passed without confirmation"),
    transition(E.resolve_request, N.STALE, N.DELAY, after=["transmit_packet", "start_delay_timer"],
               rfc="4861 §7.3.3: first packet to a STALE neighbour"),
    transition(E.delay_timeout, N.DELAY, N.PROBE,
               after=["reset_probe_count", "send_unicast_probe", "start_retransmit_timer"],
               rfc="4861 §7.3.3: DELAY_FIRST_PROBE_TIME passed, probe"),
    transition(E.retransmit_timeout, N.PROBE, None, conditions=["probe_retries_remaining"],
               after=["send_unicast_probe", "start_retransmit_timer"],
               rfc="4861 §7.3.3: retransmit unicast probe"),
    transition(E.retransmit_timeout, N.PROBE, N.FAILED, unless=["probe_retries_remaining"],
               after=["drop_queue_and_report_unreachable"],
               rfc="4861 §7.3.3, App. C: MAX_UNICAST_SOLICIT reached (Linux: FAILED)"),
    transition(E.reply_received, [N.STALE, N.DELAY, N.PROBE, N.FAILED], N.REACHABLE,
               after=["record_address", "start_reachable_timer"],
               rfc="4861 §7.2.5, App. C: solicited reply confirms reachability"),
    transition(E.reply_received, N.REACHABLE, None, after=["record_address", "start_reachable_timer"],
               rfc="4861 §7.2.5: confirmation restarts ReachableTime"),
    transition(E.confirmed, [N.STALE, N.DELAY, N.PROBE], N.REACHABLE, after=["start_reachable_timer"],
               rfc="4861 §7.3.1, App. C: upper-layer reachability confirmation"),
    transition(E.confirmed, N.REACHABLE, None, after=["start_reachable_timer"],
               rfc="4861 §7.3.1: confirmation restarts ReachableTime"),
    transition(E.unsolicited_update, [N.REACHABLE, N.DELAY, N.PROBE, N.FAILED], N.STALE,
               conditions=["address_changed"], after=["record_address"],
               rfc="4861 §7.2.3, App. C: different address, update and go STALE"),
    transition(E.unsolicited_update, N.STALE, None, conditions=["address_changed"], after=["record_address"],
               rfc="4861 §7.2.3: different address, update"),
    transition(E.resolve_request, [N.REACHABLE, N.DELAY, N.PROBE], None, after=["transmit_packet"],
               rfc="4861 §7.3.3: send to the cached address"),
]

NEIGHBOUR_MACHINE = declare_machine("arp_neighbour", NeighbourState, TRANSITIONS, initial=N.NONE)
NEIGHBOUR_TABLE = TransitionTable(NEIGHBOUR_MACHINE, NeighbourState, list(NeighbourEvent))

NEIGHBOUR_GUARDS = (
    "request_retries_remaining",  # fewer than MAX_MULTICAST_SOLICIT requests sent since reset_probe_count
    "probe_retries_remaining",  # fewer than MAX_UNICAST_SOLICIT probes sent since reset_probe_count
    "address_changed",  # the message carries a hardware address other than the cached one
)
NEIGHBOUR_ACTIONS = (
    "queue_packet", "transmit_packet", "reset_probe_count", "send_request", "send_unicast_probe",
    "record_address", "flush_queue", "drop_queue_and_report_unreachable",
    "start_retransmit_timer", "start_reachable_timer", "start_delay_timer",
)


class NeighbourModel(Protocol):
    """What ``NEIGHBOUR_TABLE.fire`` needs from a neighbour entry."""

    state: NeighbourState

    def request_retries_remaining(self, *args: Any) -> bool: ...
    def probe_retries_remaining(self, *args: Any) -> bool: ...
    def address_changed(self, *args: Any) -> bool: ...

    def queue_packet(self, *args: Any) -> None: ...  # bounded: drop the oldest when full
    def transmit_packet(self, *args: Any) -> None: ...  # send to the cached address
    def reset_probe_count(self, *args: Any) -> None: ...
    def send_request(self, *args: Any) -> None: ...  # broadcast ARP request; counts a request
    def send_unicast_probe(self, *args: Any) -> None: ...  # unicast ARP request; counts a probe
    def record_address(self, *args: Any) -> None: ...
    def flush_queue(self, *args: Any) -> None: ...  # send every queued packet, in order
    def drop_queue_and_report_unreachable(self, *args: Any) -> None: ...  # EHOSTUNREACH
    def start_retransmit_timer(self, *args: Any) -> None: ...  # RETRANS_TIMER
    def start_reachable_timer(self, *args: Any) -> None: ...  # REACHABLE_TIME, randomised
    def start_delay_timer(self, *args: Any) -> None: ...  # DELAY_FIRST_PROBE_TIME
