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
TCP_INFO                  TCP      read-only: Linux ``struct tcp_info`` layout (first 104 bytes)
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

LINGER = struct.Struct("ii")  # struct linger {int l_onoff; int l_linger;}
#: Linux ``struct tcp_info`` up to ``tcpi_total_retrans``: 8 u8 then 24 u32 (include/uapi/linux/tcp.h).
TCP_INFO_LAYOUT = struct.Struct("=8B24I")
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
    """Pack ``StreamSocket.tcp_info()`` into Linux's ``struct tcp_info`` layout (times in µs)."""
    mss = info.get("send_mss") or 536

    def micros(seconds):
        return 0 if seconds is None else min(int(seconds * 1e6), 0xFFFFFFFF)

    def segments(count):
        return 0 if count is None else min(int(count // mss), 0xFFFFFFFF)

    u32 = [
        micros(info.get("rto")), 0, mss, mss, 0, 0, 0, 0, 0,  # rto ato snd_mss rcv_mss unacked sacked lost retrans fackets
        0, 0, 0, 0, info.get("pmtu", 0) or 0, 0,  # last_data_sent .. last_ack_recv, pmtu, rcv_ssthresh
        micros(info.get("srtt")), micros(info.get("rttvar")),
        segments(info.get("ssthresh")), segments(info.get("cwnd")), mss, 3, 0,
        info.get("rcv_wnd") or 0, info.get("retransmissions", 0) or 0,
    ]
    u8 = [LINUX_TCP_STATE.get(info.get("state"), 7), 0, min(info.get("retransmits_in_a_row", 0), 255), 0, 0,
          0, 0, 0]
    return TCP_INFO_LAYOUT.pack(*u8, *u32)
