"""Which characters a document's text may hold: only what its canonical XML can carry.

A document is stored as JSON and later rendered, signed and sent as XML 1.0, so a string
accepted at submission must survive all three.  XML 1.0 cannot carry the C0 controls
except tab, line feed and carriage return, lone surrogates or U+FFFE/U+FFFF; PostgreSQL
text cannot hold U+0000.  DEL and the C1 controls (U+007F–U+009F, NEL among them) are legal
XML but are never text a person typed and break the systems downstream, so they are
refused too.  Refused text is named by JSON pointer only: it may be a child's data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gateway.documents.walk import escape

#: Characters no document string may hold.
NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: Characters no one-line value (query parameter, path segment, header, key) may hold: the above and tab, CR, LF.
NOT_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

CODE = "character_not_allowed"
VALUE_DETAIL = (
    "Значение содержит недопустимый символ (управляющий символ, одиночный суррогат, U+FFFE или U+FFFF): "
    "такой текст не передаётся в XML"
)
KEY_DETAIL = "Имя поля в этом объекте содержит недопустимый символ"


def has_unsafe_text(value: str) -> bool:
    return NOT_IN_TEXT.search(value) is not None


def unsafe_text(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """``(pointer, detail)`` for each string of a JSON value (keys included) that holds a refused character.

    A refused key is reported at its object's pointer and its value is not entered, so no
    pointer carries the refused character.  Iterative: the depth of the value does not matter.
    """
    stack: list[tuple[str, Any]] = [(pointer, value)]
    while stack:
        here, node = stack.pop()
        if isinstance(node, str):
            if NOT_IN_TEXT.search(node):
                yield here, VALUE_DETAIL
        elif isinstance(node, dict):
            children = []
            bad_key = False
            for key, child in node.items():
                if isinstance(key, str) and NOT_IN_TEXT.search(key):
                    bad_key = True
                    continue
                children.append((f"{here}/{escape(str(key))}", child))
            if bad_key:
                yield here, KEY_DETAIL
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{here}/{i}", child) for i, child in enumerate(node)]))
