"""Every indicator row's text is its decree's own wording, row by row (docs/decrees.md §6).

The decrees print the indicator table (000, 002, 004 App. 3; 001 App. 5; 003 the table
approved by it. 2.3) without row numbers: a row is known by its goal («1.», «2.», …) and
its place under that goal.  The ids 1.1 … 5.3 are the template's (``_defaults.yaml``), so a
decree's rows under goal N are matched, in order, with the profile's rows N.x that are not
``absent``; the indicator type (Процесс, Промежуточный результат, …) confirms each match.

The seeds come in two layouts: one table row per line with tab-separated cells, broken
across pages where the header is printed again (000, 003), or one cell per line, each
starting with a tab, seven cells to a row (001, 002, 004).  The texts are compared with
whitespace normalised and footnote marks (¹ ² ³) left out.  Without ``../shared/seeds``
beside the repository the comparison is skipped; the rules below it need no seeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from gateway.core.settings import Settings
from gateway.features.indicators.table import Facts, compute
from gateway.municipalities import Profile, load_profiles
from tests.support.decrees import SEEDS

PROFILES = load_profiles(Settings().municipalities_dir)
COLUMNS = 7  # № п/п | Цель | Тип индикатора | Индикатор | Базовая величина | Целевой ориентир | Ответственный

# The template's indicator type of every row (000 App. 3); sub-rows («из них …») have none.
TEMPLATE_TYPES = {
    "1.1": "Процесс", "1.2": "Промежуточный результат", "1.3": "Итоговый результат", "1.4": "",
    "2.1": "Процесс", "2.2": "Промежуточный результат", "2.3": "", "2.4": "Итоговый результат",
    "3.1": "Процесс", "3.2": "Промежуточный результат", "3.3": "", "3.4": "Итоговый результат", "3.5": "",
    "4.1": "Процесс", "4.2": "Процесс", "4.3": "Процесс", "4.4": "Промежуточный результат",
    "4.5": "Итоговый результат",
    "5.1": "Процесс", "5.2": "Промежуточный результат", "5.3": "Итоговый результат",
}  # fmt: skip

_FOOTNOTE = re.compile(r"\s*[¹²³\ufffd]\s*")
_SPACE_BEFORE_COMMA = re.compile(r"\s+,")


def normalise(text: str) -> str:
    """Whitespace collapsed; footnote marks and the line breaks they leave before a comma dropped."""
    text = _FOOTNOTE.sub(" ", text)
    return _SPACE_BEFORE_COMMA.sub(",", " ".join(text.split()))


@dataclass
class DecreeRow:
    goal: int
    type: str
    text: str


class TableNotFound(AssertionError):
    """The seed has no indicator table in a layout this parser reads."""


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and cells[0].strip().startswith("№") and any("Тип индикатора" in c for c in cells)


def _goal(cell: str, current: int) -> int:
    match = re.fullmatch(r"\s*(\d+)\.?\s*", cell)
    return int(match.group(1)) if match else current


def _tab_rows(lines: list[str]) -> list[DecreeRow]:
    """One row per line (000, 003); a row broken by a page break goes on after the repeated header."""
    start = next((i for i, line in enumerate(lines) if _is_header(line.split("\t"))), None)
    if start is None:
        raise TableNotFound("no header line with «Тип индикатора»")
    rows: list[DecreeRow] = []
    goal, after_header = 0, False
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) == 1:
            if line.lstrip()[:1] in "¹²³":  # footnotes printed at the page foot
                continue
            break  # the first line of text after the table
        if _is_header(cells):
            after_header = True
            continue
        if [c for c in cells if c] == [str(n) for n in range(1, COLUMNS + 1)]:
            continue  # the column numbers under the first header
        cells += [""] * (COLUMNS - len(cells))
        number, _, kind, text = cells[:4]
        continues = (
            after_header and rows and not number and not kind[:1].isupper()
            and not text[:1].isupper() and not text.startswith("из них")
        )  # fmt: skip
        after_header = False
        if continues:
            rows[-1].type = f"{rows[-1].type} {kind}".strip()
            rows[-1].text = f"{rows[-1].text} {text}"
            continue
        goal = _goal(number, goal)
        rows.append(DecreeRow(goal, kind, text))
    return rows


def _cells(lines: list[str]) -> list[str]:
    """Cells of the one-cell-per-line layout: a line starting with a tab opens a cell, others go on."""
    cells: list[str] = []
    for line in lines:
        if line.startswith("\t"):
            cells.append(line[1:])
        elif cells:
            cells[-1] += "\n" + line
    return [c.strip() for c in cells]


def _cell_rows(lines: list[str]) -> list[DecreeRow]:
    """Seven cells to a row (001, 002, 004), after the header and the column numbers 1–7."""
    cells = _cells(lines)
    at = next((i for i, c in enumerate(cells) if c == "Тип индикатора"), None)
    if at is None:
        raise TableNotFound("no header cell «Тип индикатора»")
    first = at + (COLUMNS - 2) + COLUMNS  # the header's last four cells, then the seven column numbers
    if cells[first - COLUMNS : first] != [str(n) for n in range(1, COLUMNS + 1)]:
        raise TableNotFound(f"column numbers 1–{COLUMNS} not found under the header")
    rows: list[DecreeRow] = []
    goal = 0
    for i in range(first, len(cells) - COLUMNS + 1, COLUMNS):
        number, _, kind, text = cells[i : i + 4]
        if number and not re.fullmatch(r"\d+\.?", number):
            break  # past the table: the next appendix
        goal = _goal(number, goal)
        rows.append(DecreeRow(goal, " ".join(kind.split()), text))
    return rows


def decree_rows(text: str) -> list[DecreeRow]:
    """The indicator table's rows in the order printed; the layout is recognised by its header."""
    lines = text.splitlines()
    one_line_header = any(_is_header(line.split("\t")) for line in lines)
    rows = _tab_rows(lines) if one_line_header else _cell_rows(lines)
    if not rows or [r for r in rows if not r.text]:
        raise TableNotFound("an empty indicator cell: the table was not read")
    return rows


