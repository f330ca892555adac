"""Charts drawn on the server as inline SVG: no JavaScript chart library, nothing to download, readable
by screen readers (role=img with a title and a description) and always next to a data table.
Presentation attributes only (fill, stroke): the Content-Security-Policy forbids inline styles."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

BAR = "#0a4a82"
SUPPRESSED = "#c5ccd6"
INK = "#1b1f24"
GRID = "#c5ccd6"
_ids = itertools.count(1)


@dataclass
class Row:
    label: str
    value: float | None          # None: withheld (small cell suppressed)
    display: str                 # the value as shown (formatted for the locale)


def bar_chart(title: str, rows: list[Row], *, description: str, suppressed_text: str, width: int = 720) -> Markup:
    """Horizontal bars, one per row, labelled with their value; withheld values drawn as an outline."""
    n = next(_ids)
    label_w, value_w, bar_h, gap, top = 270, 150, 22, 8, 8
    plot_w = width - label_w - value_w
    height = top * 2 + max(len(rows), 1) * (bar_h + gap)
    peak = max([r.value for r in rows if r.value is not None] or [1]) or 1
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
              f'height="{height}" role="img" aria-labelledby="chart-{n}-title chart-{n}-desc" focusable="false">'),
             f'<title id="chart-{n}-title">{escape(title)}</title>',
             f'<desc id="chart-{n}-desc">{escape(description)}</desc>',
             f'<line x1="{label_w}" y1="{top - 4}" x2="{label_w}" y2="{height - top + 4}" stroke="{GRID}"/>']
    for i, row in enumerate(rows):
        y = top + i * (bar_h + gap)
        text_y = y + bar_h * 0.7
        label = row.label if len(row.label) <= 36 else row.label[:35] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{text_y:.1f}" text-anchor="end" font-size="13" fill="{INK}">'
                     f'{escape(label)}<title>{escape(row.label)}</title></text>')
        if row.value is None:
            parts.append(f'<rect x="{label_w + 1}" y="{y}" width="{plot_w * 0.15:.1f}" height="{bar_h}" fill="none" '
                         f'stroke="{SUPPRESSED}" stroke-dasharray="4 3"/>')
            parts.append(f'<text x="{label_w + plot_w * 0.15 + 8:.1f}" y="{text_y:.1f}" font-size="13" fill="{INK}">'
                         f'{escape(suppressed_text)}</text>')
            continue
        w = max(plot_w * (row.value / peak), 2 if row.value else 0)
        parts.append(f'<rect x="{label_w + 1}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{BAR}">'
                     f'<title>{escape(row.label)}: {escape(row.display)}</title></rect>')
        parts.append(f'<text x="{label_w + w + 8:.1f}" y="{text_y:.1f}" font-size="13" fill="{INK}">'
                     f'{escape(row.display)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
