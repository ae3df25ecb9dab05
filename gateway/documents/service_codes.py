"""Registry numbers of the federal basic list of services (e.g. ``804200О.99.0.ББ52АЕ04000``).

The letters in these numbers are Cyrillic.  People type them with Latin look-alikes
(``O`` for ``О``, ``A`` for ``А``), lower case, or the digit ``0`` for the letter ``О``;
stored as typed, such a code would silently become a *new* code.  :func:`normalise`
maps every position of the fixed layout to its canonical character or refuses the
code; it never guesses beyond the one-to-one look-alike table.  Pure, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Layout of a registry number: D = digit, L = Cyrillic capital letter, '.' literal.
_LAYOUT = "DDDDDDL.DD.D.LLDDLLDDDDD"
CANONICAL_RE = re.compile(r"^\d{6}[А-ЯЁ]\.\d{2}\.\d\.[А-ЯЁ]{2}\d{2}[А-ЯЁ]{2}\d{5}$")

# Latin letters whose capital glyph is indistinguishable from a Cyrillic capital.
LATIN_TO_CYRILLIC = {
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К",
    "M": "М", "O": "О", "P": "Р", "T": "Т", "X": "Х", "Y": "У",
}  # fmt: skip
_CYRILLIC_UPPER = set("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ")
_DIGIT_LOOKALIKES = {"О": "0", "O": "0"}  # letter O typed where a zero belongs
_LETTER_LOOKALIKES_FROM_DIGITS = {"0": "О"}  # zero typed where the letter О belongs
_SPACES = re.compile(r"\s+")


class ServiceCodeError(ValueError):
    """A code that cannot be read as a registry number; ``code`` is the stable error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class NormalisedCode:
    value: str
    changed: bool


def normalise(raw: str) -> NormalisedCode:
    """Return the canonical Cyrillic form of ``raw`` or raise :class:`ServiceCodeError`."""
    text = _SPACES.sub("", raw).replace(",", ".")
    if len(text) != len(_LAYOUT):
        raise ServiceCodeError(
            "service_code_format",
            "Код услуги не соответствует формату реестрового номера (пример: 804200О.99.0.ББ52АЕ04000)",
        )
    out: list[str] = []
    for ch, kind in zip(text, _LAYOUT, strict=True):
        if kind == ".":
            if ch != ".":
                raise ServiceCodeError(
                    "service_code_format", "Код услуги не соответствует формату реестрового номера"
                )
            out.append(ch)
        elif kind == "D":
            upper = ch.upper()
            if ch.isascii() and ch.isdigit():
                out.append(ch)
            elif upper in _DIGIT_LOOKALIKES:
                out.append(_DIGIT_LOOKALIKES[upper])
            else:
                raise ServiceCodeError(
                    "service_code_format", "На месте цифры в коде услуги стоит другой знак"
                )
        else:
            upper = ch.upper()
            if upper in _CYRILLIC_UPPER:
                out.append(upper)
            elif upper in LATIN_TO_CYRILLIC:
                out.append(LATIN_TO_CYRILLIC[upper])
            elif ch in _LETTER_LOOKALIKES_FROM_DIGITS:
                out.append(_LETTER_LOOKALIKES_FROM_DIGITS[ch])
            elif upper.isascii() and upper.isalpha():
                raise ServiceCodeError(
                    "service_code_latin_letter",
                    "В коде услуги латинская буква без кириллического двойника; буквы кода должны быть кириллическими",
                )
            else:
                raise ServiceCodeError(
                    "service_code_format", "На месте буквы в коде услуги стоит другой знак"
                )
    value = "".join(out)
    assert CANONICAL_RE.fullmatch(value), value
    return NormalisedCode(value=value, changed=value != raw)


def is_canonical(code: str) -> bool:
    return bool(CANONICAL_RE.fullmatch(code))
