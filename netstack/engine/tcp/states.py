"""Module-level names for the TCP states (RFC 9293 §3.3.2), shared by the TCB's modules.

The hot path compares ``self.state is ESTABLISHED`` on every segment; a module global is a cheaper
lookup than ``TcpState.ESTABLISHED``. The states themselves are declared once, in
``netstack.machines.tcp_connection``.
"""

from netstack.machines.tcp_connection import TcpState

CLOSED = TcpState.CLOSED
LISTEN = TcpState.LISTEN
SYN_SENT = TcpState.SYN_SENT
SYN_RECEIVED = TcpState.SYN_RECEIVED
ESTABLISHED = TcpState.ESTABLISHED
FIN_WAIT_1 = TcpState.FIN_WAIT_1
FIN_WAIT_2 = TcpState.FIN_WAIT_2
CLOSE_WAIT = TcpState.CLOSE_WAIT
CLOSING = TcpState.CLOSING
LAST_ACK = TcpState.LAST_ACK
TIME_WAIT = TcpState.TIME_WAIT
