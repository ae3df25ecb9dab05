"""SMEV 3 namespaces, paths, the official schemas, and MessageID rules — the emulator's own copy.

The emulator shares nothing with ``adapters/`` (an emulator that reused the adapter's code
would agree with its bugs), so the protocol facts it needs (namespaces per schema version,
endpoint paths, MessageID rules) are restated here from the official WSDL/XSD in
``schemas/``; ``docs/protocols.md`` describes the SMEV 3 envelope.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Protocol, cast

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
XS_NS = "http://www.w3.org/2001/XMLSchema"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
PATHS = {"1.1": "/transport_1_0_1/", "1.3": "/transport_1_0_2/"}
SIGNED_BY_SMEV = "SIGNED_BY_SMEV"
SIGNED_ASYNC_BY_SMEV = "SIGNED_ASYNC_BY_SMEV"
STALE_AFTER = timedelta(days=2)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_GREGORIAN_OFFSET = 0x01B21DD213814000  # 100-ns intervals between 1582-10-15 and 1970-01-01


@dataclass(frozen=True)
class Ns:
    """The namespaces of one schema version."""

    version: str

    @property
    def types(self) -> str:
        return f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/{self.version}"

    @property
    def basic(self) -> str:
        return f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/{self.version}"

    @property
    def faults(self) -> str:
        return f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/faults/{self.version}"

    def t(self, local: str) -> str:
        return f"{{{self.types}}}{local}"

    def b(self, local: str) -> str:
        return f"{{{self.basic}}}{local}"

    def f(self, local: str) -> str:
        return f"{{{self.faults}}}{local}"

    @property
    def nsmap(self) -> dict[str | None, str]:
        """The prefixes real SMEV answers use: basic as default, ns2 types, ns3 faults."""
        return {None: self.basic, "ns2": self.types, "ns3": self.faults}


def check_message_id(mid: str, now: datetime | None = None) -> str | None:
    """``None`` if ``mid`` is a fresh lower-case UUIDv1, else the fault's name."""
    if not _UUID.match(mid or ""):
        return "InvalidMessageIdFormat"
    u = uuid.UUID(mid)
    if u.version != 1:
        return "InvalidMessageIdFormat"
    issued = datetime.fromtimestamp((u.time - _GREGORIAN_OFFSET) / 1e7, UTC)
    t = now or datetime.now(UTC)
    if t - issued >= STALE_AFTER:
        return "StaleMessageId"
    if issued - t > timedelta(hours=1):
        return "InvalidMessageIdFormat"  # a "time-based" id from the future is not one
    return None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=4)
def envelope_schema(version: str) -> etree.XMLSchema:
    """The official types + faults XSD of ``version`` (imports resolve to the local copies)."""
    d = SCHEMAS / version
    wrapper = (
        f'<xs:schema xmlns:xs="{XS_NS}">'
        f'<xs:import namespace="{Ns(version).types}" schemaLocation="{(d / f"smev-message-exchange-types-{version}.xsd").as_uri()}"/>'
        f'<xs:import namespace="{Ns(version).faults}" schemaLocation="{(d / f"smev-message-exchange-faults-{version}.xsd").as_uri()}"/>'
        "</xs:schema>"
    )
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), _parser(), base_url=d.as_uri() + "/"))


@lru_cache(maxsize=4)
def void_faults(version: str) -> frozenset[str]:
    """Fault elements of type ``basic:Void`` (they must stay empty)."""
    tree = etree.parse(str(SCHEMAS / version / f"smev-message-exchange-faults-{version}.xsd"), _parser())
    return frozenset(e.get("name") or "" for e in tree.getroot().findall(f"{{{XS_NS}}}element") if (e.get("type") or "").endswith(":Void"))


@lru_cache(maxsize=1)
def standin_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "standin" / "dop-enrolment-standin-1.0.0.xsd"), _parser()))


class LogEntry(Protocol):
    """The fields of an lxml ``_LogEntry`` the emulator reads."""

    @property
    def message(self) -> str: ...

    @property
    def line(self) -> int: ...


def schema_errors(schema: etree._Validator) -> list[LogEntry]:
    """The entries of ``schema.error_log`` (after a failed ``validate``).

    lxml-stubs declare ``_ErrorLog`` as an empty class; at run time it is a sized,
    iterable sequence of ``_LogEntry``.
    """
    return list(cast("Iterable[LogEntry]", schema.error_log))


def validate(version: str, element: etree._Element) -> list[str]:
    """Errors of ``element`` (an operation element) against the official XSD; empty when valid."""
    schema = envelope_schema(version)
    if schema.validate(element):
        return []
    return [f"{e.message}" for e in schema_errors(schema)][:20]


def wsdl(version: str, base_url: str) -> bytes:
    """The official WSDL with its soap:address and schema locations pointing at this emulator."""
    text = (SCHEMAS / version / f"smev-message-exchange-service-{version}.wsdl").read_text(encoding="utf-8")
    text = re.sub(r'(<soap:address\s+location=")[^"]*(")', rf"\g<1>{base_url}\g<2>", text)
    return _relocate(text).encode("utf-8")


def xsd(version: str, name: str) -> bytes | None:
    path = SCHEMAS / version / name
    if "/" in name or not name.endswith(".xsd") or not path.is_file():
        return None
    return _relocate(path.read_text(encoding="utf-8")).encode("utf-8")


def _relocate(text: str) -> str:
    return re.sub(r'schemaLocation="(smev-[^"]+\.xsd)"', r'schemaLocation="?xsd=\1"', text)
