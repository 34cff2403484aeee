"""The one number format for people: money, latency, tokens and rates, used by every face (pages
and CLI) so the same quantity never reads two ways (and no raw Python value such as True leaks out)."""

from __future__ import annotations

import math
from datetime import datetime


def plot_text(text: str) -> str:
    """A name as Plotly shows it: Plotly reads <b>, <a href=…> and entities in its labels, so a
    variant named `<a href=…>` was a working link on the chart; escaped, it reads as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def counted(n: int, noun: str) -> str:
    """'1 node', '2 nodes', '0 edges'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def nodes_and_edges(nodes: int, edges: int) -> str:
    """'7 nodes · 11 edges': a pipeline's size, as the list and the canvas show it."""
    return f"{counted(nodes, 'node')} · {counted(edges, 'edge')}"


def dollars(usd: float) -> str:
    """A USD amount: four decimals, or three significant digits of a tiny one
    (so $0.0000213 does not read as $0.0000)."""
    if usd == 0:
        return "$0"
    if abs(usd) >= 0.01:
        return f"${usd:,.4f}"
    decimals = -math.floor(math.log10(abs(usd))) + 2
    return f"${usd:.{decimals}f}".rstrip("0").rstrip(".")


def money(usd: float | None) -> str:
    """One call's cost: 'unpriced' when unknown (never $0), 'free' when zero, else dollars."""
    if usd is None:
        return "unpriced"
    return "free" if usd == 0 else dollars(usd)


def money_total(usd: float | None, unpriced: int | None = 0) -> str:
    """A sum over calls: the priced part plus how many calls had no price."""
    unpriced = int(unpriced or 0)
    if usd is None:
        return f"{unpriced:,} unpriced" if unpriced else "—"
    return f"{dollars(usd)} + {unpriced:,} unpriced" if unpriced else dollars(usd)


def latency(ms: float | None) -> str:
    """Milliseconds under ten seconds, seconds with one decimal above."""
    if ms is None:
        return "—"
    return f"{ms:,.0f} ms" if ms < 10_000 else f"{ms / 1000:,.1f} s"


def tokens(n: int | float | None) -> str:
    return "—" if n is None else f"{int(n):,}"


def rate(n: float | None) -> str:
    """A share such as an error rate."""
    return "—" if n is None else f"{n:.1%}"


def per_second(n: float | None) -> str:
    return "—" if n is None else f"{n:,.1f}/s"


def data_size(n: int | float) -> str:
    """Bytes in decimal units, as file managers show them: 812 bytes, 3.4 KB, 734 MB, 4.7 GB."""
    if n < 1000:
        return f"{n:,.0f} bytes"
    for unit, scale in (("KB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if n < scale * 1000 or unit == "GB":
            value = n / scale
            return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n:,.0f} bytes"


def when(t: datetime | str | None) -> str:
    """To the second; `t` may be the ISO text a read through the web app hands back (JSON)."""
    if isinstance(t, str):
        try:
            t = datetime.fromisoformat(t)
        except ValueError:
            return t
    return "—" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")
