"""The emulator playing EPGU: consumer applications out, statuses in.

Applications are written here in the STAND-IN business XML of the enrolment service from
this module's own knowledge of ``schemas/standin/…xsd`` (never with the gateway's mapping),
validated against that copy, put in a SendRequestRequest signed with EPGU's key, and fed
through the same SendRequest path as any client's request.  Statuses the gateway sends
back (SendResponse to an EPGU request) are recorded with EPGU's check of their signature.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from emulators.smev3.protocol import DS_NS, SOAP_NS, Ns, schema_errors, standin_schema
from signing.keys import Signer
from signing.xmldsig import sign_element

STANDIN_NS = "urn://x-social-order-gateway/stand-in/epgu/dop-enrolment/1.0.0"
STANDIN_ROOT = "ApplicationRequest"
MNEMONIC = "EPGU_EMU"
NAME = "Единый портал государственных услуг (эмулятор)"

_SURNAMES = [("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"), ("Попов", "Попова"), ("Соколов", "Соколова")]
_BOYS = [("Артём", "Артёмович"), ("Максим", "Максимович"), ("Иван", "Иванович"), ("Лев", "Львович")]
_GIRLS = [("Анна", "Андреевна"), ("Мария", "Михайловна"), ("Софья", "Сергеевна"), ("Ева", "Евгеньевна")]


def snils(rng: random.Random) -> str:
    """A random SNILS with a correct check sum."""
    body = f"{rng.randrange(2_000_000, 999_999_999):09d}"
    total = sum(int(d) * (9 - i) for i, d in enumerate(body))
    check = total if total < 100 else (0 if total in (100, 101) else total % 101)
    check = 0 if check == 100 else check
    return f"{body[0:3]}-{body[3:6]}-{body[6:9]} {check:02d}"


def generate(rng: random.Random, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A synthetic application (invented people) with any fields from ``overrides``."""
    o = dict(overrides or {})
    girl = rng.random() < 0.5
    first, patronymic = rng.choice(_GIRLS if girl else _BOYS)
    surname = rng.choice(_SURNAMES)[1 if girl else 0]
    mother_first, mother_patr = rng.choice(_GIRLS)
    today = datetime.now(UTC).date()
    app: dict[str, Any] = {
        "order_id": str(rng.randrange(10**9, 10**10)),
        "oktmo": "41633101",
        "enrolment": True,
        "certificate": True,
        "child": {"last_name": surname, "first_name": first, "middle_name": patronymic,
                  "birth_date": (today - timedelta(days=rng.randrange(6 * 365, 17 * 365))).isoformat(),
                  "snils": snils(rng)},
        "applicant": {"last_name": surname if not girl else surname, "first_name": mother_first, "middle_name": mother_patr,
                      "snils": snils(rng), "relation": "parent", "phone": f"+79{rng.randrange(10**8, 10**9):09d}"},
        "programme": {"programme_id": "ROBO-01", "programme_name": "Робототехника для начинающих"},
        "consent": True,
    }  # fmt: skip
    for key in ("child", "applicant", "programme"):
        if isinstance(o.get(key), dict):
            app[key] = {**app[key], **o.pop(key)}
    app.update(o)
    return app


def _el(parent: etree._Element, name: str, value: Any) -> None:
    if value is None:
        return
    etree.SubElement(parent, f"{{{STANDIN_NS}}}{name}").text = ("true" if value else "false") if isinstance(value, bool) else str(value)


