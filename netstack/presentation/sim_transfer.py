"""A bulk transfer on a lossy simulated link, recorded as a pcap and trace JSON lines.

``record_transfer(directory, *, size=200_000, loss=0.02, seed=4, ...) -> RecordedTransfer`` runs one
TCP connection 192.0.2.2:40000 -> 192.0.2.3:9 (discard-like: the receiver reads everything) over
``netstack.sim`` with the link's seeded loss, and writes ``transfer.pcap`` (every frame put on the
link, before the loss: lost segments are in it, as a capture at the sender's interface would have
them) and ``transfer.jsonl`` (the trace, ``--trace-format json``). The same seed gives the same files.
``netstack plot --sim`` and the tutorial draw these; nothing here draws. ``stream(network, client,
accepted, data, timeout=)`` is the transfer loop itself (``benchmarks/trace.py`` times it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netstack.drivers.sim import Network
from netstack.presentation.trace_view import disable_trace, enable_trace

SENDER, RECEIVER = ("192.0.2.2", 40000), ("192.0.2.3", 9)


@dataclass
class RecordedTransfer:
    pcap: Path
    trace: Path
    sender: str  # "ip:port"
    receiver: str
    received: int  # bytes the receiver read
    retransmissions: int
    duration: float  # virtual seconds


def stream(network, client, accepted, data: bytes, *, timeout: float) -> int:
    """Send ``data`` from ``client`` while ``accepted`` reads, interleaved in 2 ms steps of virtual time
    (a blocking ``sendall`` would wait for a reader that never runs); returns the bytes read."""
    client.setblocking(False)
    accepted.setblocking(False)
    sent = received = 0
    end = network.clock + timeout
    while received < len(data) and network.clock < end:
        if sent < len(data):
            try:
                sent += client.send(data[sent:])
            except BlockingIOError:
                pass
        try:
            received += len(accepted.recv(1 << 20))
        except BlockingIOError:
            pass
        network.run(0.002)
    return received


def record_transfer(directory, *, size: int = 200_000, loss: float = 0.02, seed: int = 4,
                    delay: float = 0.005, bandwidth: float | None = 20e6, timeout: float = 120.0) -> RecordedTransfer:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pcap, trace = directory / "transfer.pcap", directory / "transfer.jsonl"
    with open(trace, "w") as trace_file:
        view = enable_trace(trace_file, format="json", color=False)
        try:
            with Network(seed=seed) as network:
                sender = network.host(f"{SENDER[0]}/24", name="sender", seed=seed)
                receiver = network.host(f"{RECEIVER[0]}/24", name="receiver", seed=seed + 1)
                network.link(sender, receiver, loss=loss, delay=delay, bandwidth=bandwidth, pcap=str(pcap))
                listener = receiver.socket()
                listener.bind(RECEIVER)
                listener.listen(1)
                client = sender.socket()
                client.bind(SENDER)
                client.connect(RECEIVER)
                accepted, _ = listener.accept()
                data = bytes(range(256)) * (size // 256 + 1)
                received = stream(network, client, accepted, data[:size], timeout=timeout)
                client.close()
                accepted.close()
                network.run(1.0)
                retransmissions = sender.counters["tcp.retransmissions"]
                duration = network.clock
        finally:
            disable_trace(view)
    return RecordedTransfer(pcap=pcap, trace=trace, sender=f"{SENDER[0]}:{SENDER[1]}",
                            receiver=f"{RECEIVER[0]}:{RECEIVER[1]}", received=received,
                            retransmissions=retransmissions, duration=duration)
