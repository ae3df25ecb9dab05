"""Attachments: MTOM for small files, the SMEV file store (``RefAttachmentHeader``) for large ones.

Every file gets a detached CMS signature (``SignaturePKCS7`` in its header, inside the
signed data); a reference also carries the Streebog-256 hash of the file.  MTOM packing
is hand-written (a dozen lines: zeep would re-serialise the signed envelope); unpacking
uses requests-toolbelt's multipart decoder, which zeep itself depends on.  XOP parts are
inlined as base64 before any signature check (SMEV runs Apache CXF: even SignaturePKCS7
may arrive as an ``xop:Include``).

The real file store is FTP; :class:`HttpFileStore` talks to the emulator's HTTP file store.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import quote, unquote

import httpx
from lxml import etree
from requests_toolbelt.multipart.decoder import MultipartDecoder

from adapters.base import Attachment, PermanentError, TransientError
from adapters.gosuslugi.envelope import (
    XOP_NS,
    AttachmentContent,
    AttachmentHeader,
    Attachments,
    RefAttachmentHeader,
)
from adapters.gosuslugi.faults import SmevProtocolError
from adapters.gosuslugi.messages import FsAttachment, ReceivedAttachment, Trust
from signing import cms
from signing.keys import Signer
from signing.streebog import streebog256
from signing.xml_parsing import parse_document

_MIME = re.compile(r"^(text|image|audio|video|application)/[a-zA-Z0-9\-+.]*$")
ROOT_CID = "root.message@social-order-gateway"
_FILE_NS = uuid.UUID("0b7f3c2e-5a41-4d8e-9c61-2f4e8d9a7b15")  # names of attachments, see prepare()


class FileStore(Protocol):
    """SMEV's file store for attachments sent by reference."""

    async def upload(self, file_uuid: str, file_name: str, data: bytes) -> None: ...

    async def download(self, ref: FsAttachment) -> bytes: ...


class HttpFileStore:
    """The emulator's file store over HTTP (``PUT``/``GET {base}/{uuid}/{name}``, basic auth)."""

    def __init__(self, base_url: str, client: httpx.AsyncClient, user: str = "anonymous", password: str = "smev") -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.auth = (user, password)

    def _url(self, file_uuid: str, file_name: str) -> str:
        return f"{self.base_url}/{quote(file_uuid)}/{quote(file_name.lstrip('/'))}"

    async def upload(self, file_uuid: str, file_name: str, data: bytes) -> None:
        try:
            r = await self.client.put(self._url(file_uuid, file_name), content=data, auth=self.auth)
        except httpx.HTTPError as exc:
            raise TransientError("smev_file_store_unavailable", f"файловое хранилище СМЭВ недоступно: {type(exc).__name__}") from exc
        if r.status_code >= 300:
            raise TransientError("smev_file_store_error", f"файловое хранилище СМЭВ: HTTP {r.status_code}")

    async def download(self, ref: FsAttachment) -> bytes:
        try:
            r = await self.client.get(self._url(ref.uuid, ref.file_name), auth=(ref.user_name, ref.password))
        except httpx.HTTPError as exc:
            raise TransientError("smev_file_store_unavailable", f"файловое хранилище СМЭВ недоступно: {type(exc).__name__}") from exc
        if r.status_code >= 300:
            raise TransientError("smev_file_store_error", f"файловое хранилище СМЭВ: HTTP {r.status_code}")
        return r.content


def file_hash(data: bytes) -> str:
    """``Hash`` of a RefAttachmentHeader: base64 of Streebog-256."""
    return base64.b64encode(streebog256(data)).decode("ascii")


async def prepare(
    attachments: Sequence[Attachment],
    signer: Signer,
    *,
    threshold: int,
    file_store: FileStore | None,
) -> tuple[Attachments, dict[str, bytes]]:
    """Headers and contents for the envelope, plus the MIME parts by Content-ID.

    Files up to ``threshold`` bytes travel as MTOM parts, larger ones are uploaded to the
    file store first.  Content-IDs and file-store uuids are derived from each file's place
    and content, so a retry of the same message names its files the same (and re-uploads
    a large one under the same uuid).
    """
    headers: list[AttachmentHeader] = []
    refs: list[RefAttachmentHeader] = []
    contents: list[AttachmentContent] = []
    parts: dict[str, bytes] = {}
    for index, att in enumerate(attachments):
        stable = uuid.uuid5(_FILE_NS, f"{index}:{hashlib.sha256(att.content).hexdigest()}:{att.name}")
        if not _MIME.match(att.media_type):
            raise PermanentError("smev_attachment_mime_type", "тип вложения не допускается схемой СМЭВ")
        signature = att.signature if att.signature is not None else cms.sign_detached(att.content, signer)
        if len(att.content) <= threshold:
            cid = "a" + stable.hex
            headers.append(AttachmentHeader(cid, att.media_type, signature))
            contents.append(AttachmentContent(cid, att.content, mtom=True))
            parts[cid] = att.content
        else:
            if file_store is None:
                raise PermanentError("smev_file_store_missing", "большое вложение, а файловое хранилище СМЭВ не настроено")
            file_uuid = str(stable)
            await file_store.upload(file_uuid, att.name, att.content)
            refs.append(RefAttachmentHeader(file_uuid, file_hash(att.content), att.media_type, signature, att.name))
    return Attachments(headers, refs, contents), parts


