"""The only way this package parses XML: no DTD, no entities, no network, no DOCTYPE.

A document with a DOCTYPE is refused outright (entity expansion and external DTDs are
the classic attacks on signature verifiers).  Parsers are per thread because lxml
parser objects must not be shared between threads.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

__all__ = ["UnsafeXMLError", "parse_document", "parse_fragment"]


class UnsafeXMLError(ValueError):
    """The document is not well-formed or carries a DOCTYPE."""


class _Parsers(threading.local):
    def __init__(self) -> None:
        self.keep = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=False,
            remove_pis=False,
        )


_parsers = _Parsers()


def parse_document(data: bytes) -> etree._ElementTree:
    """Parse bytes into a tree; comments and PIs are kept (the SMEV transform needs them)."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("ожидаются байты XML")
    try:
        root = etree.fromstring(bytes(data), _parsers.keep)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXMLError(f"XML не разобран: {exc}") from exc
    tree = root.getroottree()
    info: Any = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UnsafeXMLError("XML с DOCTYPE не принимается")
    return tree


def parse_fragment(data: bytes) -> etree._Element:
    """Parse bytes we produced ourselves (transform output, signature templates)."""
    return parse_document(data).getroot()
