"""The matrix as a text table for ``gateway compliance``: one line per item, wide text shortened with «…»."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator

from gateway.features.compliance.model import Entry, Matrix

HEADERS = ("Пункт", "Текст постановления", "Обеспечение", "Что делает шлюз", "Тесты")
STATUS_TEXT = {"enforced": "обеспечен", "partial": "частично", "not_enforced": "нет"}
MIN_WIDTH = 100
GAP = "  "


def shorten(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` characters (cut with «…»)."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(width - 1, 0)].rstrip() + "…"


def _gateway_cell(entry: Entry) -> str:
    refs = ", ".join(str(r) for r in entry.enforced_by)
    if entry.not_enforced is None:
        return refs
    reason = f"не обеспечено: {entry.not_enforced}"
    return f"{refs}; {reason}" if refs else reason


def _tests_cell(entry: Entry) -> str:
    return ", ".join(node.rsplit("::", 1)[-1] for node in entry.tests) or "—"


def render(matrix: Matrix, width: int | None = None) -> Iterator[str]:
    """The header, a rule, a line per item and the counts; no line is wider than ``width``."""
    total = max(width or shutil.get_terminal_size((160, 24)).columns, MIN_WIDTH)
    item_w = max(len(HEADERS[0]), *(len(e.item) for e in matrix.items))
    status_w = max(len(HEADERS[2]), *(len(s) for s in STATUS_TEXT.values()))
    free = total - item_w - status_w - 4 * len(GAP)
    text_w, gateway_w = free * 35 // 100, free * 40 // 100
    tests_w = free - text_w - gateway_w
    widths = (item_w, text_w, status_w, gateway_w, tests_w)

    def line(cells: tuple[str, ...]) -> str:
        return GAP.join(shorten(c, w).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    yield line(HEADERS)
    yield GAP.join("-" * w for w in widths)
    for entry in matrix.items:
        yield line((entry.item, entry.text, STATUS_TEXT[entry.status], _gateway_cell(entry), _tests_cell(entry)))
    counts = Counter(e.status for e in matrix.items)
    yield (
        f"Пунктов: {len(matrix.items)}; обеспечено шлюзом: {counts['enforced']}; частично: {counts['partial']}; "
        f"не обеспечено: {counts['not_enforced']}."
    )
