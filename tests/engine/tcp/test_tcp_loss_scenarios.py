"""TCP under loss, scripted segment by segment (issue 10's list): one loss repaired by fast retransmit
with the RFC's cwnd/ssthresh and no RTO, with and without SACK; three losses in a window repaired
within about one RTT; a tail loss repaired by a probe ~2 SRTT after the last ACK, not an RTO; the
receiver's SACK block order and D-SACK on the wire; zero-window probing that backs off, keeps cwnd and
never times out while answered, then data within one RTT of the window update; slow start doubling
per RTT with one ACK per burst; an RTO with SACK resending only the holes."""

from __future__ import annotations

import pytest

from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.segment import ACK, TcpSegment
from netstack.engine.tcp.seqnum import SEQ_MASK
from netstack.machines.congestion import CongestionPhase
from netstack.machines.cubic import BETA_CUBIC
from tests.support.tcp_pair import NO_TS, Pair, established, record_times

ONE_WAY = 0.01  # 10 ms each way: RTT about 20 ms


def warmed_up(config_a: TcpConfig, config_b: TcpConfig | None = None, amount: int = 300_000) -> Pair:
    """An established pair whose sender has grown its window on a clean transfer."""
    pair = established(Pair(config_a=config_a, config_b=config_b or TcpConfig(**NO_TS), delay=ONE_WAY))
    pair.a.send(bytes(amount), pair.now)
    for _ in range(100_000):
        pair.b.recv(1 << 20, pair.now)
        if pair.a.snd.una == pair.a.snd.max or not pair.step():
            break
    assert pair.a.snd.una == pair.a.snd.max
    return pair


def drop_data_segments(pair: Pair, *indexes: int) -> list:
    """Drop the a->b data segments with these indexes (0 = the next one sent), each once."""
    dropped = []
    count = [0]

    def rule(name, seg):
        if name != "a" or not seg.payload:
            return False
        index = count[0]
        count[0] += 1
        if index in indexes:
            dropped.append(seg.seq)
            return True
        return False

    pair.drop = rule
    return dropped


def trace_into(conn, events: list) -> None:
    conn.trace = lambda name, **fields: events.append((name, fields, (conn.snd.max - conn.snd.una) & SEQ_MASK))


def one_loss(config_a: TcpConfig, config_b: TcpConfig | None = None):
    """A warmed-up pair sends 40 kB whose third data segment is lost once; (pair, trace events, the lost
    segment's sequence number in a list)."""
    pair = warmed_up(config_a, config_b)
    events = []
    trace_into(pair.a, events)
    dropped = drop_data_segments(pair, 2)
    pair.a.send(bytes(40_000), pair.now)
    assert pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert len(dropped) == 1
    return pair, events, dropped


