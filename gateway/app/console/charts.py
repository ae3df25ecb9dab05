"""Bar charts drawn on the server as SVG (no script, no external assets; escaped text)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(bars: Sequence[tuple[str, float | None]], title: str, width: int = 640, bar_height: int = 22) -> str:
    """A horizontal bar chart: one labelled bar per ``(label, value)``; a value of ``None`` is drawn as «н/д»."""
    label_w, gap, pad = 70, 6, 8
    top = 28
    height = top + len(bars) * (bar_height + gap) + pad
    plot_w = width - label_w - 70
    peak = max((v for _, v in bars if v is not None), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}">',
        f'<text x="{pad}" y="18" class="chart-title">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = top + i * (bar_height + gap)
        parts.append(f'<text x="{pad}" y="{y + bar_height - 6}" class="chart-label">{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{label_w}" y="{y + bar_height - 6}" class="chart-na">н/д</text>')
            continue
        w = max(round(plot_w * value / peak), 1 if value else 0)
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_height}" class="chart-bar"/>')
        shown = f"{value:g}"
        parts.append(f'<text x="{label_w + w + 6}" y="{y + bar_height - 6}" class="chart-value">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)
