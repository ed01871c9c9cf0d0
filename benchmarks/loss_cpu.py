"""The engine's CPU per segment under loss, in process: a seeded simulator transfer, each end timed.

    python benchmarks/loss_cpu.py [--mb 4] [--losses 0,1,2,5] [--seeds 1,2] [--profile sender|receiver]

Two netstack hosts on the simulator's link (10 ms one way, 50 Mbit/s, ``p`` random loss both ways, as
``benchmarks/loss.py``'s simulator section) move ``--mb`` MiB through the socket API. Each host's
``Stack.receive`` and ``Stack.tick`` are timed with ``time.process_time``, so the figures split the
stack's CPU between the receiving end (data in, ACKs with SACK blocks out) and the sending end (ACKs
in: scoreboard, RACK, PRR, retransmissions). The simulator delivers one frame per event, so the
receiver acknowledges each out-of-order segment on its own, as on a TAP whose batches hold one frame:
the per-frame costs here are the upper bound of the relay's.

Prints, per loss rate and seed: the virtual seconds (a change of behaviour shows here, and in the
frame counts), frames each end took, and µs of CPU per frame taken and seconds per MB at each end.
``--profile`` runs cProfile over one end's stack calls (the first loss rate and seed) and prints the top
functions by internal time. Figures go to docs/performance.md ("The engine's CPU per segment under
loss").
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from loss import number_list, sim_transfer  # noqa: E402  (benchmarks/loss.py, beside this script)

DELAY = 0.010
RATE = 50e6


class TimedStack:
    """Wraps one host's stack entry points: CPU seconds and frames taken (optionally profiled)."""

    def __init__(self, stack, profiler: cProfile.Profile | None = None):
        self.cpu = 0.0
        self.frames = 0
        self.profiler = profiler
        receive, tick = stack.receive, stack.tick
        clock = time.process_time

        def timed(function, counts: bool):
            def call(*args):
                started = clock()
                if profiler is not None:
                    profiler.enable()
                try:
                    return function(*args)
                finally:
                    if profiler is not None:
                        profiler.disable()
                    self.cpu += clock() - started
                    if counts:
                        self.frames += 1
            return call

        stack.receive = timed(receive, True)
        stack.tick = timed(tick, False)


def transfer(loss: float, seed: int, size: int, profile: str | None = None, timeout: float = 600.0, *,
             delay: float = DELAY, rate: float = RATE) -> dict:
    profiler = cProfile.Profile() if profile else None
    ends = {}

    def connected(sender_host, receiver_host):
        ends["sending"] = TimedStack(sender_host.stack, profiler if profile == "sender" else None)
        ends["receiving"] = TimedStack(receiver_host.stack, profiler if profile == "receiver" else None)

    result = sim_transfer(loss, seed, size, timeout, delay=delay, rate=rate, connected=connected)
    return {**result, **ends, "profiler": profiler}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=4, help="MiB per transfer (default 4)")
    parser.add_argument("--losses", type=number_list, default=[0, 1, 2, 5], help="loss, %% (0,1,2,5)")
    parser.add_argument("--seeds", type=number_list, default=[1, 2], help="simulator seeds (1,2)")
    parser.add_argument("--profile", choices=("sender", "receiver"), help="cProfile one end (first loss, seed)")
    parser.add_argument("--delay-ms", type=float, default=DELAY * 1e3, help="one-way delay (10 ms)")
    parser.add_argument("--mbit", type=float, default=RATE / 1e6, help="link rate, Mbit/s (50)")
    parser.add_argument("--top", type=int, default=30, help="functions to print with --profile")
    args = parser.parse_args(argv)
    size = int(args.mb * (1 << 20))
    link = {"delay": args.delay_ms / 1e3, "rate": args.mbit * 1e6}
    mb = size / 1e6
    if args.profile:
        result = transfer(args.losses[0] / 100, int(args.seeds[0]), size, args.profile, **link)
        pstats.Stats(result["profiler"]).sort_stats("tottime").print_stats(args.top)
        return 0
    print(f"{args.mb:g} MiB over {args.delay_ms:g} ms / {args.mbit:g} Mbit/s; CPU from Stack.receive + Stack.tick per end")
    print("loss  seed  virtual s  retrans  rto | receiver: frames  µs/frame  s/MB | sender: frames  µs/frame  s/MB")
    for percent in args.losses:
        for seed in args.seeds:
            r = transfer(percent / 100, int(seed), size, **link)
            rx, tx = r["receiving"], r["sending"]
            print(f"{percent:3g} % {int(seed):5d} {r['seconds']:10.3f} {r['retransmissions']:8d} {r['rto']:4d} |"
                  f" {rx.frames:16d} {1e6 * rx.cpu / max(rx.frames, 1):9.1f} {rx.cpu / mb:5.3f} |"
                  f" {tx.frames:14d} {1e6 * tx.cpu / max(tx.frames, 1):9.1f} {tx.cpu / mb:5.3f}"
                  + ("" if r["finished"] else "  (timed out)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
