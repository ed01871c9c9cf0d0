"""Socket options: ``setsockopt``/``getsockopt`` with the standard constants, and TCP_INFO.

The table (docs/sockets.md repeats it):

========================  =======  ====================================================================
option                    types    effect in netstack
========================  =======  ====================================================================
SO_RCVBUF                 TCP UDP  TCP: the receive buffer, so the advertised window (RFC 9293 §3.8.6);
                                   set it before ``connect``/``listen`` for the window scale to fit.
                                   UDP: bytes of datagrams queued before new ones are dropped.
SO_SNDBUF                 TCP      the send buffer (bytes written and not yet acknowledged)
SO_REUSEADDR              TCP UDP  TCP: bind a port that connections (TIME-WAIT) still use
SO_BROADCAST              UDP      allow sending to a broadcast address (else EACCES, as Linux)
SO_KEEPALIVE              TCP      RFC 1122 §4.2.3.6 keepalive probes
SO_LINGER                 TCP      (1, 0): ``close`` aborts with RST; (1, t): ``close`` waits up to t s
SO_ERROR                  TCP UDP  the pending error, read once (then 0)
SO_TYPE, SO_ACCEPTCONN    TCP UDP  read-only
TCP_NODELAY               TCP      switch Nagle's algorithm (RFC 896) off
TCP_MAXSEG                TCP      the MSS to announce (before connect); reads the sending MSS
TCP_FASTOPEN              TCP      on a listener: RFC 7413 Fast Open, the queue length (0 = off)
TCP_FASTOPEN_CONNECT      TCP      client: connect() returns at once, the first send goes in the SYN
TCP_KEEPIDLE/INTVL/CNT    TCP      keepalive timing (seconds, seconds, probes)
TCP_CONGESTION            TCP      b"cubic" (default) or b"reno": the congestion control, before
                                   ``connect`` or on a live connection (cwnd and ssthresh kept);
                                   an unknown name raises ENOENT, as Linux
TCP_INFO                  TCP      read-only: Linux ``struct tcp_info`` layout (up to
                                   ``tcpi_delivery_rate``, 120 bytes); ``tcp_info()`` the same as a dict
========================  =======  ====================================================================

Anything else raises ``OSError(ENOPROTOOPT)``; a value out of range raises ``OSError(EINVAL)``.
"""

from __future__ import annotations

import errno as errnos
import socket as stdlib_socket
import struct

from netstack.sockets.netsocket import os_error

SOL_SOCKET = stdlib_socket.SOL_SOCKET
IPPROTO_TCP = stdlib_socket.IPPROTO_TCP
SO_RCVBUF = stdlib_socket.SO_RCVBUF
SO_SNDBUF = stdlib_socket.SO_SNDBUF
SO_REUSEADDR = stdlib_socket.SO_REUSEADDR
SO_BROADCAST = stdlib_socket.SO_BROADCAST
SO_KEEPALIVE = stdlib_socket.SO_KEEPALIVE
SO_LINGER = stdlib_socket.SO_LINGER
SO_ERROR = stdlib_socket.SO_ERROR
SO_TYPE = stdlib_socket.SO_TYPE
SO_ACCEPTCONN = getattr(stdlib_socket, "SO_ACCEPTCONN", 30)
TCP_NODELAY = stdlib_socket.TCP_NODELAY
TCP_MAXSEG = stdlib_socket.TCP_MAXSEG
TCP_FASTOPEN = getattr(stdlib_socket, "TCP_FASTOPEN", 23)  # Linux's number
TCP_FASTOPEN_CONNECT = getattr(stdlib_socket, "TCP_FASTOPEN_CONNECT", 30)
TCP_KEEPIDLE = getattr(stdlib_socket, "TCP_KEEPIDLE", 4)
TCP_KEEPINTVL = getattr(stdlib_socket, "TCP_KEEPINTVL", 5)
TCP_KEEPCNT = getattr(stdlib_socket, "TCP_KEEPCNT", 6)
TCP_INFO = getattr(stdlib_socket, "TCP_INFO", 11)
TCP_CONGESTION = getattr(stdlib_socket, "TCP_CONGESTION", 13)
#: Linux TCP_CA_NAME_MAX: getsockopt(TCP_CONGESTION) answers the name NUL-padded to this length.
CONGESTION_NAME_MAX = 16
#: Our registry's names as Linux spells them in TCP_CONGESTION.
LINUX_CONGESTION_NAME = {"newreno": "reno"}

LINGER = struct.Struct("ii")  # struct linger {int l_onoff; int l_linger;}
#: Linux ``struct tcp_info`` up to ``tcpi_delivery_rate`` (include/uapi/linux/tcp.h): 8 u8, 24 u32 (to
#: ``tcpi_total_retrans``), pacing_rate, max_pacing_rate, bytes_acked, bytes_received (u64), segs_out,
#: segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out (u32), delivery_rate (u64): 168 bytes.
TCP_INFO_LAYOUT = struct.Struct("=8B24I4Q6IQ")
#: Linux ``enum tcp_ca_state``: Open, Disorder, CWR, Recovery, Loss.
LINUX_CA_STATE = {"slow start": 0, "conservative slow start": 0, "congestion avoidance": 0, "fast recovery": 3,
                  "loss": 4, "congestion window reduced": 2}