def seed_text(profile: Profile) -> str:
    seed = profile.decree.seed_file
    if seed is None or not (SEEDS / seed).is_file():
        pytest.skip(f"текст постановления {seed} не найден в {SEEDS.resolve()} (../shared/seeds)")
    return (SEEDS / seed).read_text(encoding="utf-8")


def profile_rows(profile: Profile) -> dict[int, list[str]]:
    assert profile.indicators is not None
    out: dict[int, list[str]] = {}
    for row_id in sorted(profile.indicators.rows, key=lambda r: tuple(map(int, r.split(".")))):
        if not profile.indicators.rows[row_id].absent:
            out.setdefault(int(row_id.split(".")[0]), []).append(row_id)
    return out


# --------------------------------------------------------------------------- with the seeds
@pytest.mark.parametrize("municipality", sorted(PROFILES))
def test_every_indicator_row_is_the_decrees_own_text(municipality: str) -> None:
    """000 App. 3, 001 App. 5, 002 App. 3, 003 the table of it. 2.3, 004 App. 3: row by row."""
    profile = PROFILES[municipality]
    assert profile.indicators is not None
    rows = decree_rows(seed_text(profile))
    ids = profile_rows(profile)
    by_goal: dict[int, list[DecreeRow]] = {}
    for row in rows:
        by_goal.setdefault(row.goal, []).append(row)
    assert sorted(by_goal) == sorted(ids) == [1, 2, 3, 4, 5], (municipality, sorted(by_goal))
    for goal, printed in by_goal.items():
        assert len(printed) == len(ids[goal]), (municipality, goal, [r.text[:40] for r in printed])
        for row_id, row in zip(ids[goal], printed, strict=True):
            assert normalise(row.type) == TEMPLATE_TYPES[row_id], (municipality, row_id, row.type)
            assert normalise(profile.indicators.rows[row_id].text) == normalise(row.text), (municipality, row_id)


def test_the_parser_reads_both_layouts() -> None:
    """The table is found and read in every seed: 21 rows in 000, 003, 004; 20 in 001; 19 in 002."""
    counts = {}
    for municipality, profile in PROFILES.items():
        counts[municipality] = len(decree_rows(seed_text(profile)))
    assert counts == {"leninogorsk": 21, "luga": 20, "livny": 19, "kirovsky": 21, "omsk": 21}


# --------------------------------------------------------------------------- without the seeds
def _texts(municipality: str) -> dict[str, str]:
    items = compute(PROFILES[municipality], 2024, Facts())
    return {item["id"]: item["text"] for item in items}


@pytest.mark.parametrize("municipality", ["luga", "livny"])
def test_row_2_4_excludes_only_municipal_institutions_in_luga_and_livny(municipality: str) -> None:
    """001 App. 5 and 002 App. 3, row 2.4: «не являющихся муниципальными учреждениями» (not «государственными или»)."""
    text = _texts(municipality)["2.4"]
    assert "не являющихся муниципальными учреждениями" in " ".join(text.split())
    assert "государственными" not in text


def test_kirovsky_row_2_4_keeps_the_decrees_missing_or() -> None:
    """003 table row 2.4 prints «не являющихся государственными муниципальными учреждениями» [sic]: kept as printed."""
    assert "не являющихся государственными муниципальными учреждениями" in _texts("kirovsky")["2.4"]


@pytest.mark.parametrize(
    ("municipality", "row_id", "words"),
    [
        ("livny", "1.1", "оказывающих муниципальные услуги в социальной сфере, которым предоставляется поддержка"),  # 002 App. 3
        ("livny", "4.5", "определенная в ходе указанного мониторинга, процент"),  # 002 App. 3
        ("luga", "2.1", "Уточнение/доработка актов администрации Лужского муниципального района"),  # 001 App. 5
        ("luga", "4.5", "проводимого структурным подразделением (уполномоченными лицами), процент"),  # 001 App. 5
        ("luga", "1.2", "в социальной сфере, единиц."),  # 001 App. 5: the decree's full stop
        ("omsk", "2.1", "с учетом механизмов, предусмотренных Федеральным законом"),  # 004 App. 3
    ],
)
def test_rows_worded_differently_from_the_template(municipality: str, row_id: str, words: str) -> None:
    text = " ".join(_texts(municipality)[row_id].split())
    assert words in text
    template = " ".join(_texts("leninogorsk")[row_id].split())
    assert text != template


def test_rows_missing_from_a_decree_are_not_listed() -> None:
    """001 App. 5 has no row 4.3; 002 App. 3 has no rows 2.1 and 4.3."""
    assert "4.3" not in _texts("luga")
    assert {"2.1", "4.3"}.isdisjoint(_texts("livny"))
    assert {"2.1", "4.3"} <= set(_texts("kirovsky"))


def test_no_profile_names_a_row_the_template_lacks() -> None:
    for profile in PROFILES.values():
        assert profile.indicators is not None
        assert set(profile.indicators.rows) <= set(TEMPLATE_TYPES), profile.id
