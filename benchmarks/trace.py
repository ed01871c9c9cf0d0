"""Tracing: what ``--trace`` costs on a simulated bulk transfer, off, as text and as JSON lines.

The same seeded transfer (``netstack.presentation.sim_transfer.record_transfer``'s scenario without
its pcap: 2 MB over a 1 % lossy simulated link) runs with the trace logger off (the engine pays one
cached level check per event site), with ``TraceView`` rendering text into a null stream, and
rendering JSON lines; each is run ``--repeat`` times and the best is kept. Prints wall-clock seconds
per run, the events rendered, and µs per event. Usage:

    python benchmarks/trace.py [--mb 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import netstack  # noqa: E402
from netstack.presentation.sim_transfer import stream  # noqa: E402
from netstack.presentation.trace_view import disable_trace, enable_trace  # noqa: E402


class CountingSink(io.TextIOBase):
    """A stream that counts lines and keeps nothing."""

    def __init__(self):
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def transfer(size: int) -> float:
    started = time.perf_counter()
    with netstack.sim.Network(seed=7) as network:
        a = network.host("192.0.2.2/24", seed=1)
        b = network.host("192.0.2.3/24", seed=2)
        network.link(a, b, loss=0.01, delay=0.002, bandwidth=100e6)
        client, accepted = a.connect_sockets(b, ("192.0.2.3", 9))
        assert stream(network, client, accepted, bytes(size), timeout=600.0) == size
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=2.0, help="megabytes transferred per run (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode, best kept (default 3)")
    args = parser.parse_args(argv)
    size = int(args.mb * 1e6)
    print(f"simulated transfer of {size / 1e6:g} MB, 1 % loss, best of {args.repeat}")
    print(f"{'mode':<12} {'seconds':>9} {'events':>9} {'µs/event':>9}")
    baseline = None
    transfer(size // 10)  # warm up: imports, the codec, the first allocations
    for mode in ("off", "text", "json"):
        best, events = None, 0
        for _ in range(args.repeat):
            sink = CountingSink()
            view = None if mode == "off" else enable_trace(sink, format=mode, color=False)
            try:
                seconds = transfer(size)
            finally:
                if view is not None:
                    disable_trace(view)
            if best is None or seconds < best:
                best, events = seconds, sink.lines
        baseline = best if mode == "off" else baseline
        per_event = f"{(best - baseline) / events * 1e6:9.1f}" if events else f"{'-':>9}"
        print(f"{mode:<12} {best:9.3f} {events:9d} {per_event}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
