"""``netstack plot``: pictures of a TCP connection from a pcap or from a simulated lossy transfer.

``netstack plot CAPTURE.pcap`` (pcap or pcapng) draws the connection that carried the most data; ``netstack plot --sim``
first records a transfer on a lossy simulated link (``netstack.presentation.sim_transfer``: a pcap and
the trace as JSON lines) and draws that. Graphs (``--graph``, default all):

- ``time-sequence``: the tcptrace/Stevens time-sequence graph (data, ACKs, SACK blocks, window)
- ``congestion``: cwnd, ssthresh, srtt and RTO over time (from trace JSON lines: ``--trace FILE``, or
  the one ``--sim`` recorded; ``netstack demo --sim --trace-format json 2>trace.jsonl`` makes one too)
- ``ladder``: the first segments of the connection as an SVG ladder diagram and as mermaid text

PNG or SVG (``--format``) for the first two, which need matplotlib (``pip install 'netstack[plot]'``);
the ladder is written directly. Files go to ``--out-dir`` and their paths are printed.
"""

from __future__ import annotations

from pathlib import Path

HELP = "draw a TCP connection: time-sequence graph, cwnd/ssthresh/srtt, ladder diagram (pcap or --sim)"
GRAPHS = ("time-sequence", "congestion", "ladder")


def add_arguments(parser) -> None:
    parser.add_argument("capture", nargs="?", help="a pcap or pcapng file (Ethernet); omit with --sim")
    parser.add_argument("--sim", action="store_true", help="record a lossy simulated transfer and draw it")
    parser.add_argument("--graph", choices=(*GRAPHS, "all"), default="all", help="which picture (default all)")
    parser.add_argument("--out-dir", default=".", metavar="DIR", help="where the files go (default .)")
    parser.add_argument("--format", choices=("svg", "png"), default="svg", help="image format (default svg)")
    parser.add_argument("--trace", metavar="FILE", help="trace JSON lines for the congestion graph")
    parser.add_argument("--sender", metavar="IP:PORT", help="the data sender (default: who sent the most)")
    parser.add_argument("--conn", metavar="LOCAL-PEER", help="congestion graph: the trace's connection name")
    parser.add_argument("--segments", type=int, default=40, help="ladder: how many segments (default 40)")
    parser.add_argument("--loss", type=float, default=0.02, help="--sim: loss probability per frame")
    parser.add_argument("--seed", type=int, default=4, help="--sim: seed of the simulated network")
    parser.add_argument("--size", type=int, default=200_000, help="--sim: bytes to transfer")


def run(args) -> int:
    import sys

    from netstack.presentation import tcp_plots
    from netstack.presentation.ladder import ladder_arrows, ladder_mermaid, ladder_svg
    from netstack.presentation.tcp_series import congestion_series, read_segments, time_sequence

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trace = args.trace
    if args.sim:
        from netstack.presentation.sim_transfer import record_transfer

        recorded = record_transfer(out, size=args.size, loss=args.loss, seed=args.seed)
        print(f"recorded {recorded.received} bytes {recorded.sender} -> {recorded.receiver} in "
              f"{recorded.duration:.3f} virtual s, {recorded.retransmissions} retransmissions (seed {args.seed}, "
              f"loss {args.loss}): {recorded.pcap}, {recorded.trace}")
        capture, trace = recorded.pcap, trace or recorded.trace
    elif args.capture:
        capture = Path(args.capture)
    else:
        print("netstack plot: give a pcap file, or --sim", file=sys.stderr)
        return 2
    graphs = GRAPHS if args.graph == "all" else (args.graph,)
    segments = read_segments(str(capture))
    if not segments:
        print(f"netstack plot: {capture} holds no TCP segment", file=sys.stderr)
        return 1
    series = time_sequence(segments, sender=args.sender)
    written = []
    if "ladder" in graphs:
        arrows = ladder_arrows(segments, series.sender, series.receiver, limit=args.segments)
        first, second = arrows[0].src, arrows[0].dst  # who opened the connection on the left, as drawn by hand
        for name, text in (("ladder.svg", ladder_svg(arrows, first, second)),
                           ("ladder.mmd", ladder_mermaid(arrows, first, second))):
            (out / name).write_text(text)
            written.append(out / name)
    if "time-sequence" in graphs:
        path = out / f"time-sequence.{args.format}"
        tcp_plots.save(tcp_plots.time_sequence_figure(series), path)
        written.append(path)
    if "congestion" in graphs:
        if trace is None:
            if args.graph == "congestion":
                print("netstack plot: the congestion graph needs trace JSON lines (--trace FILE, or --sim)",
                      file=sys.stderr)
                return 1
            print("netstack plot: no --trace: congestion graph skipped", file=sys.stderr)
        else:
            with open(trace) as lines:
                congestion = congestion_series(lines, conn=args.conn)
            path = out / f"congestion.{args.format}"
            tcp_plots.save(tcp_plots.congestion_figure(congestion), path)
            written.append(path)
    for path in written:
        print(path)
    return 0
