"""The rule behind each trace event: which RFC section made the stack do what the event reports.

``explain(event, fields) -> Explanation | None`` turns one engine trace event (``netstack.engine.
observability``: a stable name and plain fields) into a citation and a sentence::

    explain("tcp.rto", {"rto": 0.8, "attempt": 2})
    Explanation(rule="RFC 6298 §5.5", text="retransmission timeout #2: RTO doubled to 0.8 s")

State changes are looked up in the machine declarations themselves: ``tcp.state`` (old, new, event)
finds the row of ``netstack.machines.tcp_connection.TRANSITIONS`` with that trigger, source and
destination, and cites the ``rfc=`` that row carries; ``arp.state`` does the same in
``netstack.machines.arp_neighbour``. Every other event has an entry in ``RULES`` below, citing the
section the engine code implements at the point that emits it (see the comment next to each emission).
An event may also carry its own ``rule`` field (new emitters can cite themselves); it wins.

``RULES`` must name every event the engine emits: ``tests/presentation/test_trace_rules.py`` reads
the engine's source for emitted names and fails on one without a rule.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from netstack.machines import arp_neighbour, tcp_connection
from netstack.machines.table import expand_rows


class Explanation(NamedTuple):
    rule: str  # "RFC 6298 §5.5"
    text: str  # what happened, in words, with the numbers


def _rows_by_arrow(rows) -> dict[tuple[str, str, str], str]:
    """(trigger, source, dest) -> the row's RFC citation; internal rows (dest None) keep the source."""
    arrows: dict[tuple[str, str, str], str] = {}
    for source, row in expand_rows(rows):
        dest = row["dest"] if row["dest"] is not None else source
        arrows.setdefault((str(row["trigger"]), source.value, dest.value), row["rfc"])
    return arrows


_TCP_ARROWS = _rows_by_arrow(tcp_connection.TRANSITIONS)
_ARP_ARROWS = _rows_by_arrow(arp_neighbour.TRANSITIONS)


def _state_change(arrows: dict, machine: str) -> Callable[[dict], Explanation]:
    def explain_state(fields: dict) -> Explanation:
        old, new, trigger = fields.get("old"), fields.get("new"), fields.get("trigger", fields.get("event"))
        subject = f"{fields['ip']}: " if "ip" in fields else ""
        words = f"{subject}{old} -> {new} on {trigger}"
        citation = arrows.get((str(trigger), old, new))
        if citation is None:
            return Explanation(f"{machine} machine", f"{words} (no declared row)")
        return Explanation(f"RFC {citation}", words)  # the row's own rfc=, e.g. "9293 §3.10.7.2 (...)"
    return explain_state


def _seconds(value) -> str:
    return f"{value:g} s" if isinstance(value, (int, float)) else str(value)


_RETRANSMIT_REASONS = {
    # reason field of tcp.retransmit -> (rule, words)
    "go-back-N": ("RFC 6298 §5.4", "after the timeout, resend from SND.UNA (go-back-N)"),
    "first unacknowledged": ("RFC 5681 §3.2", "resend the first unacknowledged segment"),
}

_DROP_RULES = {
    # ipv4.drop reasons: RFC 1122 §3.2.1 lists what a host must silently discard
    "bad_checksum": "RFC 1122 §3.2.1.2", "bad_version": "RFC 1122 §3.2.1.1",
    "bad_ihl": "RFC 791 §3.1", "bad_total_length": "RFC 791 §3.1", "truncated": "RFC 791 §3.1",
    "not_for_us": "RFC 1122 §3.3.4.2", "ttl_expired": "RFC 1122 §3.2.1.7",
}


def _tcp_retransmit(f: dict) -> Explanation:
    rule, words = _RETRANSMIT_REASONS.get(f.get("reason"), ("RFC 9293 §3.8.1", "retransmission"))
    return Explanation(rule, f"{words}: seq {f.get('seq')} len {f.get('len')}")


