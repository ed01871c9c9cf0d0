"""ARP (RFC 826) for IPv4 over Ethernet, with the neighbour unreachability model of RFC 4861 §7.3.

Each neighbour is an ``ArpNeighbour`` in one of INCOMPLETE, REACHABLE, STALE, DELAY, PROBE, FAILED —
the states Linux applies to ARP (RFC 4861 §7.3.2, transposed to RFC 826 messages):

- Sending to an unknown address creates an INCOMPLETE entry, broadcasts a request and queues the
  datagram (at most ``arp_queue_limit`` per neighbour; the oldest is dropped first, as Linux does).
  A request is repeated every ``arp_retry_interval`` up to ``arp_retries`` times, then the entry is
  FAILED: its queue is dropped and each queued datagram's transport gets EHOSTUNREACH.
- A reply (or any ARP packet from the neighbour, see below) makes it REACHABLE and flushes the queue.
  After ``arp_reachable_time`` without confirmation it becomes STALE; using a STALE entry moves it to
  DELAY, and after ``arp_delay_first_probe`` to PROBE (unicast requests); no answer -> FAILED.
- STALE and FAILED entries unused for ``arp_stale_time`` age out; the table holds at most
  ``arp_table_limit`` entries (the oldest entry not being resolved is evicted).

RFC 826 "Packet Reception": if the sender's protocol address is in the table, update its hardware
address (accept updates, e.g. a gratuitous ARP after a NIC change); if we are the target, add the
sender when absent ("merge"), and answer a request with a reply. Packets that are not Ethernet/IPv4
(htype 1, ptype 0x0800, hlen 6, plen 4) or whose sender is broadcast/multicast/zero are dropped and
counted. A gratuitous ARP (RFC 5227 §2.3, sender == target == our address) is sent when the interface
comes up; probing before use and conflicts over our address (RFC 5227 §2.1, §2.4) are handled by
``address_conflict.py``.
"""

from __future__ import annotations

import collections
import errno

from netstack.engine.address_conflict import AddressConflicts
from netstack.engine.config import ip_to_text, mac_to_text
from netstack.errors import FormatError
from netstack.formats.arp import (
    ARP_REPLY,
    ARP_REQUEST,
    ETHERNET_ADDRESS_LENGTH,
    HARDWARE_TYPE_ETHERNET,
    IPV4_ADDRESS_LENGTH,
)
from netstack.formats.fast import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    IP_PROTOCOL_TCP,
    IP_PROTOCOL_UDP,
    decode_arp,
    decode_ipv4,
    encode_arp,
    encode_ethernet,
)
from netstack.machines.arp_neighbour import (
    MAX_RANDOM_FACTOR,
    MIN_RANDOM_FACTOR,
    NEIGHBOUR_TABLE,
    NeighbourEvent,
    NeighbourState,
)

BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ANY_ADDRESS = b"\x00\x00\x00\x00"
LIMITED_BROADCAST = b"\xff\xff\xff\xff"
RESOLVE_REQUEST = NeighbourEvent.resolve_request
REPLY_RECEIVED = NeighbourEvent.reply_received
UNSOLICITED_UPDATE = NeighbourEvent.unsolicited_update
CONFIRMED = NeighbourEvent.confirmed
RETRANSMIT_TIMEOUT = NeighbourEvent.retransmit_timeout
REACHABLE_TIMEOUT = NeighbourEvent.reachable_timeout
DELAY_TIMEOUT = NeighbourEvent.delay_timeout
_USABLE = (NeighbourState.REACHABLE, NeighbourState.STALE, NeighbourState.DELAY, NeighbourState.PROBE)
_AGING = (NeighbourState.STALE, NeighbourState.FAILED)
_UNCONFIRMED = (NeighbourState.DELAY, NeighbourState.PROBE, NeighbourState.FAILED)
# Flows remembered per entry while DELAY/PROBE (one datagram each; bounds memory under many flows).
UNCONFIRMED_FLOW_LIMIT = 64


