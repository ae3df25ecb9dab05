"""The SMEV transform ``urn://smev-gov-ru/xmldsig/transform``, byte for byte (pure, no I/O).

Reference semantics: the vendor's Java ``SmevTransformSpi`` (a StAX event loop) writing
through Woodstox (``docs/protocols.md`` describes the transform).  Written by hand because
no Python library implements it exactly (``imdeniil/smev-transform`` differs on elements
without a namespace and is not on PyPI in a maintained form), and a generic c14n writer
escapes differently.  The rules, as numbered in the docstrings below:

1. Only start tags, end tags and character data are written; the XML declaration,
   DOCTYPE, comments and processing instructions are dropped (they still separate text).
2. A text event made only of characters up to U+0020 is dropped; any other is kept
   verbatim (U+00A0 and other Unicode spaces are not blank).
3. Empty elements are written as ``<p:x></p:x>``.
4. Prefixes become ``ns1``, ``ns2``, … (one counter per run, never reused), declared where
   a URI is first needed among the currently open elements and forgotten when that
   element closes; original declarations are never copied.
5. Qualified attributes first, by namespace URI then local name; then unqualified ones by
   local name (UTF-16 code-unit order).
6. In a start tag: the element's own new declaration, then those made for its attributes
   (in attribute order), then the attributes.
7. Text escaping (Woodstox): ``&`` ``<`` CR escaped, ``>`` only in the positions Woodstox
   escapes it (at the start of a text or 512-character chunk, after ``]``, and in texts of
   12 characters or more after an escaped character).
8. Attribute escaping: ``& < " TAB LF CR`` escaped; ``>`` and ``'`` literal.
9. Elements without a namespace and attributes in the ``xml:`` namespace are refused (the
   reference implementation fails on them).

Two entry points:

* :func:`transform` takes the bytes of a document, as the reference tests do: comments
  and processing instructions separate text events.
* :func:`transform_element` takes an lxml element as exclusive c14n (without comments)
  would present it, which is the route inside a signature: comments vanish and the text
  around them is one event, processing instructions still separate text.  Walking the
  tree avoids serialising to c14n and re-parsing (the speed target is thousands of
  signatures per second); tests check that both routes agree.

CDATA sections are read as text (after exc-c14n they are text anyway; on raw input the
reference would write them back as CDATA, a case no reference test covers).
"""

from __future__ import annotations

import re

from lxml import etree

from signing.xml_parsing import parse_document

__all__ = ["TransformError", "transform", "transform_element", "escape_text", "escape_attribute"]

XML_NS = "http://www.w3.org/XML/1998/namespace"
_BLANK = "".join(chr(i) for i in range(0x21))
_TEXT_SPECIAL = re.compile(r"[&<>\r]")
_ATTR_SPECIAL = re.compile(r'[&<"\t\n\r]')
_ATTR_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xa;", "\r": "&#xd;"})
_TEXT_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", "\r": "&#xd;"})
_ESCAPED = {"&": "&amp;", "<": "&lt;", "\r": "&#xd;"}


class TransformError(ValueError):
    """The input cannot be transformed (the reference implementation fails on it)."""


def escape_attribute(value: str) -> str:
    """Rule 8: ``& < " TAB LF CR`` escaped; ``>`` and ``'`` literal."""
    if _ATTR_SPECIAL.search(value) is None:
        return value
    return value.translate(_ATTR_TABLE)


def _utf16_len(s: str) -> int:
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def escape_text(text: str) -> str:
    """Rule 7: Woodstox text escaping, including its conditional ``>``."""
    if _TEXT_SPECIAL.search(text) is None:
        return text
    if ">" not in text:
        return text.translate(_TEXT_TABLE)
    long_text = _utf16_len(text) >= 12
    out: list[str] = []
    pos = 0  # in UTF-16 code units
    prev = ""
    prev_escaped = False
    for ch in text:
        if ch == ">":
            if long_text:
                esc = pos % 512 == 0 or prev == "]" or prev_escaped
            else:
                esc = pos == 0 or prev == "]"
            out.append("&gt;" if esc else ">")
        else:
            rep = _ESCAPED.get(ch)
            esc = rep is not None
            out.append(rep if rep is not None else ch)
        prev_escaped = esc
        prev = ch
        pos += 2 if ord(ch) > 0xFFFF else 1
    return "".join(out)