def _tcp_rto(f: dict) -> Explanation:
    return Explanation("RFC 6298 §5.5", f"retransmission timeout #{f.get('attempt')}: RTO doubled to "
                                        f"{_seconds(f.get('rto'))}")


def _tcp_fast_retransmit(f: dict) -> Explanation:
    if f.get("sack"):
        return Explanation("RFC 6675 §5", f"loss recovery (SACK scoreboard or RACK): seq {f.get('seq')}, "
                                          f"ssthresh {f.get('ssthresh')}, cwnd {f.get('cwnd')}")
    return Explanation("RFC 5681 §3.2", f"fast retransmit after 3 duplicate ACKs: seq {f.get('seq')}, "
                                        f"ssthresh {f.get('ssthresh')}, cwnd {f.get('cwnd')}")


def _tcp_congestion(f: dict) -> Explanation:
    srtt = f.get("srtt")
    rtt = f"srtt {srtt * 1000:.1f} ms" if isinstance(srtt, (int, float)) else "no RTT sample yet"
    return Explanation("RFC 5681 §3.1, RFC 6298 §2",
                       f"cwnd {f.get('cwnd')} ssthresh {f.get('ssthresh')} {rtt} rto {_seconds(f.get('rto'))}")


def _cookie_verdict(f: dict) -> str:
    if f.get("valid"):
        return "valid"
    if f.get("after_gap"):
        return "a later segment (the first ones were lost): dropped, the client retransmits"
    return "invalid"


def _ip_drop(f: dict) -> Explanation:
    reason = f.get("reason")
    return Explanation(_DROP_RULES.get(reason, "RFC 1122 §3.2.1"), f"discarded ({reason}) {f.get('src')} -> {f.get('dst')}")


