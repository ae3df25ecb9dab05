"""Is a provider one of the excluded types of educational organisation?  Pure, no I/O.

The decrees exclude «образовательных организаций дополнительного образования детей со
специальными наименованиями «детская музыкальная школа», …» (000 it. 4, 001 it. 4,
002 it. 3(2), 003 it. 6, 004 it. 4): an organisation that *is* such a school, whatever
number, patron or town follows the special name in its name.  So a category matches a name
when its words occur, as whole words and in the same form, among the name's words once both
are normalised: case, ё/е, quotes, hyphens, «№», punctuation, invisible characters and Latin
look-alike letters inside Cyrillic words do not count.  The form does count: «при детской
музыкальной школе» names another organisation the provider is attached to, not its own type.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Lower-case Latin letters that stand in for Cyrillic ones (upper or lower case look the same).
_LATIN_TO_CYRILLIC = str.maketrans("aeopcxykmthb", "аеорсхукмтнв")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")
# A word is a run of letters or a run of digits: «школа№2», «школа2» give «школа», «2».
_WORD = re.compile(r"[^\W\d_]+|\d+")
# Dropped, not turned into a space: they never separate words (soft hyphen, zero-width
# characters, combining accents left after composition).
_INVISIBLE = {"Cf", "Mn", "Me"}


def name_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` in the form names are compared in."""
    text = unicodedata.normalize("NFKC", text.replace("№", " "))
    text = unicodedata.normalize("NFKC", text.casefold())
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    text = text.replace("ё", "е")
    words = []
    for word in _WORD.findall(text):
        if _CYRILLIC.search(word) and _LATIN.search(word):
            word = word.translate(_LATIN_TO_CYRILLIC)
        words.append(word)
    return tuple(words)


def normalise_name(text: str) -> str:
    """``text`` as normalised words separated by single spaces; normalising twice changes nothing."""
    return " ".join(name_words(text))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return n > 0 and any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


def excluded_category(name: str | None, categories: Iterable[str]) -> str | None:
    """The first of ``categories`` (as given) that ``name`` bears, or ``None``."""
    if not name:
        return None
    words = name_words(name)
    return next((c for c in categories if _contains(words, name_words(c))), None)