def application_xml(app: dict[str, Any], at: datetime | None = None) -> bytes:
    """The stand-in ``ApplicationRequest`` for ``app``; refuses what its own XSD copy refuses."""
    n = f"{{{STANDIN_NS}}}"
    root = etree.Element(n + STANDIN_ROOT, nsmap={"dop": STANDIN_NS})
    _el(root, "orderId", app["order_id"])
    _el(root, "orderTimestamp", (at or datetime.now(UTC)).isoformat(timespec="seconds"))
    _el(root, "oktmo", app["oktmo"])
    req = etree.SubElement(root, n + "requests")
    _el(req, "enrolment", bool(app.get("enrolment", True)))
    _el(req, "certificate", bool(app.get("certificate", False)))
    c = app["child"]
    child = etree.SubElement(root, n + "child")
    for xml_name, key in (("lastName", "last_name"), ("firstName", "first_name"), ("middleName", "middle_name"),
                          ("birthDate", "birth_date"), ("snils", "snils"), ("birthDocument", "birth_document")):  # fmt: skip
        _el(child, xml_name, c.get(key))
    a = app["applicant"]
    applicant = etree.SubElement(root, n + "applicant")
    for xml_name, key in (("lastName", "last_name"), ("firstName", "first_name"), ("middleName", "middle_name"),
                          ("snils", "snils"), ("relation", "relation"), ("phone", "phone"), ("email", "email")):  # fmt: skip
        _el(applicant, xml_name, a.get(key) if key != "relation" else a.get(key, "parent"))
    p = app["programme"]
    prog = etree.SubElement(root, n + "programme")
    _el(prog, "programmeId", p.get("programme_id"))
    _el(prog, "serviceCode", p.get("service_code"))
    _el(prog, "programmeName", p.get("programme_name"))
    if p.get("provider"):
        prov = etree.SubElement(prog, n + "provider")
        _el(prov, "name", p["provider"].get("name"))
        _el(prov, "inn", p["provider"].get("inn"))
    _el(root, "consentPersonalData", bool(app.get("consent", True)))
    schema = standin_schema()
    if not schema.validate(root):
        raise ValueError(f"заявление не соответствует схеме-заглушке: ошибок {len(schema_errors(schema))}")
    return bytes(etree.tostring(root, encoding="UTF-8"))


def send_request_envelope(ns: Ns, content: bytes, signer: Signer, message_id: str | None = None, test: bool = False) -> tuple[str, bytes]:
    """EPGU's SendRequestRequest, signed with its ЭП-ОВ: (MessageID, bytes)."""
    mid = message_id or str(uuid.uuid1())
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    etree.SubElement(env, f"{{{SOAP_NS}}}Header")
    body = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    op = etree.SubElement(body, ns.t("SendRequestRequest"), nsmap=ns.nsmap)  # type: ignore[arg-type]  # lxml-stubs type nsmap keys as str; lxml takes None for the default namespace
    data = etree.SubElement(op, ns.t("SenderProvidedRequestData"), Id="SIGNED_BY_CONSUMER")
    etree.SubElement(data, ns.t("MessageID")).text = mid
    holder = etree.SubElement(data, ns.b("MessagePrimaryContent"))
    holder.append(etree.fromstring(content))
    if test:
        etree.SubElement(data, ns.t("TestMessage"))
    etree.SubElement(op, ns.t("CallerInformationSystemSignature"))
    doc = bytes(etree.tostring(env, encoding="UTF-8", xml_declaration=True))
    return mid, sign_element(doc, "SIGNED_BY_CONSUMER", signer, into=ns.t("CallerInformationSystemSignature"))


def sign_sender_data(ns: Ns, data: bytes, signer: Signer) -> bytes:
    """A sender's ``ds:Signature`` over a SenderProvidedRequestData (by its ``Id``), as SMEV would pass it on."""
    element = etree.fromstring(data)
    element_id = element.get("Id") or ""
    op = etree.Element(ns.t("SendRequestRequest"), nsmap=ns.nsmap)  # type: ignore[arg-type]  # lxml-stubs type nsmap keys as str; lxml takes None for the default namespace
    op.append(element)
    etree.SubElement(op, ns.t("CallerInformationSystemSignature"))
    signed = etree.fromstring(sign_element(etree.tostring(op), element_id, signer, into=ns.t("CallerInformationSystemSignature")))
    signature = signed.find(f"{ns.t('CallerInformationSystemSignature')}/{{{DS_NS}}}Signature")
    assert signature is not None
    return bytes(etree.tostring(signature))


@dataclass
class StatusRecord:
    """A response EPGU received for one of its applications."""

    message_id: str
    original_message_id: str
    order_id: str | None
    kind: str  # status | rejected | content
    status_code: int | None
    description: str | None
    parameters: dict[str, str]
    signature: dict[str, Any]
    received_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


@dataclass
class Epgu:
    """EPGU's side: what it sent (MessageID → order id) and what came back."""

    sent: dict[str, str] = field(default_factory=dict)
    statuses: list[StatusRecord] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(20261123))

    def record(self, record: StatusRecord) -> None:
        self.statuses.append(record)

    def describe(self) -> dict[str, Any]:
        pairs: dict[tuple[str, int | None, str], int] = {}
        for s in self.statuses:
            key = (s.original_message_id, s.status_code, s.kind)
            pairs[key] = pairs.get(key, 0) + 1
        return {
            "total": len(self.statuses),
            "duplicates": sum(1 for n in pairs.values() if n > 1),
            "valid_signatures": sum(1 for s in self.statuses if s.signature.get("ok")),
            "items": [asdict(s) for s in self.statuses],
        }
