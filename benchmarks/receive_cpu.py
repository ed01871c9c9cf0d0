"""The receiver's CPU per frame under loss, in process, as on the relay's kernel -> netstack transfers.

    python benchmarks/receive_cpu.py [--mb 10] [--losses 0,1,2,5] [--batch 64] [--rounds 3]
                                     [--profile LOSS]

A receiving ``Stack`` configured as the TAP driver configures it (``ack_at_batch_end``,
``immediate_acks_folded`` = ``TAP_IMMEDIATE_ACKS_FOLDED``) takes ``--mb`` MB of full-size data
segments (1448 bytes with timestamps, window scaling and SACK agreed, as Linux sends them) for its
discard service (RFC 863, ``netstack.apps``: what the relay's transfers send to, reading from its
event callbacks) in batches of ``--batch`` frames, each batch handled as the TAP loop handles it:
every frame through ``Stack.receive``, then ``Stack.tick`` if a deadline fell due (the ACK owed at the
batch's end, the application's batched wake-up). The sender is a script, not a TCP: each segment is missing with
probability ``p`` (seeded) and arrives again ``--resend-after`` batches later, at the head of that
batch, as a SACK sender retransmits a hole ahead of new data. Every frame is encoded before the clock
starts, so the figures are the receiver's alone: µs of CPU (``time.perf_counter`` around the whole
loop, best of ``--rounds``) per frame received, and the ACKs it sent per 10 MB.

``--profile LOSS`` runs cProfile over one transfer at that loss (%) and prints the top functions by
internal time. Figures go to docs/performance.md ("TCP under loss").
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netstack.apps.services import start_services  # noqa: E402
from netstack.apps.tcp_services import DISCARD_PORT  # noqa: E402
from netstack.drivers.tap import TAP_IMMEDIATE_ACKS_FOLDED  # noqa: E402
from netstack.engine.stack import Stack  # noqa: E402
from netstack.engine.tcp.config import TcpConfig  # noqa: E402
from netstack.engine.tcp.endpoint import TcpStream  # noqa: E402
from netstack.engine.tcp.layer import TcpLayer  # noqa: E402
from netstack.engine.tcp.segment import ACK, PSH, TcpSegment  # noqa: E402
from netstack.engine.tcp.wire import encode_segment  # noqa: E402
from netstack.formats.fast import ETHERTYPE_IPV4, IP_DF, IP_PROTOCOL_TCP, encode_ethernet, encode_ipv4  # noqa: E402
from loss import number_list  # noqa: E402  (benchmarks/loss.py, beside this script)

SENDER_IP, RECEIVER_IP = "192.0.2.1", "192.0.2.2"
PORT = DISCARD_PORT
MSS_PAYLOAD = 1448  # 1500 - 20 (IP) - 20 (TCP) - 12 (timestamps)
FRAME_GAP = 10e-6  # virtual seconds between two frames of a batch (about the relay's rate)
#: The script ignores the window: the receive buffer is what autotuning reaches on the relay, and the
#: first batch stays inside the SYN-ACK's unscaled 64 KB until the receiver's first ACK opens it.
RECEIVE_BUFFER = 4 << 20
FIRST_BATCH = 40


def _pump(a: Stack, b: Stack, now: float, frames_a: list, frames_b: list) -> None:
    """Deliver frames both ways until both stacks are quiet (ARP and the handshake)."""
    for _ in range(100):
        if not frames_a and not frames_b:
            return
        to_b, frames_a[:] = list(frames_a), []
        to_a, frames_b[:] = list(frames_b), []
        for frame in to_b:
            frames_b += b.receive(frame, now)
        for frame in to_a:
            frames_a += a.receive(frame, now)
    raise RuntimeError("the handshake did not settle")


def connected_receiver(folded: int = TAP_IMMEDIATE_ACKS_FOLDED):
    """A receiving stack whose discard service accepted one connection from a netstack sender; returns
    the receiver stack, the connection, and what the script's segments must carry (addresses, ports,
    numbers)."""
    sender = Stack(ip=f"{SENDER_IP}/24", seed=1)
    receiver = Stack(ip=f"{RECEIVER_IP}/24", seed=2)
    sender_tcp = TcpLayer.attach(sender)
    receiver_tcp = TcpLayer.attach(receiver, TcpConfig(immediate_acks_folded=folded, receive_buffer=RECEIVE_BUFFER))
    now = 1.0
    frames_a = sender.start(now)
    frames_b = receiver.start(now)
    start_services(receiver, ["discard"])
    client = TcpStream.connect(sender_tcp, receiver.address, PORT, now)
    frames_a += sender.poll_output()
    _pump(sender, receiver, now, frames_a, frames_b)
    if not client.connected or len(receiver_tcp.connections) != 1:
        raise RuntimeError("no connection")
    a = client.conn
    conn = next(iter(receiver_tcp.connections.values()))
    return receiver, conn, {
        "src_mac": sender.mac, "dst_mac": receiver.mac, "src": sender.address, "dst": receiver.address,
        "src_port": a.local_port, "dst_port": PORT, "seq": a.snd.nxt, "ack": a.rcv.nxt,
        "window": min(0xFFFF, a.rcv.wnd >> a.rcv.wscale), "tsval": conn.timestamp_state.ts_recent,
        "now": now,
    }


def _frame(peer: dict, offset: int, tsval: int, identification: int) -> bytes:
    seg = TcpSegment(peer["src_port"], peer["dst_port"], (peer["seq"] + offset) & 0xFFFFFFFF, peer["ack"],
                     ACK | PSH, peer["window"], bytes(MSS_PAYLOAD), tsval=tsval, tsecr=0)
    tcp = encode_segment(seg, peer["src"], peer["dst"])
    ip = encode_ipv4(peer["src"], peer["dst"], IP_PROTOCOL_TCP, tcp, identification=identification & 0xFFFF,
                     flags=IP_DF)
    return encode_ethernet(peer["dst_mac"], peer["src_mac"], ETHERTYPE_IPV4, ip)


def schedule(segments: int, loss: float, seed: int, batch: int, resend_after: int) -> list[list[int]]:
    """The script: per batch, the segment numbers that arrive, retransmissions first."""
    rng = random.Random(f"receive_cpu {seed} {loss}")
    batches: list[list[int]] = []
    resends: dict[int, list[int]] = {}
    sent = 0
    index = 0
    while sent < segments or any(resends.get(k) for k in range(index, index + resend_after + 1)):
        arriving = resends.pop(index, [])
        room = (batch if index else min(batch, FIRST_BATCH)) - len(arriving)
        fresh = range(sent, min(segments, sent + max(room, 0)))
        sent += len(fresh)
        for number in fresh:
            if rng.random() < loss:
                resends.setdefault(index + resend_after, []).append(number)
            else:
                arriving.append(number)
        batches.append(arriving)
        index += 1
    return batches


def transfer(size: int, loss: float, *, batch: int = 64, resend_after: int = 2, seed: int = 1,
             folded: int = TAP_IMMEDIATE_ACKS_FOLDED, profiler: cProfile.Profile | None = None) -> dict:
    receiver, conn, peer = connected_receiver(folded)
    segments = size // MSS_PAYLOAD
    plan = schedule(segments, loss, seed, batch, resend_after)
    # Linux's timestamp clock ticks every ms; a batch of 64 frames is under a ms on the relay
    frames = [[_frame(peer, n * MSS_PAYLOAD, peer["tsval"] + 1 + i // 4, n) for n in numbers]
              for i, numbers in enumerate(plan)]
    now = peer["now"]
    acks = 0
    receive, tick, next_deadline = receiver.receive, receiver.tick, receiver.next_deadline
    clock = time.perf_counter
    if profiler is not None:
        profiler.enable()
    started = clock()
    for frames_of_batch in frames:
        for frame in frames_of_batch:
            now += FRAME_GAP
            acks += len(receive(frame, now))
        deadline = next_deadline()
        if deadline is not None and deadline <= now:
            acks += len(tick(now))
    cpu = clock() - started
    if profiler is not None:
        profiler.disable()
    received = sum(len(b) for b in frames)
    taken = receiver.counters["services.tcp_discard_bytes"]
    if taken != segments * MSS_PAYLOAD:
        raise RuntimeError(f"the application read {taken} bytes of {segments * MSS_PAYLOAD}")
    return {"cpu": cpu, "frames": received, "acks": acks, "bytes": taken, "batches": len(frames),
            "counters": receiver.counters}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=10, help="MB per transfer (default 10)")
    parser.add_argument("--losses", type=number_list, default=[0, 1, 2, 5], help="loss, %% (0,1,2,5)")
    parser.add_argument("--batch", type=int, default=64, help="frames per TAP batch (64, the driver's)")
    parser.add_argument("--resend-after", type=int, default=2, help="batches until a hole is filled (2)")
    parser.add_argument("--folded", type=int, default=TAP_IMMEDIATE_ACKS_FOLDED,
                        help=f"immediate ACKs folded ({TAP_IMMEDIATE_ACKS_FOLDED}, the TAP's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="runs per loss rate; the best is printed")
    parser.add_argument("--profile", type=float, help="cProfile one transfer at this loss (%%)")
    parser.add_argument("--top", type=int, default=30, help="functions to print with --profile")
    args = parser.parse_args(argv)
    size = int(args.mb * 1e6)
    options = {"batch": args.batch, "resend_after": args.resend_after, "seed": args.seed, "folded": args.folded}
    if args.profile is not None:
        profiler = cProfile.Profile()
        transfer(size, args.profile / 100, profiler=profiler, **options)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
        return 0
    print(f"{args.mb:g} MB, batches of {args.batch}, holes filled {args.resend_after} batches later,"
          f" {args.folded} immediate ACKs folded; best of {args.rounds}")
    print("loss   frames  out-of-order  µs/frame  ACKs  ACKs/10MB")
    for percent in args.losses:
        runs = [transfer(size, percent / 100, **options) for _ in range(args.rounds)]
        best = min(runs, key=lambda r: r["cpu"])
        ooo = (best["counters"].get("tcp.out_of_order_bytes_queued") or 0) // MSS_PAYLOAD
        print(f"{percent:3g} % {best['frames']:8d} {ooo:13d} {1e6 * best['cpu'] / best['frames']:9.2f}"
              f" {best['acks']:5d} {best['acks'] * 1e7 / best['bytes']:10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
