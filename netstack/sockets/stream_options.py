"""``StreamOptions``: setsockopt/getsockopt and TCP_INFO of ``StreamSocket`` (see ``options`` for the table).

An option set before ``connect``/``listen`` goes into the ``TcpConfig`` the connection (or the
listener, and so every connection it accepts) is created with; on a live connection it changes the
TCB at once where TCP allows it (buffers, Nagle, keepalive timing). Runs on the stack's thread.
"""

from __future__ import annotations

import errno as errnos

from netstack.machines.congestion import available_congestion_controls
from netstack.sockets import options as opt
from netstack.sockets.netsocket import os_error


class StreamOptions:
    """Mixin of ``StreamSocket``: the option calls."""

    def setsockopt(self, level: int, name: int, value, optlen: int | None = None) -> None:
        self._check_open()
        if value is None:
            raise os_error(errnos.EINVAL)
        self._call(self._setsockopt, level, name, value)

    def _setsockopt(self, level: int, name: int, value) -> None:
        stream = self._stream
        now = self._now()
        live = stream is not None and not stream.closed
        if level == opt.SOL_SOCKET:
            if name == opt.SO_LINGER:
                if not isinstance(value, (bytes, bytearray)) or len(value) < opt.LINGER.size:
                    raise os_error(errnos.EINVAL)
                onoff, seconds = opt.LINGER.unpack(bytes(value[:opt.LINGER.size]))
                self._linger = (1 if onoff else 0, max(0, seconds))
                return
            number = opt.option_int(value)
            if name == opt.SO_REUSEADDR:
                self._reuse_address = bool(number)
            elif name in (opt.SO_RCVBUF, opt.SO_SNDBUF):
                size = opt.buffer_size(number)
                field = "receive_buffer" if name == opt.SO_RCVBUF else "send_buffer"
                self._config_changes[field] = size
                self._config_changes[f"{field}_max"] = size  # a chosen size is not autotuned (Linux *_LOCK)
                if field == "receive_buffer":
                    self._config_changes["reassembly_limit"] = min(size, self._host.tcp.config.reassembly_limit)
                if live:
                    self._stream.set_buffer_sizes(**{"receive" if field == "receive_buffer" else "send": size})
                if self._listening:
                    self._server.listener.config = self._config()
            elif name == opt.SO_KEEPALIVE:
                self._config_changes["keepalive"] = bool(number)
                if live:
                    self._stream.set_keepalive(bool(number), now)
                self._update_listener()
            else:
                raise opt.unsupported(level, name)
        elif level == opt.IPPROTO_TCP:
            if name == opt.TCP_CONGESTION:
                algorithm = opt.congestion_name(value)
                if algorithm not in available_congestion_controls():
                    raise os_error(errnos.ENOENT)  # Linux: no such congestion control module
                self._config_changes["congestion_control"] = algorithm
                if live:
                    self._stream.set_congestion_control(algorithm)
                self._update_listener()
                return
            number = opt.option_int(value)
            if name == opt.TCP_NODELAY:
                self._config_changes["nodelay"] = bool(number)
                if live:
                    self._stream.set_nodelay(bool(number), now)
                self._update_listener()
            elif name == opt.TCP_MAXSEG:
                if not 88 <= number <= 65495:  # Linux: TCP_MIN_MSS (88) .. MAX_TCP_WINDOW
                    raise os_error(errnos.EINVAL)
                self._config_changes["mss"] = number
                self._update_listener()
            elif name == opt.TCP_FASTOPEN_CONNECT:
                self._fastopen_connect = bool(number)  # RFC 7413 client, Linux semantics
            elif name == opt.TCP_FASTOPEN:
                if number < 0:
                    raise os_error(errnos.EINVAL)
                self._config_changes["fastopen_backlog"] = number  # RFC 7413 server (listeners)
                self._update_listener()
            elif name in opt.KEEPALIVE_LIMITS:
                if not 1 <= number <= opt.KEEPALIVE_LIMITS[name]:
                    raise os_error(errnos.EINVAL)
                field = {opt.TCP_KEEPIDLE: "keepalive_idle", opt.TCP_KEEPINTVL: "keepalive_interval",
                         opt.TCP_KEEPCNT: "keepalive_count"}[name]
                self._config_changes[field] = number
                if live:
                    self._stream.set_keepalive_timing(now, **{field: number})
                self._update_listener()
            else:
                raise opt.unsupported(level, name)
        else:
            raise opt.unsupported(level, name)

    def _update_listener(self) -> None:
        if self._listening:
            self._server.listener.config = self._config()

    def getsockopt(self, level: int, name: int, buflen: int | None = None):
        self._check_open()
        return opt.encode_reply(self._call(self._getsockopt, level, name), buflen)

    def _getsockopt(self, level: int, name: int):
        stream = self._stream
        config = stream.config if stream is not None else self._config()
        if level == opt.SOL_SOCKET:
            if name == opt.SO_ERROR:
                return self._take_error() or 0
            if name == opt.SO_RCVBUF:
                return stream.receive_buffer_size if stream is not None else config.receive_buffer
            if name == opt.SO_SNDBUF:
                return stream.send_buffer_size if stream is not None else config.send_buffer
            if name == opt.SO_REUSEADDR:
                return int(self._reuse_address)
            if name == opt.SO_KEEPALIVE:
                return int(stream.keepalive if stream is not None else config.keepalive)
            if name == opt.SO_LINGER:
                return opt.LINGER.pack(*self._linger)
            if name == opt.SO_TYPE:
                return int(self.type)
            if name == opt.SO_ACCEPTCONN:
                return int(self._listening)
        elif level == opt.IPPROTO_TCP:
            if name == opt.TCP_NODELAY:
                return int(stream.nodelay if stream is not None else config.nodelay)
            if name == opt.TCP_MAXSEG:
                if stream is not None and stream.connected:
                    return stream.send_mss
                return config.mss or 536
            if name == opt.TCP_FASTOPEN:
                return config.fastopen_backlog
            if name == opt.TCP_FASTOPEN_CONNECT:
                return int(self._fastopen_connect)
            if name == opt.TCP_KEEPIDLE:
                return int(config.keepalive_idle)
            if name == opt.TCP_KEEPINTVL:
                return int(config.keepalive_interval)
            if name == opt.TCP_KEEPCNT:
                return config.keepalive_count
            if name == opt.TCP_CONGESTION:
                return opt.congestion_reply(config.congestion_control)
            if name == opt.TCP_INFO:
                return opt.tcp_info_bytes(self._tcp_info())
        raise opt.unsupported(level, name)

    def tcp_info(self) -> dict:
        """The TCP_INFO-like snapshot: state, srtt/rttvar/rto (s), cwnd/ssthresh (bytes), retransmissions."""
        self._check_open()
        return self._host.call(self._tcp_info)

    def _tcp_info(self) -> dict:
        if self._listening:
            return {"state": "LISTEN", "srtt": None, "rttvar": None, "rto": None, "cwnd": None,
                    "ssthresh": None, "retransmissions": 0}
        if self._stream is None:
            return {"state": "CLOSED", "srtt": None, "rttvar": None, "rto": None, "cwnd": None,
                    "ssthresh": None, "retransmissions": 0}
        return self._stream.info()
