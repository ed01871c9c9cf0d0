"""Pictures of a TCP connection over time, drawn with matplotlib (the ``plot`` extra).

- ``time_sequence_figure(series: TimeSequence)``: the tcptrace/Stevens time-sequence graph: each
  data segment a vertical bar from its first to its end sequence number (retransmissions in red),
  the receiver's ACK line and receive-window line as steps, SACK blocks as green bars.
- ``congestion_figure(series: CongestionSeries)``: cwnd and ssthresh (bytes, left axis) and srtt and
  RTO (milliseconds, right axis) over time.
- ``save(figure, path)``: PNG or SVG by the file's suffix.

Every artist draws one series of ``netstack.presentation.tcp_series`` unchanged, and is labelled with
its name (``artist.get_label()``: "data", "retransmissions", "ack", "window", "sack", "cwnd",
"ssthresh", "srtt", "rto") so a test can read back exactly what was drawn.

matplotlib is optional: without it every function raises ``PlotUnavailable`` naming the extra
(``pip install 'netstack[plot]'``). The Agg backend is used: no display is needed.
"""

from __future__ import annotations

from netstack.errors import NetstackError
from netstack.presentation.tcp_series import CongestionSeries, TimeSequence

FORMATS = (".png", ".svg")


class PlotUnavailable(NetstackError):
    """matplotlib is not installed."""


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable("plots need matplotlib: pip install 'netstack[plot]' (the plot extra)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    from matplotlib.collections import LineCollection

    return pyplot, LineCollection


def time_sequence_figure(series: TimeSequence, title: str | None = None):
    pyplot, LineCollection = _pyplot()
    figure, axes = pyplot.subplots(figsize=(10, 6))
    retransmitted = set(series.retransmissions)
    fresh = [((t, first), (t, end)) for t, first, end in series.data if (t, first, end) not in retransmitted]
    again = [((t, first), (t, end)) for t, first, end in series.retransmissions]
    axes.add_collection(LineCollection(fresh, colors="black", linewidths=1.5, label="data"))
    axes.add_collection(LineCollection(again, colors="red", linewidths=2.0, label="retransmissions"))
    if series.acks:
        axes.step([t for t, _ in series.acks], [a for _, a in series.acks], where="post", color="tab:blue",
                  linewidth=1, label="ack")
    if series.window:
        axes.step([t for t, _ in series.window], [w for _, w in series.window], where="post", color="tab:olive",
                  linewidth=1, label="window")
    axes.add_collection(LineCollection([((t, left), (t, right)) for t, left, right in series.sack],
                                       colors="tab:green", linewidths=3, label="sack"))
    axes.autoscale()
    axes.set_xlabel("time (s)")
    axes.set_ylabel(f"relative sequence number (ISN of {series.sender})")
    axes.set_title(title or f"time-sequence graph {series.sender} -> {series.receiver}")
    axes.legend(loc="upper left")
    axes.grid(True, alpha=0.3)
    return figure


def congestion_figure(series: CongestionSeries, title: str | None = None):
    pyplot, _ = _pyplot()
    figure, axes = pyplot.subplots(figsize=(10, 5))
    nan = float("nan")
    axes.step(series.time, series.cwnd, where="post", color="tab:blue", label="cwnd")
    axes.step(series.time, [nan if value is None else value for value in series.ssthresh], where="post",
              color="tab:red", linestyle="--", label="ssthresh")
    axes.set_xlabel("time (s)")
    axes.set_ylabel("bytes")
    right = axes.twinx()
    right.plot(series.time, [nan if value is None else value * 1000 for value in series.srtt], color="tab:green",
               marker=".", linewidth=1, label="srtt")
    right.plot(series.time, [nan if value is None else value * 1000 for value in series.rto], color="tab:gray",
               linewidth=1, linestyle=":", label="rto")
    right.set_ylabel("milliseconds")
    handles = axes.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    axes.legend(handles, [handle.get_label() for handle in handles], loc="upper left")
    axes.set_title(title or f"congestion window and RTT of {series.conn} ({series.host})")
    axes.grid(True, alpha=0.3)
    return figure


def save(figure, path) -> None:
    """Write ``figure`` as PNG or SVG (by ``path``'s suffix) and release it."""
    pyplot, _ = _pyplot()
    suffix = str(path)[str(path).rfind("."):].lower() if "." in str(path) else ""
    if suffix not in FORMATS:
        raise ValueError(f"{path}: a plot is written as {' or '.join(FORMATS)}")
    try:
        figure.savefig(path, format=suffix[1:], bbox_inches="tight")
    finally:
        pyplot.close(figure)
