"""The out-of-order fast path (``ReceivePath._predicted_out_of_order``) leaves exactly the state and
the segments the full SEGMENT ARRIVES path (RFC 9293 §3.10.7.4) leaves.

Two receivers come out of the same handshake; one has the fast path switched off. Both get the same
data segments: in order, beyond holes, repairing holes, duplicates, overlapping, beyond the window,
with old timestamps, other ACK fields, windows and flags, with reads and timers between. After every
event every receive variable, the reassembly queue, the SACK reporter, the send variables an ACK
touches, the timers, the counters and what each sent must agree, and so must what the application
saw each time it was woken."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.engine.observability import Counters
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.connection import TcpConnection
from netstack.engine.tcp.segment import ACK, FIN, PSH, TcpSegment

A_IP, B_IP = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
ISS_A = 0xFFFF_F000  # the 2**32 wrap falls inside the transfer
CHUNK = 500


def _handshake(config: TcpConfig) -> tuple[TcpConnection, TcpConnection, float]:
    a = TcpConnection(A_IP, 40000, B_IP, 9, iss=ISS_A, config=TcpConfig(), counters=Counters())
    b = TcpConnection(B_IP, 9, A_IP, 40000, iss=5000, config=config, counters=Counters())
    now = 1.0
    a.connect(now)
    syn, a.outbox = a.outbox[0], []
    b.accept_syn(syn, now)
    for _ in range(10):
        for src, dst in ((b, a), (a, b)):
            out, src.outbox = src.outbox, []
            for seg in out:
                dst.segment_arrived(seg, now)
    assert a.established and b.established and b.use_timestamps and b.rcv.sack is not None
    a.outbox = []
    b.outbox = []
    return a, b, now


def _state(b: TcpConnection) -> tuple:
    rcv, snd, rb = b.rcv, b.snd, b.rcv.buffer
    q, sack, ts = rb.queue, rcv.sack, b.timestamp_state
    return (
        b.state, rcv.nxt, rcv.adv, rcv.last_ack_sent, rcv.ack_pending, rcv.ack_now, rcv.unacked_bytes,
        rcv.quick_acks, rcv.acks_folded, rcv.folded_end, rcv.peer_fin_offset, rcv.fin_received,
        bytes(rb._ready), rb.next_offset, rb.capacity, rb.out_of_order_bytes_queued, q.ranges(), q.blocks(),
        [bytes(c) for c in q._chunks], q.held, q.dropped_duplicate, q.dropped_over_limit,
        sack._latest, list(sack._recent), sack._dsack, sack.dsacks_sent,
        snd.una, snd.nxt, snd.max, snd.wnd, snd.wl1, snd.wl2, snd.max_wnd,
        ts.ts_recent, ts.ts_recent_time, b.last_received, b.deadline, b.delayed_ack_deadline,
        b.notify_deadline, b.persist_deadline, b.keepalive_deadline, b.dead, b.error,
        dict(b.stats), dict(b.counters),
    )


def _sent(b: TcpConnection) -> list[tuple]:
    out, b.outbox = b.outbox, []
    return [(s.seq, s.ack, s.flags, s.window, bytes(s.payload), s.tsval, s.tsecr, s.sack_blocks) for s in out]


_events = st.lists(
    st.one_of(
        # a data segment: chunk number (start), chunks long, flags, TSval step, ACK field, window field
        st.tuples(st.just("segment"), st.integers(0, 60), st.integers(1, 3), st.sampled_from([ACK, ACK | PSH, ACK | FIN]),
                  st.sampled_from([0, 1, 1, 1, -5]), st.sampled_from([0, 0, 0, 0, 1, -1]),
                  st.sampled_from([None, None, None, 0, 100])),
        # the next new segment, right after the highest sent or a few chunks beyond it (a loss)
        st.tuples(st.just("next"), st.sampled_from([0, 0, 0, 1, 2]), st.integers(1, 3)),
        st.tuples(st.just("next"), st.sampled_from([0, 0, 0, 1, 2]), st.integers(1, 3)),
        st.tuples(st.just("read"), st.integers(0, 4000)),
        st.tuples(st.just("tick"), st.floats(0, 0.3)),
    ),
    min_size=5, max_size=80,
)

_configs = st.builds(
    lambda folded, buffer, limit, batch_end: TcpConfig(immediate_acks_folded=folded, receive_buffer=buffer,
                                                       reassembly_limit=limit, ack_at_batch_end=batch_end),
    st.sampled_from([1, 4, 16]), st.sampled_from([8192, 65536]), st.sampled_from([1500, 4000, 256 * 1024]),
    st.booleans(),
)


def _run(events, config, *, check: bool = True):
    """Feed ``events`` to both receivers; returns (receiver with the fast path, segments it took there)."""
    a, fast, now = _handshake(config)
    _, full, _ = _handshake(config)
    full._predicted_out_of_order = lambda seg, now: False
    taken = []
    original = fast._predicted_out_of_order

    def counting(seg, now):
        took = original(seg, now)
        taken.append(took)
        return took

    fast._predicted_out_of_order = counting
    # The fast path skips the application's wake-up: nothing it can see changed, or the wake-up is
    # due with the batch's end (``notify_deadline``). So after every event an application has seen
    # what there is to see, or is about to be woken.
    seen = {fast: [_observed(fast)], full: [_observed(full)]}
    for b in (fast, full):
        b.wakeup = lambda b=b: seen[b].append(_observed(b))
    seq0 = a.snd.nxt
    ack = a.rcv.nxt
    window = a.rcv.wnd >> a.rcv.wscale
    tsval = a.timestamp_state.tsval(now)
    highest = 0
    stream = bytes(range(256)) * 400
    for event in events:
        kind = event[0]
        if kind in ("segment", "next"):
            if kind == "segment":
                _, chunk, length, flags, ts_step, ack_step, window_field = event
            else:
                chunk, length, flags, ts_step, ack_step, window_field = highest + event[1], event[2], ACK, 1, 0, None
            highest = max(highest, chunk + length)
            tsval = (tsval + ts_step) & 0xFFFFFFFF
            now += 0.001
            start = chunk * CHUNK
            for b in (fast, full):
                seg = TcpSegment(40000, 9, (seq0 + start) & 0xFFFFFFFF, (ack + ack_step) & 0xFFFFFFFF, flags,
                                 window if window_field is None else window_field,
                                 stream[start: start + length * CHUNK], tsval=tsval, tsecr=0)
                b.segment_arrived(seg, now)
        elif kind == "read":
            assert fast.recv(event[1], now) == full.recv(event[1], now)
            for b in (fast, full):
                seen[b].append(_observed(b))  # what the application did itself it knows
        else:
            now += event[1]
            for b in (fast, full):
                if b.deadline is not None and b.deadline <= now:
                    b.tick(now)
        if check:
            assert _sent(fast) == _sent(full)
            assert _state(fast) == _state(full)
            for b in (fast, full):
                assert b.notify_deadline is not None or seen[b][-1] == _observed(b)
    return fast, taken


def _observed(b: TcpConnection) -> tuple:
    return b.readable, b.writable, b.at_eof, b.state, b.error, len(b.rcv.buffer)



@settings(max_examples=300, deadline=None)
@given(_events, _configs)
def test_out_of_order_fast_path_leaves_the_full_paths_state_and_segments(events, config):
    _run(events, config)


def test_segments_after_a_hole_take_the_fast_path_and_a_repair_does_not():
    # segment 0 lost; 1..9 arrive (each above everything held), then 0 again fills the hole
    events = [("segment", k, 1, ACK, 1, 0, None) for k in range(1, 10)] + [("segment", 0, 1, ACK, 1, 0, None)]
    b, taken = _run(events, TcpConfig(immediate_acks_folded=4))
    assert taken == [True] * 9  # the repair is in order (SEG.SEQ = RCV.NXT): never offered to it
    assert b.rcv.buffer.next_offset == 10 * CHUNK and not b.rcv.buffer.queue
    assert b.stats["out_of_order_bytes"] == 9 * CHUNK
