"""Option negotiation (RFC 9293 §3.7.1, RFC 7323, RFC 2018), PAWS, and unknown option kinds."""

from scapy.layers.inet import IP, TCP

from netstack.engine.tcp.endpoint import TcpServer
from netstack.engine.tcp.segment import ACK, TcpSegment
from netstack.engine.tcp.seqnum import SEQ_MASK
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.options import (
    DEFAULT_MSS,
    TimestampState,
    mss_for_mtu,
    negotiate,
    window_scale_for,
)

from tests.support.sim_hosts import two_tcp_hosts
from tests.support.tcp_pair import Pair, established


def test_mss_from_mtu_and_window_scale_choice():
    assert mss_for_mtu(1500) == 1460
    assert mss_for_mtu(9000) == 8960
    assert window_scale_for(65535) == 0
    assert window_scale_for(65536) == 1
    assert window_scale_for(256 * 1024) == 3
    assert window_scale_for(1 << 40) == 14


def _negotiate(**kw):
    base = dict(
        peer_mss=1460,
        peer_wscale=7,
        peer_timestamps=True,
        peer_sack_permitted=True,
        our_wscale=3,
        our_timestamps=True,
        our_sack_permitted=True,
        path_mtu=1500,
    )
    base.update(kw)
    return negotiate(**base)


def test_everything_negotiated():
    n = _negotiate()
    assert (n.send_mss, n.snd_wscale, n.rcv_wscale, n.timestamps, n.sack_permitted) == (1448, 7, 3, True, True)


def test_missing_mss_defaults_to_536_and_path_mtu_clamps():
    assert _negotiate(peer_mss=None, peer_timestamps=False).send_mss == DEFAULT_MSS
    assert _negotiate(path_mtu=1280, peer_timestamps=False).send_mss == 1240


def test_window_scale_needs_both_sides_and_is_capped_at_14():
    n = _negotiate(peer_wscale=None)
    assert (n.snd_wscale, n.rcv_wscale) == (0, 0)
    assert _negotiate(peer_wscale=20).snd_wscale == 14


def test_timestamps_and_sack_need_both_sides():
    n = _negotiate(our_timestamps=False, peer_sack_permitted=False)
    assert not n.timestamps and not n.sack_permitted and n.send_mss == 1460


def test_paws_rejects_old_timestamps_but_not_rst():
    ts = TimestampState()
    ts.update(1000, True, now=1.0)
    assert ts.paws_rejects(999, is_rst=False, now=1.0)
    assert not ts.paws_rejects(999, is_rst=True, now=1.0)
    assert not ts.paws_rejects(1000, is_rst=False, now=1.0)
    # modular: a TSval just past the wrap is newer
    ts.update(0xFFFFFFF0, True, now=1.0)
    assert ts.ts_recent == 1000  # older (modular), not recorded
    ts2 = TimestampState()
    ts2.update(0xFFFFFFF0, True, now=1.0)
    assert not ts2.paws_rejects(5, is_rst=False, now=1.0)
    # RFC 7323 §5.5: after 24 days idle TS.Recent is not trusted
    assert not ts2.paws_rejects(0xFFFFFF00, is_rst=False, now=1.0 + 25 * 86400)


def test_ts_recent_only_updated_when_seq_at_or_before_last_ack_sent():
    ts = TimestampState()
    ts.update(50, False, now=0.0)
    assert ts.ts_recent is None
    ts.update(50, True, now=0.0)
    assert ts.ts_recent == 50


# ------------------------------------------------------------ on a connection and on a listener
def test_paws_drops_a_segment_with_an_old_timestamp():
    """RFC 7323 §5: data carrying a TSval older than TS.Recent is dropped (and ACKed), not delivered."""
    pair = established(Pair())
    a = pair.a
    assert a.use_timestamps and a.timestamp_state.ts_recent is not None
    recent = a.timestamp_state.ts_recent
    old = TcpSegment(80, 40000, a.rcv.nxt, a.snd.una, ACK, 1000, b"replayed")
    old.tsval, old.tsecr = (recent - 1000) & SEQ_MASK, 0
    a.outbox.clear()
    a.segment_arrived(old, pair.now)
    assert len(a.rcv.buffer) == 0 and a.counters is not None
    assert a.outbox and a.outbox[-1].flags == ACK  # answered with an ACK, RFC 7323 §5.3 R1
    fresh = TcpSegment(80, 40000, a.rcv.nxt, a.snd.una, ACK, 1000, b"fresh")
    fresh.tsval, fresh.tsecr = (recent + 1) & SEQ_MASK, 0
    a.segment_arrived(fresh, pair.now)
    assert a.recv(100, pair.now) == b"fresh"


def test_unknown_options_are_ignored_and_known_ones_still_read():
    """RFC 9293 §3.2: a TCP must ignore an option kind it does not implement (given its length)."""
    net, a, b, ta, tb = two_tcp_hosts(seed=4)
    TcpServer(tb, 80)
    syn = IP(src="192.0.2.1", dst="192.0.2.2") / TCP(
        sport=40000, dport=80, flags="S", seq=1000, window=65535,
        options=[(253, b"\x12\x34\x56"), ("MSS", 1000), (99, b""), ("NOP", None), ("WScale", 2)],
    )
    raw = bytes(syn)[20:]
    b.call(tb.receive, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), raw, net.clock)
    assert b.stack.counters.get("tcp.drop.malformed", 0) == 0
    child = next(iter(tb.listeners.values())).half_open
    conn = next(iter(child.values())) if isinstance(child, dict) else next(iter(child))
    assert conn.state is TcpState.SYN_RECEIVED
    assert conn.snd.mss == 1000 and conn.snd.wscale == 2  # the known options around them were read