def _utf16_key(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


class _Writer:
    """One transform run: the prefix counter and the stack of the transform's declarations."""

    __slots__ = ("out", "scope", "counter", "split_on_comments")

    def __init__(self, split_on_comments: bool) -> None:
        self.out: list[str] = []
        self.scope: dict[str, str] = {}
        self.counter = 0
        self.split_on_comments = split_on_comments

    def text(self, buf: str) -> None:
        if buf and buf.strip(_BLANK):
            self.out.append(escape_text(buf))

    def element(self, el: etree._Element) -> None:
        tag = el.tag
        if not isinstance(tag, str) or tag[:1] != "{":
            raise TransformError(f"элемент без пространства имён не поддерживается преобразованием СМЭВ: {tag!r}")
        uri, local = tag[1:].split("}", 1)
        scope = self.scope
        declared: list[str] = []
        prefix = scope.get(uri)
        head = ""
        if prefix is None:
            self.counter += 1
            prefix = f"ns{self.counter}"
            scope[uri] = prefix
            declared.append(uri)
            head = f' xmlns:{prefix}="{escape_attribute(uri)}"'
        attrib = el.attrib
        tail_attrs = ""
        if attrib:
            qualified: list[tuple[str, str, str]] = []
            plain: list[tuple[str, str]] = []
            for name, value in attrib.items():
                name = str(name)
                if name[:1] == "{":
                    auri, alocal = name[1:].split("}", 1)
                    if auri == XML_NS:
                        raise TransformError(f"атрибут xml:{alocal} не поддерживается преобразованием СМЭВ")
                    qualified.append((auri, alocal, str(value)))
                else:
                    plain.append((name, str(value)))
            parts: list[str] = []
            if qualified:
                if len(qualified) > 1:
                    qualified.sort(key=lambda a: (_utf16_key(a[0]), _utf16_key(a[1])))
                for auri, alocal, value in qualified:
                    ap = scope.get(auri)
                    if ap is None:
                        self.counter += 1
                        ap = f"ns{self.counter}"
                        scope[auri] = ap
                        declared.append(auri)
                        head += f' xmlns:{ap}="{escape_attribute(auri)}"'
                    parts.append(f' {ap}:{alocal}="{escape_attribute(value)}"')
            if len(plain) > 1:
                plain.sort(key=lambda a: _utf16_key(a[0]))
            for name, value in plain:
                parts.append(f' {name}="{escape_attribute(value)}"')
            tail_attrs = "".join(parts)
        qname = f"{prefix}:{local}"
        out = self.out
        out.append(f"<{qname}{head}{tail_attrs}>")
        buf = el.text or ""
        for child in el:
            ctag = child.tag
            if isinstance(ctag, str):
                self.text(buf)
                self.element(child)
                buf = child.tail or ""
            elif ctag is etree.Comment and not self.split_on_comments:
                buf += child.tail or ""  # exc-c14n without comments: one text event around it
            elif ctag is etree.Comment or ctag is etree.PI:
                self.text(buf)
                buf = child.tail or ""
            else:
                raise TransformError("ссылки на сущности не поддерживаются")
        self.text(buf)
        out.append(f"</{qname}>")
        for u in declared:
            del scope[u]


_TAGS: dict[str, tuple[str, str, str]] = {}
_HAS_MISC = etree.XPath("boolean(descendant::comment() | descendant::processing-instruction())")


def _split_tag(tag: object) -> tuple[str, str, str]:
    if not isinstance(tag, str) or tag[:1] != "{":
        raise TransformError(f"элемент без пространства имён не поддерживается преобразованием СМЭВ: {tag!r}")
    uri, local = tag[1:].split("}", 1)
    parts = (uri, local, escape_attribute(uri))
    if len(_TAGS) < 4096:
        _TAGS[tag] = parts
    return parts


def _attributes(items: list[tuple[str, str]], scope: dict[str, str], counter: int) -> tuple[str, str, list[str], int]:
    """Rules 5 and 6 for one start tag: (new declarations, attributes, declared URIs, counter)."""
    qualified: list[tuple[str, str, str]] = []
    plain: list[tuple[str, str]] = []
    for name, value in items:
        name = str(name)
        if name[:1] == "{":
            auri, alocal = name[1:].split("}", 1)
            if auri == XML_NS:
                raise TransformError(f"атрибут xml:{alocal} не поддерживается преобразованием СМЭВ")
            qualified.append((auri, alocal, str(value)))
        else:
            plain.append((name, str(value)))
    decls = ""
    declared: list[str] = []
    attrs: list[str] = []
    if qualified:
        if len(qualified) > 1:
            qualified.sort(key=lambda a: (_utf16_key(a[0]), _utf16_key(a[1])))
        for auri, alocal, value in qualified:
            ap = scope.get(auri)
            if ap is None:
                counter += 1
                ap = f"ns{counter}"
                scope[auri] = ap
                declared.append(auri)
                decls += f' xmlns:{ap}="{escape_attribute(auri)}"'
            attrs.append(f' {ap}:{alocal}="{escape_attribute(value)}"')
    if len(plain) > 1:
        plain.sort(key=lambda a: _utf16_key(a[0]))
    for name, value in plain:
        attrs.append(f' {name}="{escape_attribute(value)}"')
    return decls, "".join(attrs), declared, counter


def _fast(el: etree._Element) -> str:
    """The transform for a subtree without comments or PIs: one C-level ``iterwalk``.

    Same output as :class:`_Writer` (tests check it) with less Python per element,
    which is what makes thousands of XML signatures per second possible.
    """
    out: list[str] = []
    append = out.append
    scope: dict[str, str] = {}
    stack: list[object] = []
    push = stack.append
    pop = stack.pop
    counter = 0
    tags = _TAGS
    blank = _BLANK
    special = _TEXT_SPECIAL.search
    for event, e in etree.iterwalk(el, events=("start", "end")):
        if event == "start":
            tag = e.tag
            parts = tags.get(tag) if isinstance(tag, str) else None
            if parts is None:
                parts = _split_tag(tag)
            uri = parts[0]
            prefix = scope.get(uri)
            declared: object = None
            if prefix is None:
                counter += 1
                prefix = f"ns{counter}"
                scope[uri] = prefix
                qn = prefix + ":" + parts[1]
                head = "<" + qn + " xmlns:" + prefix + '="' + parts[2] + '"'
                declared = uri
            else:
                qn = prefix + ":" + parts[1]
                head = "<" + qn
            items = e.items()
            if len(items) == 1 and items[0][0][:1] != "{":
                name, value = items[0]
                head += f' {name}="{escape_attribute(value)}"'
            elif items:
                decls, attrs, more, counter = _attributes(items, scope, counter)
                head += decls + attrs
                if more:
                    declared = [uri, *more] if declared is not None else more
            append(head + ">")
            push(qn)
            push(declared)
            text = e.text
            if text and text.strip(blank):
                append(escape_text(text) if special(text) else text)
        else:
            declared = pop()
            append("</" + str(pop()) + ">")
            if declared is not None:
                if isinstance(declared, str):
                    del scope[declared]
                else:
                    for u in declared:  # type: ignore[attr-defined]
                        del scope[u]
            if stack:
                text = e.tail
                if text and text.strip(blank):
                    append(escape_text(text) if special(text) else text)
    return "".join(out)


def _walk(el: etree._Element, split_on_comments: bool) -> bytes:
    if not _HAS_MISC(el):
        return _fast(el).encode("utf-8")
    w = _Writer(split_on_comments)
    w.element(el)
    return "".join(w.out).encode("utf-8")


def transform(data: bytes) -> bytes:
    """Apply the transform to the bytes of a whole document (the reference tests' route)."""
    return _walk(parse_document(data).getroot(), split_on_comments=True)


def transform_element(el: etree._Element) -> bytes:
    """Apply the transform to exc-c14n(``el``) without serialising it (the signature route)."""
    return _walk(el, split_on_comments=False)


def transform_element_general(el: etree._Element, split_on_comments: bool = False) -> bytes:
    """The general (slower) walker, always; tests compare it with the fast path."""
    w = _Writer(split_on_comments)
    w.element(el)
    return "".join(w.out).encode("utf-8")