def mtom_package(envelope: bytes, parts: dict[str, bytes]) -> tuple[bytes, str]:
    """A multipart/related MTOM message: the envelope (exact bytes) as root, then the parts."""
    boundary = "uuid:" + str(uuid.uuid4())
    crlf = b"\r\n"
    out = [
        b"--" + boundary.encode(),
        b'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"',
        b"Content-Transfer-Encoding: binary",
        b"Content-ID: <" + ROOT_CID.encode() + b">",
        b"",
        envelope,
    ]
    for cid, data in parts.items():
        out += [b"--" + boundary.encode(), b"Content-Type: application/octet-stream",
                b"Content-Transfer-Encoding: binary", b"Content-ID: <" + cid.encode() + b">", b"", data]  # fmt: skip
    body = crlf.join(out) + crlf + b"--" + boundary.encode() + b"--" + crlf
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<{ROOT_CID}>"; start-info="text/xml"'
    )
    return body, content_type


def _param(content_type: str, name: str) -> str | None:
    m = re.search(rf'{name}="?([^";]+)"?', content_type, re.IGNORECASE)
    return m.group(1) if m else None


def unpack(body: bytes, content_type: str) -> tuple[bytes, dict[str, bytes]]:
    """The root XML and the other parts by Content-ID; a plain XML body passes through."""
    if not content_type.lower().startswith("multipart/"):
        return body, {}
    try:
        decoder = MultipartDecoder(body, content_type)
    except Exception as exc:
        raise SmevProtocolError("smev_malformed_reply", "ответ СМЭВ: повреждённое сообщение multipart") from exc
    start = (_param(content_type, "start") or "").strip("<>")
    root: bytes | None = None
    parts: dict[str, bytes] = {}
    for part in decoder.parts:
        cid = part.headers.get(b"Content-ID", b"").decode("latin-1").strip().strip("<>")
        if root is None and (not start or cid == start):
            root = part.content
        else:
            parts[cid] = part.content
    if root is None:
        raise SmevProtocolError("smev_malformed_reply", "ответ СМЭВ: нет корневой части MTOM")
    return root, parts


def inline_xop(xml: bytes, parts: dict[str, bytes]) -> bytes:
    """Replace every ``xop:Include`` by the base64 of its part (a no-op without any)."""
    if b"http://www.w3.org/2004/08/xop/include" not in xml:
        return xml
    tree = parse_document(xml)
    for inc in list(tree.getroot().iter(f"{{{XOP_NS}}}Include")):
        href = unquote(inc.get("href") or "")
        cid = href[4:] if href.startswith("cid:") else href
        if cid not in parts:
            raise SmevProtocolError("smev_malformed_reply", "ссылка xop:Include на отсутствующую часть MTOM")
        parent = inc.getparent()
        if parent is None:
            continue
        parent.remove(inc)
        parent.text = base64.b64encode(parts[cid]).decode("ascii")
    return bytes(etree.tostring(tree, encoding="UTF-8", xml_declaration=xml.lstrip().startswith(b"<?xml")))


def check(att: ReceivedAttachment, trust: Trust, content: bytes | None = None) -> ReceivedAttachment:
    """The attachment with ``content`` set (for references) and its signature and hash checked."""
    data = content if content is not None else att.content
    if data is None:
        return att
    if att.by_reference and att.hash_b64 is not None and file_hash(data) != att.hash_b64.strip():
        return replace(att, content=data, signature_ok=False)
    if att.signature is None:
        return replace(att, content=data, signature_ok=None)
    try:
        reports = cms.verify_detached(att.signature, data, trusted=list(trust.anchors) or None, crl=list(trust.crls) or None)
        ok = bool(reports) and all(r.ok for r in reports)
    except cms.CMSError:
        ok = False
    return replace(att, content=data, signature_ok=ok)


@dataclass(frozen=True)
class Packed:
    """What goes on the wire: the body and its Content-Type."""

    body: bytes
    content_type: str


def pack(envelope: bytes, parts: dict[str, bytes]) -> Packed:
    if parts:
        body, ctype = mtom_package(envelope, parts)
        return Packed(body, ctype)
    return Packed(envelope, "text/xml; charset=utf-8")