RULES: dict[str, Callable[[dict], Explanation]] = {
    "tcp.state": _state_change(_TCP_ARROWS, "TCP"),
    "arp.state": _state_change(_ARP_ARROWS, "ARP neighbour"),
    "tcp.segment_in": lambda f: Explanation("RFC 9293 §3.10.7", "segment arrives"),
    "tcp.segment_out": lambda f: Explanation("RFC 9293 §3.10.2", "segment sent"),
    "tcp.rto": _tcp_rto,
    "tcp.retransmit": _tcp_retransmit,
    "tcp.dup_ack": lambda f: Explanation("RFC 5681 §2", f"duplicate ACK #{f.get('count')} for {f.get('ack')}"),
    "tcp.fast_retransmit": _tcp_fast_retransmit,
    "tcp.congestion": _tcp_congestion,
    "tcp.out_of_order": lambda f: Explanation(
        "RFC 9293 §3.10.7.4", f"out-of-order segment seq {f.get('seq')} queued ({f.get('bytes')} bytes, "
                              f"{f.get('held')} held); duplicate ACK sent (RFC 5681 §4.2)"),
    "tcp.tail_loss_probe": lambda f: Explanation(
        "RFC 8985 §7.3", f"tail loss probe: the last segment again, seq {f.get('seq')} ({f.get('len')} bytes)"),
    "tcp.undo": lambda f: Explanation(
        "RFC 2883 §5", f"every retransmission was a duplicate: reduction undone, cwnd {f.get('cwnd')} "
                       f"ssthresh {f.get('ssthresh')}"),
    "tcp.zero_window_probe": lambda f: Explanation(
        "RFC 9293 §3.8.6.1", f"peer window is zero: probe with one byte at seq {f.get('seq')}"),
    "tcp.reset_received": lambda f: Explanation("RFC 9293 §3.10.7.4", f"reset accepted in {f.get('state')} "
                                                                      f"(SEG.SEQ = RCV.NXT, RFC 5961 §3.2)"),
    "tcp.reset_sent": lambda f: Explanation("RFC 9293 §3.10.7.1", f"reset to {f.get('to')} port {f.get('port')}: "
                                                                  f"{f.get('reason')}"),
    "tcp.icmp_error": lambda f: Explanation("RFC 1122 §4.2.3.9", f"ICMP error reported: {f.get('errno')}"),
    "stack.up": lambda f: Explanation("RFC 5227 §2.3", f"interface up {f.get('ip')} {f.get('mac')} mtu {f.get('mtu')}"),
    "arp.request_sent": lambda f: Explanation("RFC 826", f"who-has {f.get('target')} (attempt {f.get('attempt')})"),
    "arp.resolved": lambda f: Explanation("RFC 826", f"{f.get('ip')} is-at {f.get('mac')}"),
    "arp.reply_sent": lambda f: Explanation("RFC 826", f"reply to {f.get('to')}: we are {f.get('mac')}"),
    "arp.failed": lambda f: Explanation("RFC 4861 §7.3.3", f"{f.get('ip')} unreachable, "
                                                           f"{f.get('dropped')} queued packets dropped"),
    "arp.conflict": lambda f: Explanation("RFC 5227 §2.4", f"address conflict: {f.get('ip')} used by {f.get('mac')}"),
    "arp.address_claimed": lambda f: Explanation("RFC 5227 §2.1.1", f"{f.get('ip')} is ours: no answer to "
                                                                    f"{f.get('probes')} probes"),
    "tcp.syncookie_sent": lambda f: Explanation("RFC 4987 §3.6", f"SYN backlog full: SYN-ACK with a cookie to "
                                                                 f"{f.get('to')} port {f.get('port')} (mss {f.get('mss')})"),
    "tcp.syncookie_checked": lambda f: Explanation("RFC 4987 §3.6", f"cookie in the ACK from {f.get('from')} port "
                                                                    f"{f.get('port')}: "
                                                                    f"{_cookie_verdict(f)}"),
    "ipv4.drop": _ip_drop,
    "ipv4.fragmented": lambda f: Explanation("RFC 791 §3.2", f"fragmented for {f.get('dst')} into "
                                                             f"{f.get('fragments')} (mtu {f.get('mtu')})"),
    "reassembly.done": lambda f: Explanation("RFC 815", f"datagram {f.get('id')} from {f.get('src')} "
                                                        f"reassembled ({f.get('size')} bytes)"),
    "reassembly.timeout": lambda f: Explanation("RFC 1122 §3.3.2", f"reassembly of {f.get('id')} from "
                                                                   f"{f.get('src')} timed out ({f.get('held')} held)"),
    "reassembly.drop": lambda f: Explanation("RFC 1122 §3.3.2", f"fragment of {f.get('id')} dropped: {f.get('reason')}"),
    "icmp.error_received": lambda f: Explanation("RFC 1122 §3.2.2", f"ICMP type {f.get('type')} code "
                                                                    f"{f.get('code')} -> {f.get('errno')}"),
    "icmp.error_sent": lambda f: Explanation("RFC 1122 §3.2.2", f"ICMP type {f.get('type')} code "
                                                                f"{f.get('code')} to {f.get('to')}"),
    "icmp.rate_limited": lambda f: Explanation("RFC 1812 §4.3.2.8", f"ICMP type {f.get('type')} to "
                                                                    f"{f.get('to')} suppressed (rate limit)"),
    "icmp.pmtu": lambda f: Explanation("RFC 1191 §3", f"path MTU to {f.get('dst')} lowered to {f.get('mtu')}"),
    "udp.drop": lambda f: Explanation("RFC 1122 §4.1.3.1", f"{f.get('reason')}: port {f.get('port')} "
                                                           f"(ICMP port unreachable)"),
}


def explain(event: str, fields: dict) -> Explanation | None:
    """The rule and words for one event; None for an event nobody has described yet."""
    own = fields.get("rule")
    if own is not None:
        return Explanation(str(own), str(fields.get("text", event)))
    describe = RULES.get(event)
    return describe(fields) if describe is not None else None
