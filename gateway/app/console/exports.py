"""The decree's indicator table as CSV (UTF-8 with BOM, ``;``: what a Russian spreadsheet opens) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

HEADER = ("Показатель", "Наименование", "Единица", "Вычисляется", "Значение", "Способ расчёта")
COMPUTABLE = {"yes": "да", "partial": "частично", "no": "нет"}


def rows(items: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (i["id"], i["text"], i.get("unit") or "", COMPUTABLE.get(i["computable"], i["computable"]), i["value"], i["method"])
        for i in items
    ]


def to_csv(items: Sequence[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows(items):
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(items: Sequence[Mapping[str, Any]], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Показатели"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True)
    sheet.append(list(HEADER))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows(items):
        sheet.append(list(row))
    for col, width in zip("ABCDEF", (11, 60, 12, 12, 10, 70), strict=True):
        sheet.column_dimensions[col].width = width
    for line in sheet.iter_rows(min_row=3):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
