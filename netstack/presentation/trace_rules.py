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


def _tcp_undo(f: dict) -> Explanation:
    window = f"reduction undone, cwnd {f.get('cwnd')} ssthresh {f.get('ssthresh')}"
    if f.get("detection") == "eifel":
        return Explanation("RFC 3522 §2", f"the ACK echoes a timestamp older than the retransmission: {window}")
    return Explanation("RFC 2883 §5", f"every retransmission was a duplicate: {window}")


# An entry is (rule, template) — the template names the event's fields, a missing one reads "None" — or,
# where the words depend on the numbers, a function of the fields.
RULES: dict[str, "Callable[[dict], Explanation] | tuple[str, str]"] = {
    "tcp.state": _state_change(_TCP_ARROWS, "TCP"),
    "arp.state": _state_change(_ARP_ARROWS, "ARP neighbour"),
    "tcp.segment_in": ("RFC 9293 §3.10.7", "segment arrives"),
    "tcp.segment_out": ("RFC 9293 §3.10.2", "segment sent"),
    "tcp.rto": _tcp_rto,
    "tcp.retransmit": _tcp_retransmit,
    "tcp.dup_ack": ("RFC 5681 §2", "duplicate ACK #{count} for {ack}"),
    "tcp.fast_retransmit": _tcp_fast_retransmit,
    "tcp.congestion": _tcp_congestion,
    "tcp.out_of_order": ("RFC 9293 §3.10.7.4", "out-of-order segment seq {seq} queued ({bytes} bytes, {held} "
                                              "held); duplicate ACK sent (RFC 5681 §4.2)"),
    "tcp.tail_loss_probe": ("RFC 8985 §7.3", "tail loss probe: the last segment again, seq {seq} ({len} bytes)"),
    "tcp.recovery_probe": ("RFC 8985 §7 (in recovery, as FreeBSD RACK)", "recovery probe #{probes}: no ACK for "
                           "2 SRTT, one segment beyond the window (SND.NXT {seq})"),
    "tcp.undo": _tcp_undo,
    "tcp.ecn": ("RFC 3168 §6.1.1", "ECN negotiated in the SYNs: {negotiated}"),
    "tcp.ecn_echo": ("RFC 3168 §6.1.3", "congestion experienced echo (ECE on every ACK) now {on}"),
    "tcp.ecn_reduction": ("RFC 3168 §6.1.2", "ECN echo: window reduced as for a loss, once per window: cwnd {cwnd} "
                                            "ssthresh {ssthresh}"),
    "tcp.zero_window_probe": ("RFC 9293 §3.8.6.1", "peer window is zero: probe with one byte at seq {seq}"),
    "tcp.reset_received": ("RFC 9293 §3.10.7.4", "reset accepted in {state} (SEG.SEQ = RCV.NXT, RFC 5961 §3.2)"),
    "tcp.reset_sent": ("RFC 9293 §3.10.7.1", "reset to {to} port {port}: {reason}"),
    "tcp.icmp_error": ("RFC 1122 §4.2.3.9", "ICMP error reported: {errno}"),
    "stack.up": ("RFC 5227 §2.3", "interface up {ip} {mac} mtu {mtu}"),
    "arp.request_sent": ("RFC 826", "who-has {target} (attempt {attempt})"),
    "arp.resolved": ("RFC 826", "{ip} is-at {mac}"),
    "arp.reply_sent": ("RFC 826", "reply to {to}: we are {mac}"),
    "arp.failed": ("RFC 4861 §7.3.3", "{ip} unreachable, {dropped} queued packets dropped"),
    "arp.conflict": ("RFC 5227 §2.4", "address conflict: {ip} used by {mac}"),
    "arp.address_claimed": ("RFC 5227 §2.1.1", "{ip} is ours: no answer to {probes} probes"),
    "tcp.syncookie_sent": ("RFC 4987 §3.6", "SYN backlog full: SYN-ACK with a cookie to {to} port {port} (mss "
                                           "{mss})"),
    "tcp.syncookie_checked": lambda f: Explanation("RFC 4987 §3.6", f"cookie in the ACK from {f.get('from')} port "
                                                                    f"{f.get('port')}: "
                                                                    f"{_cookie_verdict(f)}"),
    "ipv4.drop": _ip_drop,
    "ipv4.fragmented": ("RFC 791 §3.2", "fragmented for {dst} into {fragments} (mtu {mtu})"),
    "reassembly.done": ("RFC 815", "datagram {id} from {src} reassembled ({size} bytes)"),
    "reassembly.timeout": ("RFC 1122 §3.3.2", "reassembly of {id} from {src} timed out ({held} held)"),
    "reassembly.drop": ("RFC 1122 §3.3.2", "fragment of {id} dropped: {reason}"),
    "icmp.error_received": ("RFC 1122 §3.2.2", "ICMP type {type} code {code} -> {errno}"),
    "icmp.error_sent": ("RFC 1122 §3.2.2", "ICMP type {type} code {code} to {to}"),
    "icmp.rate_limited": ("RFC 1812 §4.3.2.8", "ICMP type {type} to {to} suppressed (rate limit)"),
    "icmp.pmtu": ("RFC 1191 §3", "path MTU to {dst} lowered to {mtu}"),
    "udp.drop": ("RFC 1122 §4.1.3.1", "{reason}: port {port} (ICMP port unreachable)"),
}


def explain(event: str, fields: dict) -> Explanation | None:
    """The rule and words for one event; None for an event nobody has described yet."""
    own = fields.get("rule")
    if own is not None:
        return Explanation(str(own), str(fields.get("text", event)))
    describe = RULES.get(event)
    if describe is None:
        return None
    if isinstance(describe, tuple):
        rule, template = describe
        return Explanation(rule, template.format_map(_FieldsOrNone(fields)))
    return describe(fields)


class _FieldsOrNone(dict):
    """The event's fields for a template; an absent field reads as None, as ``dict.get`` did."""

    def __missing__(self, key):
        return None
