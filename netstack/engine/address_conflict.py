"""IPv4 address conflict detection and defence (RFC 5227).

- **Probe before use** (§2.1, ``StackConfig.arp_probe``, off by default so ``netstack up`` is ready at
  once): after a random wait of up to PROBE_WAIT, PROBE_NUM ARP probes (sender address 0.0.0.0, target
  our address) PROBE_MIN..PROBE_MAX apart, then ANNOUNCE_WAIT. Any ARP packet meanwhile whose sender
  is our address, or another host's probe for it (§2.1.1), means the address is taken: we never use
  it. Until the probing ends the address is *tentative*: we send no IP and answer no ARP for it.
- **Announce** (§2.3): a gratuitous ARP when the address becomes ours (``gratuitous_arp``).
- **Conflict while in use** (§2.4): an ARP packet from another host whose sender address is ours.
  ``StackConfig.arp_conflict_policy`` chooses among §2.4's three answers:

  - ``"defend"`` (b, the default): the first conflict in DEFEND_INTERVAL (10 s) is answered with one
    announcement and the address is kept; a second one inside the interval makes us retreat;
  - ``"retreat"`` (a): stop using the address at once;
  - ``"keep"`` (c): defend at most once per DEFEND_INTERVAL and never retreat (a server whose address
    must not move).

  Retreating means the address is *lost*: IP output fails with EADDRNOTAVAIL and ARP requests for it
  go unanswered, so the other host keeps it undisturbed. Every conflict is counted
  (``arp.address_conflict``, ``arp.address_defended``, ``arp.address_retreated``), traced
  (``arp.conflict`` with the action) and kept in ``events`` (the last 16) for ``netstack up``'s warning.
"""

from __future__ import annotations

import collections

from netstack.engine.config import ip_to_text, mac_to_text
from netstack.formats.arp import ARP_REQUEST

#: RFC 5227 §1.1 constants (seconds, or counts).
PROBE_WAIT = 1.0
PROBE_NUM = 3
PROBE_MIN = 1.0
PROBE_MAX = 2.0
ANNOUNCE_WAIT = 2.0
DEFEND_INTERVAL = 10.0
CONFLICT_POLICIES = ("defend", "retreat", "keep")
ANY_ADDRESS = b"\x00\x00\x00\x00"


class AddressConflicts:
    """Our address's standing: ``"tentative"`` (probing), ``"usable"`` or ``"lost"``."""

    def __init__(self, stack, arp):
        self.stack = stack
        self.arp = arp
        self.policy = stack.config.arp_conflict_policy
        self.standing = "usable"
        self.last_defended: float | None = None
        self.events: collections.deque = collections.deque(maxlen=16)  # (time, mac text, action)
        self.count = 0
        self.probes_sent = 0
        self._random = stack.secrets.random("arp.probe")

    @property
    def usable(self) -> bool:
        return self.standing == "usable"

    def _set_standing(self, standing: str) -> None:
        self.standing = standing
        self.stack.ipv4.address_usable = standing == "usable"

    # ----------------------------------------------------------------- start
    def start(self, now: float) -> None:
        """The interface came up: probe first (``arp_probe``), or announce and use the address."""
        if self.stack.config.arp_probe:
            self._set_standing("tentative")
            self._schedule(now + self._random.uniform(0, PROBE_WAIT), self._probe)
        elif self.stack.config.gratuitous_arp:
            self.arp.announce()

    def _schedule(self, deadline: float, callback) -> None:
        self.stack.timers.schedule(deadline, callback)

    def _probe(self) -> None:
        if self.standing != "tentative":
            return
        now = self.stack.now
        self.arp.send_probe()
        self.probes_sent += 1
        if self.probes_sent < PROBE_NUM:
            self._schedule(now + self._random.uniform(PROBE_MIN, PROBE_MAX), self._probe)
        else:
            self._schedule(now + ANNOUNCE_WAIT, self._claim)

    def _claim(self) -> None:
        if self.standing != "tentative":
            return
        self._set_standing("usable")
        self.stack.trace.event("arp.address_claimed", ip=ip_to_text(self.stack.address), probes=self.probes_sent)
        self.arp.announce()

    # ----------------------------------------------------------------- arriving ARP
    def check(self, op: int, sha: bytes, spa: bytes, tpa: bytes, now: float) -> bool:
        """Look at an ARP packet from another host; True when it concerned our address and was handled
        here (the caller then ignores it)."""
        ours = self.stack.address
        if self.standing == "tentative":
            if spa == ours or (op == ARP_REQUEST and spa == ANY_ADDRESS and tpa == ours):
                self._record(sha, now, "abandoned")  # §2.1.1: the address is someone else's
                self._set_standing("lost")
                return True
            return False
        if spa != ours:
            return False
        if self.standing == "lost":
            return True  # it is theirs now
        recent = self.last_defended is not None and now - self.last_defended < DEFEND_INTERVAL
        if self.policy == "retreat" or (self.policy == "defend" and recent):
            self._record(sha, now, "retreated")
            self._set_standing("lost")
        elif not recent:
            self.last_defended = now
            self._record(sha, now, "defended")
            self.arp.announce()
        else:
            self._record(sha, now, "kept")  # "keep" within DEFEND_INTERVAL: no second announcement
        return True

    def _record(self, sha: bytes, now: float, action: str) -> None:
        counters = self.stack.counters
        counters.incr("arp.address_conflict")
        if action in ("defended", "retreated"):
            counters.incr(f"arp.address_{action}")
        self.count += 1
        mac = mac_to_text(sha)
        self.events.append((now, mac, action))
        self.stack.trace.event("arp.conflict", ip=ip_to_text(self.stack.address), mac=mac, action=action)
