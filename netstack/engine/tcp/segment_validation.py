"""Blind-attack defences on arriving segments: RFC 5961 §5 ACK validation and the per-connection limit
on challenge ACKs (RFC 5961 §7).

- **§5.2 ACK acceptability**: a segment is processed only when
  ``SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT``. RFC 9293 ignores an old ACK and keeps the text, so an
  off-path attacker who guesses an in-window sequence number (a 2^32 / window search) could inject
  data with any ACK; requiring the ACK to be near SND.UNA as well multiplies the search by 2^32 / window
  again. A segment whose ACK is too old is dropped and answered with a challenge ACK.
- **§7 rate limit**: challenge ACKs (RFC 5961 §3 in-window RST, §4 SYN, §5 bad ACK) and replies to
  out-of-window pure ACKs leave at most once per ``TcpConfig.invalid_ratelimit`` seconds *per
  connection* (Linux ``tcp_invalid_ratelimit``, 500 ms). Never a global counter: a limit shared by all
  connections lets an attacker count the challenge ACKs a victim connection used up and so learn its
  sequence numbers (CVE-2016-5696, "Off-Path TCP Exploits", USENIX Security 2016).
"""

from __future__ import annotations

from netstack.engine.tcp.seqnum import SEQ_MASK


def ack_acceptable(snd_una: int, snd_nxt: int, max_snd_wnd: int, ack: int) -> bool:
    """RFC 5961 §5.2: ``(SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT`` in sequence space."""
    low = (snd_una - max_snd_wnd) & SEQ_MASK
    return ((ack - low) & SEQ_MASK) <= ((snd_nxt - low) & SEQ_MASK)


class ChallengeAckLimiter:
    """One connection's allowance of challenge ACKs and out-of-window replies (RFC 5961 §7)."""

    __slots__ = ("interval", "last_sent", "limited")

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.last_sent: float | None = None
        self.limited = 0  # replies withheld (for tests and connection info)

    def allow(self, now: float) -> bool:
        """True (and the interval restarts) when a reply may leave at ``now``."""
        last = self.last_sent
        if last is not None and now - last < self.interval:
            self.limited += 1
            return False
        self.last_sent = now
        return True
