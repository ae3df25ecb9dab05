"""HTTP bodies: plain ``text/xml`` or MTOM ``multipart/related`` in, either out.

Written on aiohttp's own multipart reader and writer (not the adapter's code): the
root part is the envelope, ``xop:Include`` references are inlined as base64 before any
check, and answers can go out CXF-style as MTOM (real SMEV runs Apache CXF and may answer
``multipart/related`` even for an empty queue).
"""

from __future__ import annotations

import base64
import uuid
from urllib.parse import unquote

from aiohttp import hdrs, web
from lxml import etree

from emulators.smev3.protocol import XOP_NS
from signing.xml_parsing import parse_document

ROOT_CID = "root.message@cxf.apache.org"


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request's envelope bytes, with MTOM parts inlined."""
    ctype = request.headers.get(hdrs.CONTENT_TYPE, "")
    if not ctype.lower().startswith("multipart/"):
        data = await request.content.read(limit + 1)
        if len(data) > limit:
            raise ValueError("request too large")
        return data
    reader = await request.multipart()
    start = ctype.split("start=")[1].split(";")[0].strip('"<> ') if "start=" in ctype else ""
    root: bytes | None = None
    parts: dict[str, bytes] = {}
    total = 0
    while True:
        part = await reader.next()
        if part is None:
            break
        data = await part.read()  # type: ignore[union-attr]
        total += len(data)
        if total > limit:
            raise ValueError("request too large")
        cid = (part.headers.get("Content-ID") or "").strip().strip("<>")
        if root is None and (not start or cid == start):
            root = bytes(data)
        else:
            parts[cid] = bytes(data)
    if root is None:
        raise ValueError("no root part")
    return inline(root, parts)


def inline(xml: bytes, parts: dict[str, bytes]) -> bytes:
    if XOP_NS.encode() not in xml:
        return xml
    tree = parse_document(xml)
    for inc in list(tree.getroot().iter(f"{{{XOP_NS}}}Include")):
        href = unquote(inc.get("href") or "")
        cid = href[4:] if href.startswith("cid:") else href
        if cid not in parts:
            raise ValueError("xop:Include to a missing part")
        parent = inc.getparent()
        if parent is not None:
            parent.remove(inc)
            parent.text = base64.b64encode(parts[cid]).decode("ascii")
    return bytes(etree.tostring(tree, encoding="UTF-8", xml_declaration=True))


def xml_response(body: bytes, *, mtom: bool = False) -> web.Response:
    """The answer as ``text/xml`` or, CXF-style, as the root part of an MTOM multipart."""
    if not mtom:
        return web.Response(body=body, content_type="text/xml", charset="utf-8")
    boundary = "uuid:" + uuid.uuid4().hex
    payload = (
        f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\n"
        f"Content-Transfer-Encoding: binary\r\nContent-ID: <{ROOT_CID}>\r\n\r\n"
    ).encode() + body + f"\r\n--{boundary}--\r\n".encode()
    resp = web.Response(body=payload)
    resp.headers[hdrs.CONTENT_TYPE] = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; start="<{ROOT_CID}>"; start-info="text/xml"'
    )
    return resp
