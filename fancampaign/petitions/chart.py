"""Signatures over time as a small server-rendered SVG (no script, no inline style)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

WIDTH = 600
HEIGHT = 160
PAD_BOTTOM = 20
PAD_TOP = 16


def bar_chart(days: list[tuple[date, int]]) -> Markup:
    """Daily bars with the first and last date and the busiest day's figure as labels.

    Decorative for screen readers (aria-hidden): the page gives the same figures as a table.
    """
    if not days:
        return Markup("")
    peak = max(n for _d, n in days) or 1
    slot = WIDTH / len(days)
    bar = max(slot * 0.8, 1.0)
    usable = HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-hidden="true" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<line class="chart__axis" x1="0" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - PAD_BOTTOM}"/>',
    ]
    for i, (day, n) in enumerate(days):
        h = round(usable * n / peak, 2)
        x = round(i * slot + (slot - bar) / 2, 2)
        y = round(HEIGHT - PAD_BOTTOM - h, 2)
        parts.append(
            f'<rect class="chart__bar" x="{x}" y="{y}" width="{round(bar, 2)}" height="{h}">'
            f"<title>{escape(day.isoformat())}: {n:,}</title></rect>"
        )
    first, last = days[0][0], days[-1][0]
    baseline = HEIGHT - 4
    parts.append(
        f'<text class="chart__label" x="0" y="{baseline}">{escape(first.strftime("%-d %b"))}</text>'
    )
    parts.append(
        f'<text class="chart__label" x="{WIDTH}" y="{baseline}" text-anchor="end">'
        f"{escape(last.strftime('%-d %b'))}</text>"
    )
    parts.append(f'<text class="chart__label" x="0" y="12">peak {peak:,} a day</text>')
    parts.append("</svg>")
    # Every interpolated value above is a number or passed through escape().
    return Markup("".join(parts))  # noqa: S704