def _flow_key(datagram: bytes) -> bytes:
    """The IPv4 protocol and, for TCP and UDP, the two ports: one sender's flow."""
    try:
        ip = decode_ipv4(datagram)
    except FormatError:
        return b""  # not a datagram the codec reads: all such share one slot
    protocol = ip.protocol
    if protocol == IP_PROTOCOL_TCP or protocol == IP_PROTOCOL_UDP:
        start = ip.payload_offset  # the source and destination ports, first in TCP and UDP alike
        return bytes((protocol,)) + bytes(datagram[start:start + 4])
    return bytes((protocol,))


def _states_that_only_transmit() -> frozenset:
    """States whose one ``resolve_request`` row is unguarded, keeps the state and only transmits.

    Derived from NEIGHBOUR_TABLE, so the send path may skip firing the machine there (the result is
    the same: no state change, the packet goes to the cached address) while the declaration stays the
    single source of truth."""
    only_transmit = set()
    for state in NeighbourState:
        rows = NEIGHBOUR_TABLE.candidates(state, RESOLVE_REQUEST)
        if len(rows) == 1 and not rows[0].guards and rows[0].dest is None and rows[0].actions == ("transmit_packet",):
            only_transmit.add(state)
    return frozenset(only_transmit)


# REACHABLE, DELAY and PROBE with the current declaration (RFC 4861 §7.3.3: send to the cached address).
TRANSMIT_ONLY_STATES = _states_that_only_transmit()


class ArpNeighbour:
    """One neighbour cache entry: the model ``NEIGHBOUR_TABLE`` drives (guards and actions below)."""

    __slots__ = ("layer", "ip", "mac", "state", "queue", "unconfirmed", "timer", "requests", "probes", "used",
                 "confirmed")

    def __init__(self, layer: "ArpLayer", ip: bytes, now: float):
        self.layer = layer
        self.ip = ip
        self.mac: bytes | None = None
        self.state = NeighbourState.NONE
        self.queue: collections.deque[bytes] = collections.deque()
        # Per flow, the last datagram sent while reachability was unconfirmed (DELAY, PROBE), resolved
        # again at once if the probes fail (``ArpLayer._resolve_again_for_waiting_flows``).
        self.unconfirmed: dict[bytes, bytes] = {}
        self.timer = None  # the one timer of the entry: retransmit, reachable, delay or aging
        self.requests = 0
        self.probes = 0
        self.used = now  # last time a datagram went to it (eviction picks the least recently used)
        # Time of the last upper-layer confirmation while REACHABLE and its timer ran (see
        # ``ArpLayer.confirm_reachable``), or None.
        self.confirmed: float | None = None

    # Guards (NEIGHBOUR_GUARDS). Events carry one argument: the datagram or the sender's MAC.
    def request_retries_remaining(self, *args) -> bool:
        return self.requests < self.layer.config.arp_retries

    def probe_retries_remaining(self, *args) -> bool:
        return self.probes < self.layer.config.arp_retries

    def address_changed(self, mac=None, *args) -> bool:
        return mac is not None and mac != self.mac

    # Actions (NEIGHBOUR_ACTIONS).
    def queue_packet(self, datagram, *args) -> None:
        self.layer.enqueue(self, datagram)

    def transmit_packet(self, datagram, *args) -> None:
        self.layer.transmit(self, datagram)

    def reset_probe_count(self, *args) -> None:
        self.requests = 0
        self.probes = 0

    def send_request(self, *args) -> None:
        self.requests += 1
        self.layer.solicit(self, BROADCAST_MAC, self.requests)

    def send_unicast_probe(self, *args) -> None:
        self.probes += 1
        self.layer.solicit(self, self.mac or BROADCAST_MAC, self.probes)

    def record_address(self, mac, *args) -> None:
        self.mac = mac

    def flush_queue(self, *args) -> None:
        self.layer.flush(self)

    def drop_queue_and_report_unreachable(self, *args) -> None:
        self.layer.fail(self)

    def start_retransmit_timer(self, *args) -> None:
        self.layer.start_timer(self, self.layer.config.arp_retry_interval, RETRANSMIT_TIMEOUT)

    def start_reachable_timer(self, *args) -> None:
        self.confirmed = None
        layer = self.layer
        # RFC 4861 §6.3.2: randomise so that neighbours do not probe in lockstep.
        factor = layer.random.uniform(MIN_RANDOM_FACTOR, MAX_RANDOM_FACTOR)
        layer.start_timer(self, layer.config.arp_reachable_time * factor, REACHABLE_TIMEOUT)

    def start_delay_timer(self, *args) -> None:
        self.layer.start_timer(self, self.layer.config.arp_delay_first_probe, DELAY_TIMEOUT)

    def __repr__(self) -> str:
        mac = mac_to_text(self.mac) if self.mac else "-"
        return f"<ArpNeighbour {ip_to_text(self.ip)} {mac} {self.state}>"