def test_one_loss_three_duplicate_acks_fast_retransmit_no_rto_newreno_rfc5681_3_2():
    cfg = TcpConfig(congestion_control="reno", sack_permitted=False, **NO_TS)
    pair, events, dropped = one_loss(cfg, TcpConfig(sack_permitted=False, **NO_TS))
    a = pair.a
    assert a.stats["rto_firings"] == 0
    fast = [(fields, flight) for name, fields, flight in events if name == "tcp.fast_retransmit"]
    assert len(fast) == 1
    names = [name for name, _, _ in events]
    at = names.index("tcp.fast_retransmit")
    last_dup = [fields for name, fields, _ in events[:at] if name == "tcp.dup_ack"][-1]
    assert last_dup["count"] == 3, "the third duplicate ACK triggers it"
    fields, flight = fast[0]
    mss = a.snd.mss
    assert fields["ssthresh"] == max(flight // 2, 2 * mss)  # RFC 5681 (4)
    assert fields["cwnd"] == fields["ssthresh"] + 3 * mss  # RFC 5681 §3.2 (3)
    resent = [seg for name, seg in pair.log if name == "a" and seg.seq == dropped[0] and seg.payload]
    assert len(resent) == 2, "the lost segment went exactly once more"


def test_one_loss_with_sack_enters_recovery_cwnd_is_beta_times_the_window_rfc6675_rfc9438():
    pair, events, dropped = one_loss(TcpConfig(**NO_TS))
    a = pair.a
    assert a.stats["rto_firings"] == 0 and a.stats["fast_retransmits"] == 1
    fields = [f for name, f, _ in events if name == "tcp.fast_retransmit"][0]
    assert fields["sack"]
    prior_cwnd = a.snd.cc.prior[0]
    assert fields["ssthresh"] == max(int(prior_cwnd * BETA_CUBIC), 2 * a.snd.mss)  # RFC 9438 §4.6
    assert fields["cwnd"] == fields["ssthresh"]  # RFC 6675 §5 (4.2)
    assert a.snd.recovery.stats["retransmitted_segments"] == 1
    assert [seg.seq for name, seg in pair.log if name == "a" and seg.payload].count(dropped[0]) == 2


def test_three_losses_in_one_window_with_sack_are_repaired_within_about_one_rtt_rfc6675():
    pair = warmed_up(TcpConfig(**NO_TS))
    a = pair.a
    assert a.snd.cc.cwnd > 20 * a.snd.mss
    dropped = drop_data_segments(pair, 3, 6, 9)
    sent = record_times(pair)
    a.send(bytes(30 * a.snd.mss), pair.now)
    assert pair.run(lambda: a.snd.una == a.snd.max)
    assert len(dropped) == 3
    assert a.stats["rto_firings"] == 0
    resent = {seq: [t for t, name, seg in sent if name == "a" and seg.seq == seq and seg.payload][1:]
              for seq in dropped}
    assert all(len(times) == 1 for times in resent.values()), resent
    first = min(times[0] for times in resent.values())
    last = max(times[0] for times in resent.values())
    srtt = a.snd.rtt.srtt
    assert last - first <= 1.5 * srtt, "all three holes in the same round trip, not one per RTT"
    assert a.snd.recovery.stats["recoveries"] == 1


def test_a_tail_loss_draws_a_probe_about_two_srtt_after_the_last_ack_not_an_rto_rfc8985_7():
    pair = warmed_up(TcpConfig(**NO_TS))
    a = pair.a
    dropped = drop_data_segments(pair, 4, 5)  # the last two of six
    sent = record_times(pair)
    a.send(bytes(6 * a.snd.mss), pair.now)
    assert pair.run(lambda: a.snd.una == a.snd.max)
    assert len(dropped) == 2
    assert a.stats["rto_firings"] == 0
    assert a.stats["tail_loss_probes"] == 1
    probe = [t for t, name, seg in sent if name == "a" and seg.seq == dropped[1] and seg.payload][1]
    last_ack_arrival = max(t for t, name, seg in sent if name == "b" and t < probe) + ONE_WAY
    srtt = a.snd.rtt.srtt
    assert probe - last_ack_arrival <= 2 * srtt * 1.1 + 0.001
    assert probe - last_ack_arrival < a.snd.rtt.rto
    # the probe's SACK exposed the other hole, repaired without a timeout either
    assert [seg.seq for name, seg in pair.log if name == "a" and seg.payload].count(dropped[0]) == 2


def test_the_receivers_sack_blocks_and_dsack_segment_by_segment_rfc2018_rfc2883():
    pair = established(Pair(config_a=TcpConfig(**NO_TS), config_b=TcpConfig(**NO_TS), delay=ONE_WAY))
    b = pair.b
    base = b.rcv.nxt
    size = 500

    def arrive(k):
        b.outbox.clear()
        b.segment_arrived(TcpSegment(40000, 80, (base + k * size) & SEQ_MASK, pair.a.snd.nxt, ACK, 65535,
                                     bytes(size)), pair.now)
        acks = [seg for seg in b.outbox if seg.flags & ACK]
        assert acks, "every out-of-order or duplicate segment is acknowledged at once (RFC 5681 §4.2)"
        ack = acks[-1]
        return (ack.ack - base) & SEQ_MASK, [(((l - base) & SEQ_MASK) // size, ((r - base) & SEQ_MASK) // size)
                                             for l, r in ack.sack_blocks]

    b.segment_arrived(TcpSegment(40000, 80, base, pair.a.snd.nxt, ACK, 65535, bytes(size)), pair.now)
    assert arrive(2) == (500, [(2, 3)])
    assert arrive(4) == (500, [(4, 5), (2, 3)])
    assert arrive(6) == (500, [(6, 7), (4, 5), (2, 3)])
    assert arrive(3) == (500, [(2, 5), (6, 7)]), "the block of the latest segment first (RFC 2018 §4)"
    assert arrive(1) == (2500, [(6, 7)])
    assert arrive(0) == (2500, [(0, 1), (6, 7)]), "D-SACK first (RFC 2883 §4)"
    assert arrive(6) == (2500, [(6, 7), (6, 7)]), "D-SACK inside held data, then its block"
    assert arrive(8) == (2500, [(8, 9), (6, 7)]), "each D-SACK is reported once"


def test_zero_window_probes_back_off_keep_cwnd_and_never_time_out_while_answered_rfc1122_4_2_2_17():
    cfg_a = TcpConfig(max_retransmits=3, **NO_TS)
    pair = established(Pair(config_a=cfg_a, config_b=TcpConfig(receive_buffer=8192, **NO_TS), delay=ONE_WAY))
    a, b = pair.a, pair.b
    a.send(bytes(100_000), pair.now)
    assert pair.run(lambda: a.snd.wnd == 0 and a.persist_deadline is not None)
    cwnd, ssthresh = a.snd.cc.cwnd, a.snd.cc.ssthresh
    rto_firings = a.stats["rto_firings"]
    sent = record_times(pair)
    pair.run(max_time=pair.now + 400)  # b's application does not read for almost 7 minutes
    assert not a.dead and a.error is None, "the peer answers every probe: no ETIMEDOUT"
    probes = [t for t, name, seg in sent if name == "a" and len(seg.payload) == 1]
    assert len(probes) > cfg_a.max_retransmits + 2
    gaps = [later - earlier for earlier, later in zip(probes, probes[1:])]
    assert all(later >= earlier * 1.9 or later >= cfg_a.max_window_probe_interval - 0.01
               for earlier, later in zip(gaps, gaps[1:])), gaps
    assert max(gaps) <= cfg_a.max_window_probe_interval + 0.01
    assert (a.snd.cc.cwnd, a.snd.cc.ssthresh) == (cwnd, ssthresh), "probing never touches cwnd"
    assert a.stats["rto_firings"] == rto_firings
    # the application reads: the window update reaches a, and data follows within one RTT
    sent.clear()
    update_at = pair.now
    b.recv(1 << 20, pair.now)
    assert pair.run(lambda: any(name == "a" and len(seg.payload) > 1 for _, name, seg in sent),
                    max_time=pair.now + 5)
    first_data = min(t for t, name, seg in sent if name == "a" and len(seg.payload) > 1)
    assert first_data - update_at <= 2 * ONE_WAY + 0.001


def test_slow_start_doubles_per_rtt_with_one_ack_per_burst_rfc3465():
    cfg = TcpConfig(timestamps=False)
    pair = established(Pair(config_a=cfg, config_b=cfg, delay=ONE_WAY))
    a = pair.a
    windows = []
    acks_seen = [0]

    def note(name, seg):
        if name == "b" and seg.flags & ACK and not seg.payload:
            acks_seen[0] += 1
        return False

    pair.drop = note
    windows.append(a.snd.cc.cwnd)
    a.send(bytes(1 << 20), pair.now)
    for _ in range(4):
        before = acks_seen[0]
        una = a.snd.una
        target = a.snd.max
        assert pair.run(lambda: a.snd.una == target)
        assert acks_seen[0] - before == 1 or a.snd.una != una, "one ACK for the burst"
        windows.append(a.snd.cc.cwnd)
    assert windows == [windows[0] * 2 ** k for k in range(5)], windows


def test_after_an_rto_with_sack_only_the_holes_are_resent_rfc6675_5_1():
    pair = warmed_up(TcpConfig(**NO_TS))
    a = pair.a
    mss = a.snd.mss
    start = a.snd.max
    holes = {(start + k * mss) & SEQ_MASK for k in range(1, 20, 2)}  # every second segment of twenty
    seen = {}
    after_rto = {}

    def rule(name, seg):
        # every copy of a hole is lost until the RTO fires (its retransmissions, and the recovery
        # probes that would otherwise find them lost): recovery stalls and the RTO fires
        if name == "a" and seg.payload:
            seen[seg.seq] = seen.get(seg.seq, 0) + 1
            if a.stats["rto_firings"]:
                after_rto[seg.seq] = after_rto.get(seg.seq, 0) + 1
                return False
            return seg.seq in holes
        return False

    pair.drop = rule
    a.send(bytes(20 * mss), pair.now)
    assert pair.run(lambda: a.snd.una == a.snd.max)
    assert a.stats["rto_firings"] == 1
    sacked = {seq: n for seq, n in seen.items() if seq not in holes}
    assert set(sacked.values()) == {1}, "no SACKed segment went twice: no go-back-N"
    assert all(seen[seq] >= 3 for seq in holes), "each hole: lost, lost again before the RTO"
    assert after_rto == {seq: 1 for seq in holes}, "after the RTO: each hole once, nothing else"


@pytest.mark.parametrize("name,expected", [("cubic", "Cubic"), ("reno", "NewReno")])
def test_the_configured_algorithm_runs_the_connection(name, expected):
    pair = established(Pair(config_a=TcpConfig(congestion_control=name, **NO_TS), delay=ONE_WAY))
    assert type(pair.a.snd.cc).__name__ == expected
    assert pair.a.snd.recovery.cc is pair.a.snd.cc
    assert pair.a.info()["congestion_control"] == name
    assert pair.a.snd.cc.phase is CongestionPhase.SLOW_START


def test_immediate_acks_of_one_batch_fold_into_one_ack_with_the_latest_sack_blocks():
    """TcpConfig.immediate_acks_folded (set by the TAP driver): contiguous out-of-order segments that
    arrive in one batch share an ACK, sent with the N-th of them or when the batch ends (the tick at the
    same instant), with the SACK blocks of that moment; a segment elsewhere first sends the ACK owed
    (GRO's rule), so no repaired hole goes unreported."""
    config_b = TcpConfig(immediate_acks_folded=3, **NO_TS)
    pair = established(Pair(config_a=TcpConfig(**NO_TS), config_b=config_b, delay=ONE_WAY))
    b = pair.b
    base = b.rcv.nxt
    size = 500
    b.outbox.clear()

    def acks():
        out = [((seg.ack - base) & SEQ_MASK) // size for seg in b.outbox if seg.flags & ACK], [
            [(((l - base) & SEQ_MASK) // size, ((r - base) & SEQ_MASK) // size) for l, r in seg.sack_blocks]
            for seg in b.outbox if seg.flags & ACK]
        b.outbox.clear()
        return out

    def arrive(k):
        b.segment_arrived(TcpSegment(40000, 80, (base + k * size) & SEQ_MASK, pair.a.snd.nxt, ACK, 65535,
                                     bytes(size)), pair.now)
        return acks()

    assert arrive(2) == ([], [])  # held for the batch's end
    assert b.deadline is not None and b.deadline <= pair.now
    assert arrive(3) == ([], [])
    assert arrive(4) == ([0], [[(2, 5)]])  # the third: at once
    assert arrive(5) == ([], [])
    assert arrive(7) == ([0], [[(2, 6)]])  # not contiguous: the ACK owed goes first
    b.tick(pair.now)  # the batch ended
    assert acks() == ([0], [[(7, 8), (2, 6)]])
    # the hole filled: folded too, and the ACK at the batch's end covers everything in order
    assert arrive(0) == ([], [])
    assert arrive(1) == ([], [])
    b.tick(pair.now)
    assert acks() == ([6], [[(7, 8)]])


def test_immediate_acks_are_one_per_segment_by_default_rfc5681_4_2():
    pair = established(Pair(config_a=TcpConfig(**NO_TS), config_b=TcpConfig(**NO_TS), delay=ONE_WAY))
    b = pair.b
    base = b.rcv.nxt
    b.outbox.clear()
    for k in (2, 4, 6, 8):
        b.segment_arrived(TcpSegment(40000, 80, (base + k * 500) & SEQ_MASK, pair.a.snd.nxt, ACK, 65535,
                                     bytes(500)), pair.now)
    assert len([seg for seg in b.outbox if seg.flags & ACK]) == 4