#: ``tcpi_options`` bits (include/uapi/linux/tcp.h TCPI_OPT_*).
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE, TCPI_OPT_ECN = 1, 2, 4, 8
#: Linux ``enum tcp_state`` numbers (include/net/tcp_states.h), so ``tcpi_state`` reads as the kernel's.
LINUX_TCP_STATE = {
    "ESTABLISHED": 1, "SYN-SENT": 2, "SYN-RECEIVED": 3, "FIN-WAIT-1": 4, "FIN-WAIT-2": 5,
    "TIME-WAIT": 6, "CLOSED": 7, "CLOSE-WAIT": 8, "LAST-ACK": 9, "LISTEN": 10, "CLOSING": 11,
}
#: Linux bounds (net/ipv4/tcp.c do_tcp_setsockopt): MAX_TCP_KEEPIDLE/INTVL 32767 s, MAX_TCP_KEEPCNT 127.
KEEPALIVE_LIMITS = {TCP_KEEPIDLE: 32767, TCP_KEEPINTVL: 32767, TCP_KEEPCNT: 127}
MIN_BUFFER = 1024
#: Largest SO_RCVBUF/SO_SNDBUF (Linux clamps to net.core.rmem_max/wmem_max): every queue stays bounded,
#: and 64 MiB is far below the 1 GiB a window scale of 14 could announce.
MAX_BUFFER = 64 * 1024 * 1024
C_INT_MIN, C_INT_MAX = -(1 << 31), (1 << 31) - 1


def unsupported(level: int, name: int) -> OSError:
    return os_error(errnos.ENOPROTOOPT, f"option level={level} name={name} is not supported by netstack")


def option_int(value) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) < 4:
            raise os_error(errnos.EINVAL)
        return struct.unpack("i", bytes(value[:4]))[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a bytes-like object or an integer is required")
    if not C_INT_MIN <= value <= C_INT_MAX:
        # the stdlib converts to a C int first, then falls back to a buffer: a TypeError either way
        raise TypeError(f"a bytes-like object is required, not 'int' ({value} does not fit a C int)")
    return value


def buffer_size(number: int) -> int:
    """The size SO_RCVBUF/SO_SNDBUF ``number`` gives: as Linux (sock_setsockopt), read as unsigned and
    clamped to the maximum (so -1 means "as large as allowed"), and at least MIN_BUFFER."""
    return max(MIN_BUFFER, min(number & 0xFFFFFFFF, MAX_BUFFER))


def congestion_name(value) -> str:
    """TCP_CONGESTION's value: bytes (or str), up to the first NUL, as a registry name."""
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("a bytes-like object is required")
    name = bytes(value).split(b"\0", 1)[0]
    if not name or len(name) >= CONGESTION_NAME_MAX:
        raise os_error(errnos.EINVAL)
    return name.decode("ascii", "replace").lower()


def congestion_reply(name: str) -> bytes:
    name = LINUX_CONGESTION_NAME.get(name, name)
    return name.encode().ljust(CONGESTION_NAME_MAX, b"\0")


def encode_reply(value: int | bytes, buflen: int | None):
    """getsockopt's result: an int without ``buflen`` (or with 0), else at most ``buflen`` bytes (as the
    stdlib, whose ``getsockopt(level, name, 0)`` also returns the int)."""
    if not buflen:
        if isinstance(value, bytes):
            return struct.unpack("i", value[:4])[0]
        return value
    if buflen < 0 or buflen > 1024:
        raise OSError("getsockopt buflen out of range")  # the stdlib's words, without errno
    data = value if isinstance(value, bytes) else struct.pack("i", value)
    return data[:buflen]


def tcp_info_bytes(info: dict) -> bytes:
    """Pack ``StreamSocket.tcp_info()`` into Linux's ``struct tcp_info`` layout: times in µs, windows
    and counts of bytes in segments of the send MSS, as the kernel reports them."""
    mss = info.get("send_mss") or 536

    def micros(seconds):
        return 0 if seconds is None else min(int(seconds * 1e6), 0xFFFFFFFF)

    def segments(count):
        return 0 if count is None else min(-(-int(count) // mss), 0xFFFFFFFF)

    def u32(value):
        return min(int(value or 0), 0xFFFFFFFF)

    u32s = [
        micros(info.get("rto")), 0, mss, u32(info.get("rcv_mss") or mss),  # rto ato snd_mss rcv_mss
        segments(info.get("in_flight")), segments(info.get("sacked")), segments(info.get("lost")),  # unacked ..
        0, 0,  # retrans (outstanding), fackets
        0, 0, 0, 0, u32(info.get("pmtu")), 0,  # last_data_sent .. last_ack_recv, pmtu, rcv_ssthresh
        micros(info.get("srtt")), micros(info.get("rttvar")),
        segments(info.get("ssthresh")), segments(info.get("cwnd")), mss, 3, 0,  # .. advmss reordering rcv_rtt
        u32(info.get("rcv_space")), u32(info.get("retransmissions")),
    ]
    rate = int(info.get("delivery_rate") or 0)
    u64_after = [0, 0, int(info.get("delivered") or 0), int(info.get("bytes_received") or 0)]
    u32_after = [u32(info.get("segments_out")), u32(info.get("segments_in")), 0, micros(info.get("min_rtt")), 0, 0]
    options = ((TCPI_OPT_TIMESTAMPS if info.get("timestamps") else 0) | (TCPI_OPT_SACK if info.get("sack") else 0)
               | (TCPI_OPT_WSCALE if info.get("snd_wscale") or info.get("rcv_wscale") else 0)
               | (TCPI_OPT_ECN if info.get("ecn") else 0))
    wscales = ((info.get("snd_wscale") or 0) & 0xF) | (((info.get("rcv_wscale") or 0) & 0xF) << 4)
    u8 = [LINUX_TCP_STATE.get(info.get("state"), 7), LINUX_CA_STATE.get(info.get("ca_phase"), 0),
          min(info.get("retransmits_in_a_row", 0), 255), min(info.get("zero_window_probes", 0), 255), 0,
          options, wscales, 0]
    return TCP_INFO_LAYOUT.pack(*u8, *u32s, *u64_after, *u32_after, rate)
