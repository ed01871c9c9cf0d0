"""Option negotiation (RFC 9293 §3.7.1, RFC 7323, RFC 2018) and PAWS."""

from netstack.engine.tcp.options import (
    DEFAULT_MSS,
    TimestampState,
    mss_for_mtu,
    negotiate,
    window_scale_for,
)


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