class ArpLayer:
    """The ARP cache and protocol of one stack (see the module docstring)."""

    def __init__(self, stack):
        self.stack = stack
        self.config = stack.config
        self.table: dict[bytes, ArpNeighbour] = {}
        self._header_cache: dict[bytes, bytes] = {}  # ip -> Ethernet header while the MAC is usable
        # From the stack's secrets: seeded (the simulator), simulated runs repeat exactly.
        self.random = stack.secrets.random("arp.reachable_time")
        self.conflicts = AddressConflicts(stack, self)  # RFC 5227 probe, announce, defend

    # ----------------------------------------------------------------- the machine
    def fire(self, neighbour: ArpNeighbour, event: str, argument=None) -> None:
        old = neighbour.state
        old_mac = neighbour.mac
        new = NEIGHBOUR_TABLE.fire(neighbour, event, argument)
        if new is old:
            if neighbour.mac is not old_mac and new in _USABLE and neighbour.mac is not None:
                # record_address without a state change (a reply with a new address while REACHABLE)
                self._header_cache[neighbour.ip] = encode_ethernet(neighbour.mac, self.stack.mac, ETHERTYPE_IPV4)
            return
        stack = self.stack
        if new not in _UNCONFIRMED and neighbour.unconfirmed:
            neighbour.unconfirmed.clear()  # confirmed (REACHABLE), or a new address (STALE)
        if new in _USABLE and neighbour.mac is not None:
            self._header_cache[neighbour.ip] = encode_ethernet(neighbour.mac, stack.mac, ETHERTYPE_IPV4)
        else:
            self._header_cache.pop(neighbour.ip, None)
        stack.counters.incr(f"arp.state.{new.value.lower()}")
        stack.trace.event("arp.state", ip=ip_to_text(neighbour.ip), old=old.value, new=new.value, event=str(event))
        if new is NeighbourState.REACHABLE or (old is NeighbourState.INCOMPLETE and new is NeighbourState.STALE):
            stack.counters.incr("arp.resolved")
            stack.trace.event("arp.resolved", ip=ip_to_text(neighbour.ip), mac=mac_to_text(neighbour.mac))
        if new in _AGING and (neighbour.timer is None or not neighbour.timer.active):
            # Not a machine event: unused STALE and FAILED entries are garbage collected (Linux gc).
            self.start_timer(neighbour, self.config.arp_stale_time, None)
        if new is NeighbourState.FAILED and neighbour.unconfirmed:
            self._resolve_again_for_waiting_flows(neighbour)

    def _resolve_again_for_waiting_flows(self, neighbour: ArpNeighbour) -> None:
        """The probes of a learned address failed while flows were sending to it (DELAY, PROBE).

        Nothing was queued, so nobody was told (RFC 4861 §7.3.3 reports queued packets only); a
        connecting TCP would wait for its next SYN retransmission (up to 8 s away) to hit the FAILED
        entry, start resolution again (the declared FAILED row, as Linux) and be told only when that
        failed too. Instead that next packet is each flow's last datagram, now: the same row queues it
        and starts resolution, and if the broadcast requests fail as well, ``fail`` reports
        EHOSTUNREACH to exactly those senders; if the neighbour answers, the datagrams go out again
        (a duplicate a transport tolerates)."""
        waiting = list(neighbour.unconfirmed.values())
        neighbour.unconfirmed.clear()
        self.stack.counters.incr("arp.resolve_again", len(waiting))
        for datagram in waiting:
            self.fire(neighbour, RESOLVE_REQUEST, datagram)

    def start_timer(self, neighbour: ArpNeighbour, delay: float, event: str | None) -> None:
        if neighbour.timer is not None:
            neighbour.timer.cancel()
        neighbour.timer = self.stack.timers.schedule(self.stack.now + delay, self._timer_expired, neighbour, event)

    def _timer_expired(self, neighbour: ArpNeighbour, event: str | None) -> None:
        neighbour.timer = None
        if self.table.get(neighbour.ip) is not neighbour:
            return
        if event is REACHABLE_TIMEOUT and neighbour.confirmed is not None and neighbour.state is NeighbourState.REACHABLE:
            # Confirmations arrived while the timer ran: their ``confirmed`` event (REACHABLE row:
            # restart the reachable timer) is applied now, as of the latest one; the entry goes
            # STALE only once ReachableTime has passed since then.
            confirmed = neighbour.confirmed
            now = self.stack.now
            self.stack.now = confirmed
            try:
                self.fire(neighbour, CONFIRMED)
            finally:
                self.stack.now = now
            neighbour.confirmed = None
            timer = neighbour.timer
            if timer is not None:
                if timer.deadline > now:
                    return
                timer.cancel()  # that restart has run out as well: the timeout below stands
                neighbour.timer = None
        if event is None:
            if neighbour.state in _AGING:
                self._remove(neighbour)
                self.stack.counters.incr("arp.aged_out")
            return
        self.fire(neighbour, event)
        if neighbour.state in _AGING and neighbour.timer is None and self.table.get(neighbour.ip) is neighbour:
            self.start_timer(neighbour, self.config.arp_stale_time, None)

    # ----------------------------------------------------------------- receive
    def receive(self, frame: bytes, offset: int, now: float) -> None:
        stack = self.stack
        counters = stack.counters
        try:
            packet = decode_arp(frame, offset)
        except ValueError as error:  # FormatError is a ValueError; any decoding failure drops the frame
            counters.incr("arp.drop.truncated" if isinstance(error, FormatError) else "arp.drop.malformed")
            return
        if (packet.htype != HARDWARE_TYPE_ETHERNET or packet.ptype != ETHERTYPE_IPV4
                or packet.hlen != ETHERNET_ADDRESS_LENGTH or packet.plen != IPV4_ADDRESS_LENGTH):
            counters.incr("arp.drop.not_ethernet_ipv4")
            return
        op = packet.op
        if op != ARP_REQUEST and op != ARP_REPLY:
            counters.incr("arp.drop.bad_operation")
            return
        sha = packet.sha
        spa = packet.spa
        tpa = packet.tpa
        if sha[0] & 1 or sha == ZERO_MAC:
            counters.incr("arp.drop.bad_sender_mac")  # a multicast/broadcast/zero sender poisons caches
            return
        if sha == stack.mac:
            counters.incr("arp.drop.own_frame")
            return
        counters.incr("arp.received")
        our_address = stack.address
        conflicts = self.conflicts
        if (spa == our_address or conflicts.standing != "usable") and conflicts.check(op, sha, spa, tpa, now):
            return  # someone else claims our address (RFC 5227 §2.4): address_conflict.py decided
        usable_sender = spa != ANY_ADDRESS and self._on_link(spa)
        neighbour = self.table.get(spa) if usable_sender else None
        if neighbour is not None:
            # RFC 826: "If the pair <protocol type, sender protocol address> is already in my table,
            # update the sender hardware address field of the entry with the new information".
            solicited = op == ARP_REPLY and tpa == our_address
            self.fire(neighbour, REPLY_RECEIVED if solicited else UNSOLICITED_UPDATE, sha)
        if tpa != our_address:
            counters.incr("arp.not_for_us")
            return
        if neighbour is None and usable_sender:
            # RFC 826: "If Merge_flag is false, add the triplet to the translation table" (STALE,
            # RFC 4861 §7.2.3: not yet confirmed by a reply to a request of ours).
            neighbour = self._new_entry(spa, now)
            if neighbour is not None:
                self.fire(neighbour, UNSOLICITED_UPDATE, sha)
        if op == ARP_REQUEST and conflicts.standing == "usable":  # a tentative or lost address is not ours
            self._send(ARP_REPLY, sha, sha, spa)
            counters.incr("arp.reply_sent")
            stack.trace.event("arp.reply_sent", to=ip_to_text(spa), mac=mac_to_text(sha))

    def _on_link(self, ip: bytes) -> bool:
        return self.stack.ipv4.on_link(ip)

    # ----------------------------------------------------------------- send path
    def output(self, next_hop: bytes, datagram: bytes, now: float) -> None:
        """Send an IPv4 datagram to the on-link ``next_hop`` (resolving it first if needed)."""
        header = self._header_cache.get(next_hop)
        if header is not None:
            neighbour = self.table[next_hop]
            neighbour.used = now
            state = neighbour.state
            if state in TRANSMIT_ONLY_STATES:
                # What the table's row does there: ``transmit_packet`` (with the cached header).
                if state is NeighbourState.REACHABLE:
                    self.stack.emit(header + datagram)
                else:
                    self.transmit(neighbour, datagram, header)
                return
            self.fire(neighbour, RESOLVE_REQUEST, datagram)
            return
        if next_hop == self.stack.ipv4.broadcast or next_hop == LIMITED_BROADCAST:
            self.stack.emit(encode_ethernet(BROADCAST_MAC, self.stack.mac, ETHERTYPE_IPV4, datagram))
            return
        neighbour = self.table.get(next_hop)
        if neighbour is None:
            neighbour = self._new_entry(next_hop, now)
            if neighbour is None:
                self.stack.counters.incr("arp.drop.table_full")
                return
        neighbour.used = now
        self.fire(neighbour, RESOLVE_REQUEST, datagram)

    def confirm_reachable(self, ip: bytes) -> None:
        """Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. TCP saw new data acked.

        In REACHABLE with its timer running, the table's row only restarts that timer; like Linux
        (``neigh->confirmed``), only the time is noted and the restart is applied when the timer
        expires, so a sender confirming on every ACK does not reschedule a timer each time."""
        neighbour = self.table.get(ip)
        if neighbour is None:
            return
        if neighbour.state is NeighbourState.REACHABLE and neighbour.timer is not None and neighbour.timer.active:
            neighbour.confirmed = self.stack.now
            return
        self.fire(neighbour, CONFIRMED)

    # Actions' work, called by ArpNeighbour.
    def enqueue(self, neighbour: ArpNeighbour, datagram: bytes) -> None:
        queue = neighbour.queue
        limit = self.config.arp_queue_limit
        if limit == 0:
            self.stack.counters.incr("arp.drop.queue_full")
            return
        if len(queue) >= limit:
            queue.popleft()  # drop the oldest, as Linux does
            self.stack.counters.incr("arp.drop.queue_full")
        queue.append(datagram)

    def transmit(self, neighbour: ArpNeighbour, datagram: bytes, header: bytes | None = None) -> None:
        if header is None:
            header = encode_ethernet(neighbour.mac, self.stack.mac, ETHERTYPE_IPV4)
        self.stack.emit(header + datagram)
        if neighbour.state is not NeighbourState.REACHABLE:
            # DELAY or PROBE: sent, but the neighbour may be gone. Remember the flow's last datagram
            # (see ``_resolve_again_for_waiting_flows``).
            unconfirmed = neighbour.unconfirmed
            key = _flow_key(datagram)
            unconfirmed.pop(key, None)
            if len(unconfirmed) >= UNCONFIRMED_FLOW_LIMIT:
                del unconfirmed[next(iter(unconfirmed))]  # the flow that sent least recently
            unconfirmed[key] = datagram

    def flush(self, neighbour: ArpNeighbour) -> None:
        header = encode_ethernet(neighbour.mac, self.stack.mac, ETHERTYPE_IPV4)
        queue = neighbour.queue
        while queue:
            self.stack.emit(header + queue.popleft())

    def fail(self, neighbour: ArpNeighbour) -> None:
        stack = self.stack
        dropped = list(neighbour.queue)
        neighbour.queue.clear()
        stack.counters.incr("arp.failed")
        if dropped:
            stack.counters.incr("arp.drop.unresolved", len(dropped))
        stack.trace.event("arp.failed", ip=ip_to_text(neighbour.ip), dropped=len(dropped))
        # RFC 1122 §3.3.1.4, RFC 4861 §7.3.3: tell each sender its destination is unreachable.
        for datagram in dropped:
            stack.deliver_error(errno.EHOSTUNREACH, datagram, stack.now)

    def solicit(self, neighbour: ArpNeighbour, destination: bytes, attempt: int) -> None:
        self._send(ARP_REQUEST, destination, ZERO_MAC, neighbour.ip)
        self.stack.counters.incr("arp.request_sent")
        self.stack.trace.event("arp.request_sent", target=ip_to_text(neighbour.ip), attempt=attempt)

    def _send(self, op: int, ethernet_destination: bytes, target_mac: bytes, target_ip: bytes,
              sender_ip: bytes | None = None) -> None:
        stack = self.stack
        sender_ip = stack.address if sender_ip is None else sender_ip
        frame = encode_ethernet(ethernet_destination, stack.mac, ETHERTYPE_ARP,
                                encode_arp(op, stack.mac, sender_ip, target_ip, target_mac))
        stack.emit(frame + bytes(60 - len(frame)))  # pad to the Ethernet minimum (RFC 894)

    def send_probe(self) -> None:
        """ARP probe (RFC 5227 §2.1.1): sender address 0.0.0.0, target the address we want."""
        self._send(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, self.stack.address, ANY_ADDRESS)
        self.stack.counters.incr("arp.probe_sent")

    def announce(self) -> None:
        """Gratuitous ARP request: sender and target are our address (RFC 5227 §2.3)."""
        self._send(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, self.stack.address)
        self.stack.counters.incr("arp.gratuitous_sent")

    # ----------------------------------------------------------------- table
    def _new_entry(self, ip: bytes, now: float) -> ArpNeighbour | None:
        table = self.table
        if len(table) >= self.config.arp_table_limit:
            victims = [entry for entry in table.values() if entry.state is not NeighbourState.INCOMPLETE]
            if not victims:
                return None
            self._remove(min(victims, key=lambda entry: entry.used))
            self.stack.counters.incr("arp.evicted")
        neighbour = ArpNeighbour(self, ip, now)
        table[ip] = neighbour
        return neighbour

    def _remove(self, neighbour: ArpNeighbour) -> None:
        if neighbour.timer is not None:
            neighbour.timer.cancel()
            neighbour.timer = None
        self.table.pop(neighbour.ip, None)
        self._header_cache.pop(neighbour.ip, None)

    def lookup(self, ip: bytes) -> ArpNeighbour | None:
        return self.table.get(ip)
