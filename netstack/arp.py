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
comes up.
"""

from __future__ import annotations

import collections
import errno
import struct

from netstack.config import ip_to_text, mac_to_text

ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV4 = 0x0800
BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ARP_REQUEST = 1
ARP_REPLY = 2
ARP_LENGTH = 28

INCOMPLETE = "INCOMPLETE"
REACHABLE = "REACHABLE"
STALE = "STALE"
DELAY = "DELAY"
PROBE = "PROBE"
FAILED = "FAILED"

# Interim: replaced by the codec generated from netstack.formats.arp when it lands.
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_ETHERNET = struct.Struct("!6s6sH")


class ArpNeighbour:
    """One neighbour cache entry (the model the neighbour state machine drives)."""

    __slots__ = ("ip", "mac", "state", "queue", "timer", "probes", "updated", "used")

    def __init__(self, ip: bytes, now: float):
        self.ip = ip
        self.mac: bytes | None = None
        self.state = INCOMPLETE
        self.queue: collections.deque[bytes] = collections.deque()
        self.timer = None
        self.probes = 0
        self.updated = now  # last confirmation or state change
        self.used = now  # last time a datagram went to it

    def __repr__(self) -> str:
        mac = mac_to_text(self.mac) if self.mac else "-"
        return f"<ArpNeighbour {ip_to_text(self.ip)} {mac} {self.state}>"


class ArpLayer:
    """The ARP cache and protocol of one stack (see the module docstring)."""

    def __init__(self, stack):
        self.stack = stack
        self.config = stack.config
        self.table: dict[bytes, ArpNeighbour] = {}
        self._header_cache: dict[bytes, bytes] = {}  # ip -> Ethernet header for IPv4 to that neighbour

    # ----------------------------------------------------------------- receive
    def receive(self, frame: bytes, offset: int, now: float) -> None:
        stack = self.stack
        counters = stack.counters
        if len(frame) - offset < ARP_LENGTH:
            counters.incr("arp.drop.truncated")
            return
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, offset)
        if htype != 1 or ptype != ETHERTYPE_IPV4 or hlen != 6 or plen != 4:
            counters.incr("arp.drop.not_ethernet_ipv4")
            return
        if op != ARP_REQUEST and op != ARP_REPLY:
            counters.incr("arp.drop.bad_operation")
            return
        if sha[0] & 1 or sha == ZERO_MAC:
            counters.incr("arp.drop.bad_sender_mac")  # a multicast/broadcast/zero sender poisons caches
            return
        if sha == stack.mac:
            counters.incr("arp.drop.own_frame")
            return
        counters.incr("arp.received")
        our_address = stack.address
        if spa == our_address:
            # Someone else claims our address (RFC 5227 §2.4 conflict); we keep it and count it.
            counters.incr("arp.address_conflict")
            stack.trace.event("arp.conflict", ip=ip_to_text(spa), mac=mac_to_text(sha))
            return
        # RFC 826: "If the pair <protocol type, sender protocol address> is already in my table,
        # update the sender hardware address field of the entry with the new information".
        merged = False
        neighbour = self.table.get(spa)
        if neighbour is not None and spa != b"\x00\x00\x00\x00":
            self._confirm(neighbour, sha, now, solicited=(op == ARP_REPLY and tpa == our_address))
            merged = True
        if tpa != our_address:
            counters.incr("arp.not_for_us")
            return
        if not merged and spa != b"\x00\x00\x00\x00" and self._on_link(spa):
            # RFC 826: "If Merge_flag is false, add the triplet to the translation table". Linux adds
            # it STALE (not confirmed by a reply of ours); RFC 4861 §7.2.3 does the same.
            neighbour = self._new_entry(spa, now)
            if neighbour is not None:
                neighbour.mac = sha
                self._set_state(neighbour, STALE, now)
        if op == ARP_REQUEST:
            reply_to = sha
            self._send(ARP_REPLY, reply_to, reply_to, spa)
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
            if neighbour.state is STALE:
                # RFC 4861 §7.3.3: using a STALE entry starts the DELAY timer; the datagram is sent.
                self._set_state(neighbour, DELAY, now)
                neighbour.timer = self.stack.timers.schedule(
                    now + self.config.arp_delay_first_probe, self._delay_expired, neighbour)
            self.stack.emit(header + datagram)
            return
        if next_hop == self.stack.ipv4.broadcast or next_hop == b"\xff\xff\xff\xff":
            self.stack.emit(BROADCAST_MAC + self.stack.mac + b"\x08\x00" + datagram)
            return
        neighbour = self.table.get(next_hop)
        if neighbour is None or neighbour.state is FAILED:
            if neighbour is not None:
                self._remove(neighbour)
            neighbour = self._new_entry(next_hop, now)
            if neighbour is None:
                self.stack.counters.incr("arp.drop.table_full")
                return
            self._enqueue(neighbour, datagram)
            neighbour.probes = 0
            self._solicit(neighbour, now, broadcast=True)
            return
        # INCOMPLETE (a resolution is running): queue behind it.
        neighbour.used = now
        self._enqueue(neighbour, datagram)

    def _enqueue(self, neighbour: ArpNeighbour, datagram: bytes) -> None:
        queue = neighbour.queue
        if len(queue) >= self.config.arp_queue_limit:
            if not queue:
                self.stack.counters.incr("arp.drop.queue_full")
                return
            queue.popleft()
            self.stack.counters.incr("arp.drop.queue_full")
        queue.append(datagram)

    def _solicit(self, neighbour: ArpNeighbour, now: float, *, broadcast: bool) -> None:
        neighbour.probes += 1
        destination = BROADCAST_MAC if broadcast or neighbour.mac is None else neighbour.mac
        self._send(ARP_REQUEST, destination, ZERO_MAC, neighbour.ip)
        self.stack.counters.incr("arp.request_sent")
        self.stack.trace.event("arp.request_sent", target=ip_to_text(neighbour.ip), attempt=neighbour.probes)
        neighbour.timer = self.stack.timers.schedule(
            now + self.config.arp_retry_interval, self._retry_expired, neighbour)

    def _send(self, op: int, ethernet_destination: bytes, target_mac: bytes, target_ip: bytes) -> None:
        stack = self.stack
        frame = _ETHERNET.pack(ethernet_destination, stack.mac, ETHERTYPE_ARP) + _ARP.pack(
            1, ETHERTYPE_IPV4, 6, 4, op, stack.mac, stack.address, target_mac, target_ip)
        stack.emit(frame + bytes(60 - len(frame)))  # pad to the Ethernet minimum (RFC 894)

    def announce(self) -> None:
        """Gratuitous ARP request: sender and target are our address (RFC 5227 §2.3)."""
        stack = self.stack
        self._send(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, stack.address)
        stack.counters.incr("arp.gratuitous_sent")

    # ----------------------------------------------------------------- state changes
    def _set_state(self, neighbour: ArpNeighbour, state: str, now: float) -> None:
        old = neighbour.state
        if neighbour.timer is not None:
            neighbour.timer.cancel()
            neighbour.timer = None
        neighbour.state = state
        neighbour.updated = now
        if state in (REACHABLE, STALE, DELAY, PROBE) and neighbour.mac is not None:
            self._header_cache[neighbour.ip] = _ETHERNET.pack(neighbour.mac, self.stack.mac, ETHERTYPE_IPV4)
        else:
            self._header_cache.pop(neighbour.ip, None)
        if old != state:
            self.stack.counters.incr(f"arp.state.{state.lower()}")
            self.stack.trace.event("arp.state", ip=ip_to_text(neighbour.ip), old=old, new=state)
        if state is STALE or state is FAILED:
            neighbour.timer = self.stack.timers.schedule(
                now + self.config.arp_stale_time, self._aging_expired, neighbour)

    def _confirm(self, neighbour: ArpNeighbour, mac: bytes, now: float, *, solicited: bool) -> None:
        changed = neighbour.mac is not None and neighbour.mac != mac
        neighbour.mac = mac
        if neighbour.state is INCOMPLETE or solicited or neighbour.state in (DELAY, PROBE):
            # RFC 4861 §7.2.5: a (solicited) answer while resolving confirms reachability. An ARP
            # request from the neighbour naming us is also proof it can hear us (Linux does the same).
            self._set_state(neighbour, REACHABLE, now)
            neighbour.timer = self.stack.timers.schedule(
                now + self.config.arp_reachable_time, self._reachable_expired, neighbour)
            self.stack.trace.event("arp.resolved", ip=ip_to_text(neighbour.ip), mac=mac_to_text(mac))
            self.stack.counters.incr("arp.resolved")
            self._flush(neighbour, now)
        elif changed:
            # RFC 4861 §7.2.5: an unsolicited new address makes a confirmed entry STALE.
            self._set_state(neighbour, STALE, now)
            self.stack.counters.incr("arp.updated")
        elif neighbour.state is FAILED:
            self._set_state(neighbour, STALE, now)

    def _flush(self, neighbour: ArpNeighbour, now: float) -> None:
        header = self._header_cache[neighbour.ip]
        queue = neighbour.queue
        while queue:
            self.stack.emit(header + queue.popleft())

    def _retry_expired(self, neighbour: ArpNeighbour) -> None:
        now = self.stack.now
        neighbour.timer = None
        if neighbour.probes < self.config.arp_retries:
            self._solicit(neighbour, now, broadcast=neighbour.state is INCOMPLETE)
            return
        dropped = list(neighbour.queue)
        neighbour.queue.clear()
        self._set_state(neighbour, FAILED, now)
        self.stack.counters.incr("arp.failed")
        if dropped:
            self.stack.counters.incr("arp.drop.unresolved", len(dropped))
        self.stack.trace.event("arp.failed", ip=ip_to_text(neighbour.ip), dropped=len(dropped))
        # RFC 1122 §3.3.1.4 / RFC 4861 §7.3.3: tell the senders the host is unreachable.
        for datagram in dropped:
            self.stack.deliver_error(errno.EHOSTUNREACH, datagram, now)

    def _reachable_expired(self, neighbour: ArpNeighbour) -> None:
        neighbour.timer = None
        self._set_state(neighbour, STALE, self.stack.now)

    def _delay_expired(self, neighbour: ArpNeighbour) -> None:
        neighbour.timer = None
        self._set_state(neighbour, PROBE, self.stack.now)
        neighbour.probes = 0
        self._solicit(neighbour, self.stack.now, broadcast=False)

    def _aging_expired(self, neighbour: ArpNeighbour) -> None:
        neighbour.timer = None
        if self.table.get(neighbour.ip) is neighbour:
            self._remove(neighbour)
            self.stack.counters.incr("arp.aged_out")

    # ----------------------------------------------------------------- table
    def _new_entry(self, ip: bytes, now: float) -> ArpNeighbour | None:
        table = self.table
        if len(table) >= self.config.arp_table_limit:
            victims = [entry for entry in table.values() if entry.state is not INCOMPLETE]
            if not victims:
                return None
            self._remove(min(victims, key=lambda entry: entry.used))
            self.stack.counters.incr("arp.evicted")
        neighbour = ArpNeighbour(ip, now)
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
